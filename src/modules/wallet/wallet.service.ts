import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { AppError, notFound } from '../../lib/errors/index.js';
import { pageWindow, paginate } from '../../lib/http/index.js';
import { recordEvent } from '../../lib/events.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { TransactionStatus, TransactionType } from '../../generated/prisma/enums.js';
import { ensureWallet, postEntry, type LedgerRow } from './wallet.ledger.js';

export interface WalletDeps {
  db: Db;
  config: Pick<Config, 'currency'>;
  logger: Logger;
  jobs: JobQueue;
}

/** The ledger row as clients see it. */
export const toTransactionView = (t: Pick<LedgerRow, 'id' | 'number' | 'type' | 'status' | 'amount' | 'balanceAfter' | 'subscriptionId' | 'description' | 'provider' | 'providerRef' | 'createdAt' | 'updatedAt'> & { expiresAt?: Date | null }) => ({
  id: t.id,
  number: t.number,
  type: t.type,
  status: t.status,
  amount: t.amount,
  balanceAfter: t.balanceAfter,
  subscriptionId: t.subscriptionId,
  description: t.description,
  provider: t.provider,
  providerRef: t.providerRef,
  expiresAt: t.expiresAt ?? null,
  createdAt: t.createdAt,
  updatedAt: t.updatedAt,
});

export async function getWallet({ db, config }: WalletDeps, userId: string) {
  const wallet = await db.wallet.findUnique({ where: { userId }, select: { balance: true, currency: true } });
  return wallet ?? { balance: 0, currency: config.currency };
}

export async function listTransactions({ db }: WalletDeps, userId: string, q: { page: number; limit: number; type?: TransactionType; status?: TransactionStatus; sortOrder: 'asc' | 'desc' }) {
  const where = { userId, type: q.type, status: q.status };
  const [rows, total] = await Promise.all([
    db.transaction.findMany({ where, orderBy: [{ createdAt: q.sortOrder }, { number: q.sortOrder }], ...pageWindow(q.page, q.limit) }),
    db.transaction.count({ where }),
  ]);
  return { transactions: rows.map(toTransactionView), pagination: paginate(q.page, q.limit, total) };
}

/**
 * A credit to the wallet (a top-up, a refund, a positive adjustment) has happened: the owner is
 * told, and their overdue subscriptions are retried at once.
 */
export function afterCredit(jobs: JobQueue, userId: string): void {
  jobs.trigger('events.dispatch');
  jobs.trigger('billing.dunning', { userId });
}

export const creditedEvent = (row: LedgerRow) => ({
  type: 'wallet.credited',
  userId: row.userId,
  subjectType: 'transaction',
  subjectId: row.id,
  data: { transactionId: row.id, transactionNumber: row.number, type: row.type, amount: row.amount, balance: row.balanceAfter },
});

/**
 * An administrator's manual top-up (positive) or adjustment (signed, never below zero), recorded
 * with who made it. `reference` makes a retried request a replay instead of a second credit.
 */
export async function adminEntry(deps: WalletDeps, actorId: string, userId: string, input: { type: 'TOPUP' | 'ADJUSTMENT'; amount: number; note: string; reference?: string }) {
  const { db } = deps;
  const user = await db.user.findUnique({ where: { id: userId }, select: { id: true } });
  if (!user) throw notFound('user', userId);
  const now = new Date();
  const idempotencyKey = input.reference ? `${input.type.toLowerCase()}:${userId}:${input.reference}` : `${input.type.toLowerCase()}:${userId}:${now.getTime()}:${Math.random().toString(36).slice(2)}`;
  const existing = await db.transaction.findUnique({ where: { idempotencyKey } });
  if (existing) return { transaction: toTransactionView(existing), replayed: true };
  const row = await db.$transaction(async (tx) => {
    await ensureWallet(tx, userId, deps.config.currency);
    const posted = await postEntry(tx, {
      userId,
      type: input.type,
      amount: input.amount,
      description: input.note,
      idempotencyKey,
      providerRef: null,
      createdBy: actorId,
      now,
    });
    if (!posted) throw new AppError('INSUFFICIENT_BALANCE', 'The adjustment would take the balance below zero', { errors: [{ field: 'amount', message: 'larger than the balance' }] });
    if (posted.amount > 0) await recordEvent(tx, creditedEvent(posted), now);
    return posted;
  });
  deps.logger.info('Wallet entry by an administrator', { userId, actorId, type: input.type, amount: input.amount, transaction: row.number });
  if (row.amount > 0) afterCredit(deps.jobs, userId);
  return { transaction: toTransactionView(row), replayed: false };
}
