-- Database rules that schema.prisma cannot express. The migrations create them too; the drift
-- test (tests/db/migrations.test.ts) applies this file after the schema's own script and compares.

-- A balance never goes below zero, whatever the code does
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_balance_non_negative" CHECK ("balance" >= 0);

-- At most one live (not CANCELLED or EXPIRED) subscription per user and service
CREATE UNIQUE INDEX "subscriptions_live_user_service_key" ON "subscriptions"("userId", "serviceId") WHERE "status" NOT IN ('CANCELLED', 'EXPIRED');

-- Transaction numbers TRX-YYYYMM-000001
CREATE SEQUENCE "transaction_number_seq";

-- The node search (workers.list.ts): one trigram index on the searched columns joined by newlines
CREATE INDEX "worker_nodes_search_trgm_idx" ON "worker_nodes" USING GIN (("name" || E'\n' || "hostname" || E'\n' || "ipAddress" || E'\n' || "operatingSystem" || E'\n' || "architecture" || E'\n' || "cpuArchitecture") gin_trgm_ops);
