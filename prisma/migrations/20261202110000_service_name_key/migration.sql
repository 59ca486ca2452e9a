-- Service names are unique as people read them: "Ghost", "GHOST" and a full-width "Ｇｈｏｓｔ" are
-- one name. The API stores the key of every name it writes (NFKC, case-folded: src/lib/text.ts).

-- AlterTable
ALTER TABLE "service_catalog" ADD COLUMN     "nameKey" TEXT;

-- Existing rows get the database's own NFKC and lower-casing. Should two of them now compare equal
-- (full-width twins the old case-insensitive check let through), the older keeps the key and the
-- other has its id appended, so the index can be built (an administrator can then rename it).
UPDATE "service_catalog" s
SET "nameKey" = k.key || CASE WHEN k.n > 1 THEN ' #' || s.id ELSE '' END
FROM (
  SELECT id, lower(normalize(name, NFKC)) AS key,
    row_number() OVER (PARTITION BY lower(normalize(name, NFKC)) ORDER BY "createdAt", id) AS n
  FROM "service_catalog"
) k
WHERE k.id = s.id;

ALTER TABLE "service_catalog" ALTER COLUMN "nameKey" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "service_catalog_nameKey_key" ON "service_catalog"("nameKey");
