import { randomUUID } from 'node:crypto';
import type { RawClient } from '../../lib/sql-transaction.js';
import { AppError } from '../../lib/errors/index.js';
import type { PaymentProvider, TransactionStatus, TransactionType } from '../../generated/prisma/enums.js';

/**
 * The wallet ledger. A balance changes only here, and only by one statement that updates the
 * wallet on the condition that the result stays >= 0 and appends its ledger row in the same
 * statement (so in the caller's transaction). Every row has a unique idempotency key: the same
 * effect asked for twice fails on that key instead of moving money twice. The CHECK on
 * wallets.balance backs the condition up.
 */

export interface LedgerRow {
  id: string;
  number: string;
  walletId: string;
  userId: string;
  type: TransactionType;
  status: TransactionStatus;
  amount: number;
  balanceAfter: number | null;
  subscriptionId: string | null;
  description: string;
  idempotencyKey: string;
  provider: PaymentProvider;
  providerRef: string | null;
  createdBy: string | null;
  paymentDetails: unknown;
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Entry {
  userId: string;
  type: TransactionType;
  /** Signed: credits positive, charges negative. */
  amount: number;
  description: string;
  idempotencyKey: string;
  subscriptionId?: string | null;
  provider?: PaymentProvider;
  providerRef?: string | null;
  createdBy?: string | null;
  paymentDetails?: unknown;
  expiresAt?: Date | null;
  now: Date;
}

const COLUMNS = `id, number, "walletId", "userId", type, status, amount, "balanceAfter", "subscriptionId", description, "idempotencyKey", provider, "providerRef", "createdBy", "paymentDetails", "expiresAt", "createdAt", "updatedAt"`;
// Timestamps are timestamp(3) holding UTC wall time, as Prisma writes them.
const UTC = (n: number) => `$${n}::timestamptz AT TIME ZONE 'UTC'`;
// TRX-YYYYMM-000001: the month of the row, the counter from the sequence.
const NUMBER = (now: number) => `'TRX-' || to_char(${UTC(now)}, 'YYYYMM') || '-' || lpad(nextval('transaction_number_seq')::text, 6, '0')`;

/** Makes the wallet of user $2 (id $1, currency $3), empty, unless the user has one. */
export const ensureWalletSql = `INSERT INTO wallets (id, "userId", balance, currency, "createdAt", "updatedAt") VALUES ($1, $2, 0, $3, now(), now()) ON CONFLICT ("userId") DO NOTHING`;

/** The user's wallet, created empty on first use. */
export async function ensureWallet(tx: RawClient, userId: string, currency: string): Promise<void> {
  await tx.$executeRawUnsafe(ensureWalletSql, randomUUID(), userId, currency);
}

const params = (e: Entry, status: TransactionStatus) => [
  randomUUID(),
  e.userId,
  e.type,
  status,
  e.amount,
  e.subscriptionId ?? null,
  e.description,
  e.idempotencyKey,
  e.provider ?? 'MANUAL',
  e.providerRef ?? null,
  e.createdBy ?? null,
  e.paymentDetails === undefined ? null : JSON.stringify(e.paymentDetails),
  e.expiresAt?.toISOString() ?? null,
  e.now.toISOString(),
];

/** The user's balance; undefined without a wallet. */
export const balanceOf = async (tx: RawClient, userId: string) =>
  (await tx.$queryRawUnsafe<{ balance: number }[]>(`SELECT balance FROM wallets WHERE "userId" = $1`, userId))[0]?.balance;

/** wallets.balance is a PostgreSQL integer: a credit beyond this would fail as "integer out of range". */
export const MAX_BALANCE = 2_147_483_647;

/**
 * postEntry's statement as two CTEs, for a caller whose own statement must post too (subscribe):
 * `ledger_wallet` moves the balance unless that would leave it outside [0, MAX_BALANCE] (computed
 * as bigint, so one past the maximum is refused rather than overflowing), and `ledger_row` is the
 * new SUCCEEDED row, none when the balance did not move. Its parameters are entryValues(entry).
 */
export const POST_ENTRY_CTES = `ledger_wallet AS (
       UPDATE wallets SET balance = balance + $5::int, "updatedAt" = ${UTC(14)}
       WHERE "userId" = $2 AND balance::bigint + $5::int BETWEEN 0 AND ${MAX_BALANCE}
       RETURNING id, balance
     ), ledger_row AS (
       INSERT INTO transactions (${COLUMNS})
       SELECT $1, ${NUMBER(14)}, w.id, $2, $3::"TransactionType", $4::"TransactionStatus", $5::int, w.balance, $6, $7, $8, $9::"PaymentProvider", $10, $11, $12::jsonb, ${UTC(13)}, ${UTC(14)}, ${UTC(14)}
       FROM ledger_wallet w
       RETURNING ${COLUMNS}
     )`;
export const entryValues = (entry: Entry) => params(entry, 'SUCCEEDED');

/**
 * Applies `entry` now: the balance moves by `amount` unless that would take it below zero, and the
 * SUCCEEDED ledger row is written, both by one statement. Undefined when the balance does not
 * suffice (nothing written). A credit the balance cannot hold is refused (409). A repeated
 * idempotency key fails with the unique violation.
 */
export async function postEntry(tx: RawClient, entry: Entry): Promise<LedgerRow | undefined> {
  const rows = await tx.$queryRawUnsafe<LedgerRow[]>(`WITH ${POST_ENTRY_CTES} SELECT * FROM ledger_row`, ...entryValues(entry));
  if (!rows[0] && entry.amount > 0 && (await balanceOf(tx, entry.userId)) !== undefined) {
    throw new AppError('CONFLICT', `A wallet holds at most ${MAX_BALANCE}: this credit would take the balance past it`, { errors: [{ field: 'amount', message: `the balance can grow by at most ${MAX_BALANCE} minus the current balance` }] });
  }
  return rows[0];
}

/** 402: the balance does not cover `needed`. */
export const insufficientBalance = (balance: number, needed: number) =>
  new AppError('INSUFFICIENT_BALANCE', `The wallet balance (${balance}) does not cover ${needed}`, {
    errors: [{ field: 'balance', message: `Top up at least ${needed - balance} more` }],
  });

/** Like postEntry, but refuses with 402 INSUFFICIENT_BALANCE when the balance does not suffice. */
export async function charge(tx: RawClient, entry: Entry): Promise<LedgerRow> {
  const row = await postEntry(tx, entry);
  if (!row) {
    throw insufficientBalance((await balanceOf(tx, entry.userId)) ?? 0, -entry.amount);
  }
  return row;
}

/** A PENDING row that moves no money until settled (an online top-up waiting for its payment). */
export async function createPending(tx: RawClient, entry: Entry): Promise<LedgerRow> {
  const rows = await tx.$queryRawUnsafe<LedgerRow[]>(
    `INSERT INTO transactions (${COLUMNS})
     SELECT $1, ${NUMBER(14)}, w.id, $2, $3::"TransactionType", $4::"TransactionStatus", $5::int, NULL, $6, $7, $8, $9::"PaymentProvider", $10, $11, $12::jsonb, ${UTC(13)}, ${UTC(14)}, ${UTC(14)}
     FROM wallets w WHERE w."userId" = $2
     RETURNING ${COLUMNS}`,
    ...params(entry, 'PENDING'),
  );
  if (!rows[0]) throw new Error(`No wallet for user ${entry.userId}`);
  return rows[0];
}

/**
 * PENDING -> SUCCEEDED for a credit, with the balance, in one statement: of any number of
 * concurrent settlements (a payment notification replayed, racing its status check) exactly one
 * credits. Undefined when the row was not PENDING any more.
 */
export async function settlePending(tx: RawClient, transactionId: string, now: Date): Promise<LedgerRow | undefined> {
  // The row is locked first: a concurrent settlement waits, then finds it no longer PENDING.
  const rows = await tx.$queryRawUnsafe<LedgerRow[]>(
    `WITH t AS (
       SELECT id, "walletId", amount FROM transactions WHERE id = $1 AND status = 'PENDING' AND amount > 0 FOR UPDATE
     ), w AS (
       UPDATE wallets SET balance = wallets.balance + t.amount, "updatedAt" = ${UTC(2)} FROM t WHERE wallets.id = t."walletId"
       RETURNING wallets.balance, t.id
     )
     UPDATE transactions SET status = 'SUCCEEDED', "balanceAfter" = w.balance, "updatedAt" = ${UTC(2)} FROM w
     WHERE transactions.id = w.id AND transactions.status = 'PENDING'
     RETURNING ${COLUMNS.split(', ').map((c) => `transactions.${c}`).join(', ')}`,
    transactionId,
    now.toISOString(),
  );
  return rows[0];
}

/** PENDING -> FAILED or CANCELLED (a payment that expired or was refused); no money moves. */
export async function closePending(tx: RawClient, transactionId: string, status: 'FAILED' | 'CANCELLED', now: Date): Promise<boolean> {
  const n = await tx.$executeRawUnsafe(`UPDATE transactions SET status = $2::"TransactionStatus", "updatedAt" = ${UTC(3)} WHERE id = $1 AND status = 'PENDING'`, transactionId, status, now.toISOString());
  return n === 1;
}
