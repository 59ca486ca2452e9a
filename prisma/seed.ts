import type { DbClient } from '../src/lib/db.js';
import { seedServices } from './seed/services.js';
import { seedUsers } from './seed/users.js';
import { seedWorkers } from './seed/workers.js';

export { SEED_ACCOUNTS } from './seed/users.js';

export interface SeedResult {
  users: number;
  services: number;
  workers: number;
}

/** Idempotent: creates only what is missing, so seeding twice changes nothing. */
export async function seed(db: DbClient, { bcryptCost }: { bcryptCost: number }): Promise<SeedResult> {
  const users = await seedUsers(db, bcryptCost);
  const services = await seedServices(db);
  const workers = await seedWorkers(db);
  return { users, services, workers };
}
