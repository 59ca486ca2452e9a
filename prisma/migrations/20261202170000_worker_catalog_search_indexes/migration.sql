-- GET /workers?search= and the catalog searches are `ILIKE '%…%'` over several columns. Without
-- trigram indexes every search read the whole table (about 0.4 s of database time per request at
-- 100,000 nodes).

-- CreateIndex
CREATE INDEX "service_catalog_search_trgm_idx" ON "service_catalog" USING GIN ("name" gin_trgm_ops, "displayName" gin_trgm_ops, "slug" gin_trgm_ops, "description" gin_trgm_ops, "category" gin_trgm_ops);

-- The node search reads one expression, the six columns joined by newlines (workers.list.ts), not
-- six: node names and host names share most of their trigrams ("node", "cluster", the common
-- prefix), whose long posting lists a lookup walks, once per column searched. One lookup took
-- half the time of the six at 100,000 nodes. The statement keeps the per-column conditions too,
-- for a search text with a newline. Heartbeats stay HOT: an UPDATE that writes the architecture
-- or OS a node already has changes no indexed value (schema-extras.sql has the same index).
CREATE INDEX "worker_nodes_search_trgm_idx" ON "worker_nodes" USING GIN (("name" || E'\n' || "hostname" || E'\n' || "ipAddress" || E'\n' || "operatingSystem" || E'\n' || "architecture" || E'\n' || "cpuArchitecture") gin_trgm_ops);
