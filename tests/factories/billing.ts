import type { Db } from '../../src/lib/db.js';
import { ensureWallet, postEntry } from '../../src/modules/wallet/index.js';
import { createNode } from './nodes.js';
import { createService, type ServiceOverrides } from './services.js';
import { unique } from './unique.js';

/**
 * A pool of worker nodes of its own (a unique label), so admission in one test never depends on
 * the nodes other tests create, and services that select it.
 */
export async function createPool(db: Db, nodes = 1, overrides: { cpuCores?: number; totalMemory?: bigint } = {}) {
  const label = unique('pool').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63);
  const selector = { 'minispod.test/pool': label };
  const created = await Promise.all(
    Array.from({ length: nodes }, () => createNode(db, { status: 'ACTIVE', isReady: true, isSchedulable: true, labels: selector, cpuCores: overrides.cpuCores ?? 8, totalMemory: overrides.totalMemory ?? 32768n })),
  );
  return { selector, nodes: created };
}

/** A deployable service on `pool`. */
export const createPlan = (db: Db, pool: { selector: Record<string, string> }, overrides: ServiceOverrides = {}) => createService(db, { nodeSelector: pool.selector, ...overrides });

/** Credits `amount` to the user's wallet through the ledger, as a top-up does. */
export async function fund(db: Db, userId: string, amount: number) {
  await ensureWallet(db, userId, 'IDR');
  if (amount > 0) await postEntry(db, { userId, type: 'TOPUP', amount, description: 'Test funds', idempotencyKey: unique('test-topup'), now: new Date() });
}

export const balanceOf = async (db: Db, userId: string) => (await db.wallet.findUnique({ where: { userId } }))?.balance ?? 0;

/** The sum of the user's SUCCEEDED ledger rows: must always equal the balance. */
export const ledgerSum = async (db: Db, userId: string) => (await db.transaction.aggregate({ where: { userId, status: 'SUCCEEDED' }, _sum: { amount: true } }))._sum.amount ?? 0;
