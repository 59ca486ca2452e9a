import type { DbClient } from '../src/lib/db.js';
import { seedBilling, type BillingSeedOptions } from './seed/billing.js';
import { seedServices } from './seed/services.js';
import { seedUsers } from './seed/users.js';
import { seedWorkers } from './seed/workers.js';

export { SEED_ACCOUNTS } from './seed/users.js';

export interface SeedResult {
  users: number;
  services: number;
  workers: number;
  wallets: number;
  subscriptions: number;
}

/** Idempotent: creates only what is missing, so seeding twice changes nothing. */
export async function seed(db: DbClient, { bcryptCost, billing = DEFAULT_BILLING }: { bcryptCost: number; billing?: BillingSeedOptions }): Promise<SeedResult> {
  const users = await seedUsers(db, bcryptCost);
  const services = await seedServices(db);
  const workers = await seedWorkers(db);
  const { wallets, subscriptions } = await seedBilling(db, billing);
  return { users, services, workers, wallets, subscriptions };
}

const DEFAULT_BILLING: BillingSeedOptions = { timezone: 'Asia/Jakarta', appsDomain: 'apps.localhost', currency: 'IDR' };
