import type { DbClient } from '../../src/lib/db.js';

/** Worker-node seed: filled by the workers module. Creates missing nodes only. */
export async function seedWorkers(_db: DbClient): Promise<number> {
  return 0;
}
