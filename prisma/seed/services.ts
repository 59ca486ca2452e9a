import type { DbClient } from '../../src/lib/db.js';

/** Catalog seed: filled by the catalog module. Creates missing services only. */
export async function seedServices(_db: DbClient): Promise<number> {
  return 0;
}
