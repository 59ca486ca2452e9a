-- GET /users?search= is `name ILIKE '%…%' OR email ILIKE '%…%'`. Without trigram indexes every
-- search reads all users (8 ms for 10,000), with them it is two small index lookups.

-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm";

-- CreateIndex
CREATE INDEX "users_name_trgm_idx" ON "users" USING GIN ("name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "users_email_trgm_idx" ON "users" USING GIN ("email" gin_trgm_ops);
