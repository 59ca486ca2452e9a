import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { AppError, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { Transaction } from '../../generated/prisma/client.js';
import { closePending, createPending, ensureWallet, settlePending } from './wallet.ledger.js';
import { providerDisabled, type MidtransClient, type MidtransStatus, type NotificationSignature } from './wallet.midtrans.js';
import { afterCredit, creditedEvent, toTransactionView } from './wallet.service.js';

/**
 * Online top-ups through Midtrans Snap. A top-up is a PENDING ledger row (no money moves) whose
 * providerRef is the Midtrans order id. It is credited only after Midtrans' status API says the
 * order is paid, for the row's amount: a notification is a hint to look, never the proof. Every
 * change is a conditional update of a PENDING row, so a replayed or racing notification, and the
 * expiry job running beside it, credit once.
 */

export interface TopupDeps {
  db: Db;
  config: Pick<Config, 'currency' | 'midtrans'>;
  logger: Logger;
  jobs: JobQueue;
  midtrans: MidtransClient;
}

export const TOPUP_MIN = 10_000;
export const TOPUP_MAX = 100_000_000;
/** The expiry job waits this long past a top-up's expiry, so a payment begun at the last moment has reached Midtrans' status. */
export const EXPIRY_GRACE_MS = 5 * 60_000;

type Outcome = 'paid' | 'pending' | 'CANCELLED' | 'FAILED';

/** Midtrans' transaction_status (with fraud_status for cards) read as what it means for a top-up. */
function outcomeOf(s: MidtransStatus): Outcome {
  switch (s.transactionStatus) {
    case 'settlement':
      return 'paid';
    case 'capture':
      // A card capture is money only once the fraud check accepts it; `challenge` waits for a review.
      return s.fraudStatus === 'accept' ? 'paid' : s.fraudStatus === 'deny' ? 'FAILED' : 'pending';
    case 'expire':
    case 'cancel':
      return 'CANCELLED';
    case 'deny':
    case 'failure':
      return 'FAILED';
    default:
      return 'pending';
  }
}

const detailsOf = (row: Pick<Transaction, 'paymentDetails'>) => {
  const d = row.paymentDetails && typeof row.paymentDetails === 'object' && !Array.isArray(row.paymentDetails) ? row.paymentDetails : {};
  return { token: typeof d.token === 'string' ? d.token : undefined, redirectUrl: typeof d.redirectUrl === 'string' ? d.redirectUrl : undefined };
};

/** The top-up as its owner sees it: the payment page only while it can still be paid. */
function topupView(deps: Pick<TopupDeps, 'config'>, row: Transaction, now = new Date()) {
  const { token, redirectUrl } = detailsOf(row);
  const payable = row.status === 'PENDING' && token && redirectUrl && (!row.expiresAt || row.expiresAt > now);
  return {
    transaction: toTransactionView(row),
    payment: payable ? { provider: 'MIDTRANS' as const, orderId: row.providerRef as string, token, redirectUrl, clientKey: deps.config.midtrans.clientKey ?? null, expiresAt: row.expiresAt } : null,
  };
}

/** POST /wallet/topups: a PENDING top-up and its Snap payment page. */
export async function createTopup(deps: TopupDeps, user: { id: string; name: string; email: string }, amount: number) {
  const { db, midtrans, config } = deps;
  if (!midtrans.enabled) throw providerDisabled();
  const now = new Date();
  const orderId = `topup-${randomUUID()}`;
  const expiresAt = new Date(now.getTime() + config.midtrans.expiryMinutes * 60_000);
  const pending = await db.$transaction(async (tx) => {
    await ensureWallet(tx, user.id, config.currency);
    return createPending(tx, {
      userId: user.id,
      type: 'TOPUP',
      amount,
      description: 'Online top-up (Midtrans)',
      idempotencyKey: `midtrans:${orderId}`,
      provider: 'MIDTRANS',
      providerRef: orderId,
      paymentDetails: { orderId },
      expiresAt,
      now,
    });
  });
  let snap;
  try {
    snap = await midtrans.createSnap({ orderId, amount, customer: { firstName: user.name, email: user.email }, startTime: now, expiryMinutes: config.midtrans.expiryMinutes });
  } catch (err) {
    // Nobody has a page to pay it on: it must not wait as payable until it expires.
    await closePending(db, pending.id, 'FAILED', new Date());
    throw err;
  }
  const row = await db.transaction.update({ where: { id: pending.id }, data: { paymentDetails: { orderId, token: snap.token, redirectUrl: snap.redirectUrl } } });
  deps.logger.info('Online top-up started', { userId: user.id, orderId, amount, transaction: row.number });
  return topupView(deps, row, now);
}

/** GET /wallet/topups/:id: the owner's top-up; anyone else's is 404. */
export async function getTopup(deps: TopupDeps, userId: string, id: string) {
  const row = await deps.db.transaction.findFirst({ where: { id, userId, type: 'TOPUP', provider: 'MIDTRANS' } });
  if (!row) throw notFound('top-up', id);
  return topupView(deps, row);
}

type Result = 'credited' | 'closed' | 'unchanged' | 'already_handled' | 'unknown_order';

/**
 * Applies what Midtrans' status API said to a top-up row. Refuses (409) a status whose amount or
 * currency is not the row's: nothing changes, and an operator has to look.
 */
async function applyStatus(deps: TopupDeps, row: Transaction, status: MidtransStatus, now: Date): Promise<Result> {
  const amountMatches = /^\d+(\.\d+)?$/.test(status.grossAmount) && Number(status.grossAmount) === row.amount;
  if (!amountMatches || (status.currency !== undefined && status.currency !== 'IDR')) {
    deps.logger.error('Midtrans reports another amount than the top-up: nothing was credited', { orderId: row.providerRef, expected: row.amount, reported: status.grossAmount, currency: status.currency, transactionStatus: status.transactionStatus });
    throw new AppError('CONFLICT', 'The payment does not match the top-up');
  }
  const outcome = outcomeOf(status);
  if (outcome === 'pending') return 'unchanged';
  if (outcome !== 'paid') return (await closePending(deps.db, row.id, outcome, now)) ? 'closed' : 'already_handled';
  const credited = await deps.db.$transaction(async (tx) => {
    const settled = await settlePending(tx, row.id, now);
    if (settled) await recordEvent(tx, creditedEvent(settled), now);
    return settled;
  });
  if (!credited) return 'already_handled';
  deps.logger.info('Online top-up credited', { userId: row.userId, orderId: row.providerRef, amount: row.amount, transaction: row.number, paymentType: status.paymentType });
  afterCredit(deps.jobs, row.userId);
  return 'credited';
}

/**
 * POST /payments/midtrans/notifications. Answers 2xx for everything handled or not ours (Midtrans
 * retries anything else); a bad signature is 403 with nothing read beyond the signature.
 */
export async function handleNotification(deps: TopupDeps, n: NotificationSignature & { transaction_status?: string }) {
  const { db, midtrans } = deps;
  if (!midtrans.enabled) throw providerDisabled();
  if (!midtrans.verifySignature(n)) throw new AppError('FORBIDDEN', 'Invalid signature_key');
  const orderId = n.order_id;
  const row = await db.transaction.findUnique({ where: { providerRef: orderId } });
  if (!row || row.provider !== 'MIDTRANS' || row.type !== 'TOPUP') {
    // Another system on the same Midtrans account, or the dashboard's test notification.
    deps.logger.warn('Midtrans notification for an unknown order: ignored', { orderId });
    return { orderId, status: null, result: 'unknown_order' as Result };
  }
  if (row.status !== 'PENDING') {
    if (n.transaction_status === 'settlement' || n.transaction_status === 'capture') await reportLatePayment(deps, row);
    return { orderId, status: row.status, result: 'already_handled' as Result };
  }
  const status = await midtrans.status(orderId);
  const result = status ? await applyStatus(deps, row, status, new Date()) : 'unchanged';
  const after = await db.transaction.findUniqueOrThrow({ where: { id: row.id }, select: { status: true } });
  return { orderId, status: after.status, result };
}

/** A payment that settles after its top-up was closed is money received and not credited: an operator must act. */
async function reportLatePayment(deps: TopupDeps, row: Transaction) {
  if (row.status === 'SUCCEEDED') return;
  // The row is handled either way: Midtrans being away must not turn the answer into a retry.
  const status = await deps.midtrans.status(row.providerRef as string).catch(() => undefined);
  if (status && outcomeOf(status) === 'paid') {
    deps.logger.error(`Top-up ${row.number} was paid after it was closed (${row.status}): credit it with an administrator's top-up or refund it in Midtrans`, { orderId: row.providerRef, userId: row.userId, amount: row.amount });
  }
}

/**
 * wallet.expire-topups: top-ups past their expiry (and the grace) are checked with Midtrans once
 * more. Paid ones are credited; ones still pending are expired at Midtrans first, so that no
 * payment can follow; what Midtrans never heard of (no payment method chosen) is CANCELLED.
 */
export async function expireTopups(deps: TopupDeps, now: Date) {
  const counts = { checked: 0, credited: 0, closed: 0, unchanged: 0, errors: 0 };
  const due = await deps.db.transaction.findMany({
    where: { provider: 'MIDTRANS', type: 'TOPUP', status: 'PENDING', expiresAt: { lte: new Date(now.getTime() - EXPIRY_GRACE_MS) } },
    orderBy: { expiresAt: 'asc' },
    take: 100,
  });
  if (due.length === 0) return counts;
  if (!deps.midtrans.enabled) {
    deps.logger.warn(`${due.length} online top-up(s) are past their expiry but cannot be checked: the Midtrans keys are not configured`);
    return counts;
  }
  const limit = pLimit(4);
  await Promise.all(
    due.map((row) =>
      limit(async () => {
        counts.checked++;
        try {
          const result = await expireOne(deps, row, now);
          if (result === 'credited' || result === 'closed' || result === 'unchanged') counts[result]++;
        } catch (err) {
          counts.errors++;
          deps.logger.warn(`Top-up ${row.number} could not be checked: ${err instanceof Error ? err.message : String(err)}`, { orderId: row.providerRef });
        }
      }),
    ),
  );
  return counts;
}

async function expireOne(deps: TopupDeps, row: Transaction, now: Date): Promise<Result> {
  const orderId = row.providerRef as string;
  let status = await deps.midtrans.status(orderId);
  if (status && outcomeOf(status) === 'pending') {
    await deps.midtrans.expire(orderId);
    status = await deps.midtrans.status(orderId);
  }
  if (!status) return (await closePending(deps.db, row.id, 'CANCELLED', now)) ? 'closed' : 'already_handled';
  return applyStatus(deps, row, status, now);
}
