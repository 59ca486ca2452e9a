-- A node that has never sent a heartbeat has no last heartbeat. The column used to default to the
-- creation time, so a node registered a moment ago was listed and counted as online. Online means
-- that a heartbeat arrived within the grace period. The column stays without an index, so that
-- heartbeats remain HOT updates.
-- Prisma's driver adapter runs a script statement by statement, hence the explicit transaction
-- (and no semicolon in these comments: it splits the script at every one).

BEGIN;

-- AlterTable
ALTER TABLE "worker_nodes" ALTER COLUMN "lastHeartbeat" DROP NOT NULL,
ALTER COLUMN "lastHeartbeat" DROP DEFAULT;

-- Nodes that never sent one: Prisma filled both columns from one reading of the clock at creation,
-- while a heartbeat writes the clock of the database, so equal values mean no heartbeat ever came.
UPDATE "worker_nodes" SET "lastHeartbeat" = NULL WHERE "lastHeartbeat" = "createdAt";

COMMIT;
