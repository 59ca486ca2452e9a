-- Heartbeats rewrite "lastHeartbeat" thousands of times a second. Without an index on it (and with
-- free space left on each page) those writes are HOT updates that touch no index at all.

-- DropIndex
DROP INDEX "worker_nodes_lastHeartbeat_idx";

-- CreateIndex
CREATE INDEX "worker_nodes_totalStorage_idx" ON "worker_nodes"("totalStorage");

-- Storage parameter, not expressible in schema.prisma (Prisma ignores it when comparing schemas)
ALTER TABLE "worker_nodes" SET (fillfactor = 70);
