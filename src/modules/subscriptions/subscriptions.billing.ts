import pLimit from 'p-limit';
import type { DbClient, Prisma } from '../../lib/db.js';
import { AppError } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { Clock } from '../../lib/jobs.js';
import { sqlTransaction, type RawClient } from '../../lib/sql-transaction.js';
import { postEntry } from '../wallet/index.js';
import { addDays, anchorDayOf, nextPeriodEnd } from './subscriptions.periods.js';
import { getSubscription, settle, type SubscriptionsDeps } from './subscriptions.service.js';
import { transition, type TransitionResult } from './subscriptions.transitions.js';

/**
 * The billing jobs. Each subscription is handled in a transaction of its own that first locks its
 * row with SKIP LOCKED, so two runs of a job (two processes, a retry) never handle one row at
 * once, and re-checks that it is still due: a run over rows another run just handled does nothing.
 * Every charge's idempotency key names the period, so a period is charged once whatever happens.
 */

interface Locked {
  id: string;
  userId: string;
  serviceId: string;
  status: string;
  currentPeriodEnd: Date;
  billingAnchorDay: number;
  priceAmount: number;
  pendingServiceId: string | null;
  cancelAtPeriodEnd: boolean;
  graceEndsAt: Date | null;
  suspendedAt: Date | null;
}

/** The subscription, locked, if it still meets `condition` (whose `$2`, when it has one, is `at`). */
const lockDue = async (tx: RawClient, id: string, condition: string, at?: Date) =>
  (
    await tx.$queryRawUnsafe<Locked[]>(
      `SELECT id, "userId", "serviceId", status::text, "currentPeriodEnd", "billingAnchorDay", "priceAmount", "pendingServiceId", "cancelAtPeriodEnd", "graceEndsAt", "suspendedAt"
       FROM subscriptions WHERE id = $1 AND ${condition} FOR UPDATE SKIP LOCKED`,
      id,
      ...(at ? [at.toISOString()] : []),
    )
  )[0];
// $2 is a time, as a timestamptz; the columns hold UTC wall time.
const NOW = `($2::timestamptz AT TIME ZONE 'UTC')`;

/** The next period's plan: a scheduled downgrade applies first. */
async function nextPlan(tx: RawClient, sub: Locked) {
  const current = { serviceId: sub.serviceId, price: sub.priceAmount, name: undefined as string | undefined };
  if (!sub.pendingServiceId) return current;
  // The customer subscribed to that plan separately meanwhile: the downgrade would make two live
  // subscriptions to one service, so this one renews on its current plan.
  const [next] = await tx.$queryRawUnsafe<{ id: string; monthlyPrice: number; displayName: string; taken: boolean }[]>(
    `SELECT c.id, c."monthlyPrice", c."displayName",
       EXISTS (SELECT 1 FROM subscriptions o WHERE o."userId" = $2 AND o."serviceId" = c.id AND o.status IN ('PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED') AND o.id <> $3) AS taken
     FROM service_catalog c WHERE c.id = $1`,
    sub.pendingServiceId,
    sub.userId,
    sub.id,
  );
  return next && !next.taken ? { serviceId: next.id, price: next.monthlyPrice, name: next.displayName } : current;
}

/** Charges the period that starts at the current one's end; the ledger row, or undefined when the balance is short. */
async function chargeNextPeriod(tx: RawClient, sub: Locked, plan: { serviceId: string; price: number }, now: Date) {
  return postEntry(tx, {
    userId: sub.userId,
    type: 'CHARGE',
    amount: -plan.price,
    description: 'Monthly renewal',
    idempotencyKey: `charge:${sub.id}:${sub.currentPeriodEnd.toISOString()}`,
    subscriptionId: sub.id,
    now,
  });
}

/** ACTIVE at its period's end: cancel if asked, else charge the next period or fall PAST_DUE. */
async function renewOne(deps: SubscriptionsDeps, id: string, now: Date): Promise<TransitionResult | undefined> {
  const tz = deps.config.billing.timezone;
  return sqlTransaction(deps.db, async (tx) => {
    const sub = await lockDue(tx, id, `status = 'ACTIVE' AND "currentPeriodEnd" <= ${NOW}`, now);
    if (!sub) return undefined;
    if (sub.cancelAtPeriodEnd) return transition(tx, id, 'cancelAtPeriodEnd', { now, data: { cancelledAt: sub.currentPeriodEnd } });
    const plan = await nextPlan(tx, sub);
    const paid = await chargeNextPeriod(tx, sub, plan, now);
    const start = sub.currentPeriodEnd;
    if (!paid) {
      const graceEndsAt = addDays(start, deps.config.billing.graceDays);
      return transition(tx, id, 'paymentFailed', { now, data: { graceEndsAt }, eventData: { amount: plan.price, graceEndsAt: graceEndsAt.toISOString() } });
    }
    const end = nextPeriodEnd(start, sub.billingAnchorDay, tz);
    return transition(tx, id, 'renew', {
      now,
      where: { currentPeriodEnd: sub.currentPeriodEnd },
      data: { currentPeriodStart: start, currentPeriodEnd: end, serviceId: plan.serviceId, priceAmount: plan.price, pendingServiceId: null },
      eventData: { transactionId: paid.id, transactionNumber: paid.number, amount: plan.price, periodEnd: end.toISOString(), ...(plan.name ? { planChangedTo: plan.serviceId } : {}) },
    });
  });
}

/** PAST_DUE: charge the overdue period, or suspend once the grace has run out. */
async function retryPastDue(deps: SubscriptionsDeps, id: string, now: Date): Promise<TransitionResult | undefined> {
  return sqlTransaction(deps.db, async (tx) => {
    const sub = await lockDue(tx, id, `status = 'PAST_DUE'`);
    if (!sub) return undefined;
    if (sub.cancelAtPeriodEnd) return transition(tx, id, 'cancelAtPeriodEnd', { now, data: { cancelledAt: now, graceEndsAt: null } });
    const plan = await nextPlan(tx, sub);
    const paid = await chargeNextPeriod(tx, sub, plan, now);
    if (paid) {
      const start = sub.currentPeriodEnd;
      const end = nextPeriodEnd(start, sub.billingAnchorDay, deps.config.billing.timezone);
      return transition(tx, id, 'paymentRecovered', {
        now,
        data: { currentPeriodStart: start, currentPeriodEnd: end, serviceId: plan.serviceId, priceAmount: plan.price, pendingServiceId: null, graceEndsAt: null },
        eventData: { transactionId: paid.id, transactionNumber: paid.number, amount: plan.price, periodEnd: end.toISOString() },
      });
    }
    if (sub.graceEndsAt && sub.graceEndsAt <= now) {
      const deleteAfter = addDays(now, deps.config.billing.retentionDays);
      return transition(tx, id, 'graceExpired', { now, data: { suspendedAt: now, suspendedBy: 'BILLING', graceEndsAt: null }, eventData: { reason: 'payment', deleteAfter: deleteAfter.toISOString() } });
    }
    return undefined;
  });
}

/** SUSPENDED for non-payment: a payment restarts the period from now. */
async function retrySuspended(deps: SubscriptionsDeps, id: string, now: Date): Promise<TransitionResult | undefined> {
  const tz = deps.config.billing.timezone;
  return sqlTransaction(deps.db, async (tx) => {
    const sub = await lockDue(tx, id, `status = 'SUSPENDED' AND "suspendedBy" = 'BILLING'`);
    if (!sub) return undefined;
    const plan = await nextPlan(tx, sub);
    const paid = await postEntry(tx, { userId: sub.userId, type: 'CHARGE', amount: -plan.price, description: 'Payment after suspension', idempotencyKey: `resume:${sub.id}:${sub.suspendedAt?.toISOString()}`, subscriptionId: sub.id, now });
    if (!paid) return undefined;
    const anchor = anchorDayOf(now, tz);
    const end = nextPeriodEnd(now, anchor, tz);
    return transition(tx, id, 'paidAfterSuspension', {
      now,
      data: { currentPeriodStart: now, currentPeriodEnd: end, billingAnchorDay: anchor, serviceId: plan.serviceId, priceAmount: plan.price, pendingServiceId: null, suspendedAt: null, suspendedBy: null },
      eventData: { transactionId: paid.id, transactionNumber: paid.number, amount: plan.price, periodEnd: end.toISOString() },
    });
  });
}

type One = (deps: SubscriptionsDeps, id: string, now: Date) => Promise<TransitionResult | undefined>;

/** Runs `one` over ids, a few at a time; what one row throws is reported and does not stop the rest. */
async function sweep(deps: SubscriptionsDeps, ids: string[], one: One, now: Date, label: string) {
  // A few lanes: each holds one of the pool's connections for its transaction.
  const limit = pLimit(6);
  const results = await Promise.all(
    ids.map((id) =>
      limit(() =>
        one(deps, id, now).catch((err: unknown) => {
          deps.logger.error(`${label}: subscription ${id} failed: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        }),
      ),
    ),
  );
  settle(deps, results);
  return results.filter(Boolean).length;
}

const ids = async (db: DbClient, where: Prisma.SubscriptionWhereInput, take = 1000) =>
  (await db.subscription.findMany({ where, select: { id: true }, orderBy: { currentPeriodEnd: 'asc' }, take })).map((s) => s.id);

/** billing.renew: every ACTIVE subscription whose period has ended, in batches until none is left. */
export async function runRenewals(deps: SubscriptionsDeps, { clock }: { clock: Clock }) {
  const now = clock.now();
  let total = 0;
  for (;;) {
    const due = await ids(deps.db, { status: 'ACTIVE', currentPeriodEnd: { lte: now } });
    if (due.length === 0) return total;
    const done = await sweep(deps, due, renewOne, now, 'billing.renew');
    total += done;
    // Rows locked by another run are skipped: stop rather than spin on them.
    if (done === 0) return total;
  }
}

/** billing.dunning: PAST_DUE subscriptions retried (or suspended after their grace); with a user, also that user's billing suspensions. */
export async function runDunning(deps: SubscriptionsDeps, { clock }: { clock: Clock }, userId?: string) {
  const now = clock.now();
  const pastDue = await sweep(deps, await ids(deps.db, { status: 'PAST_DUE', ...(userId ? { userId } : {}) }, 5000), retryPastDue, now, 'billing.dunning');
  const suspended = userId ? await sweep(deps, await ids(deps.db, { status: 'SUSPENDED', suspendedBy: 'BILLING', userId }), retrySuspended, now, 'billing.dunning') : 0;
  return { pastDue, suspended };
}

/** subscription.expire: SUSPENDED and CANCELLED subscriptions past the retention period end for good. */
export async function runExpiry(deps: SubscriptionsDeps, { clock }: { clock: Clock }) {
  const now = clock.now();
  const cutoff = addDays(now, -deps.config.billing.retentionDays);
  const expireOne: One = (d, id, at) =>
    sqlTransaction(d.db, async (tx) => {
      const sub = await lockDue(tx, id, `((status = 'SUSPENDED' AND "suspendedAt" <= ${NOW}) OR (status = 'CANCELLED' AND "endedAt" <= ${NOW}))`, cutoff);
      return sub ? transition(tx, id, 'expire', { now: at }) : undefined;
    });
  const due = await ids(deps.db, { OR: [{ status: 'SUSPENDED', suspendedAt: { lte: cutoff } }, { status: 'CANCELLED', endedAt: { lte: cutoff } }] }, 5000);
  return sweep(deps, due, expireOne, now, 'subscription.expire');
}

/** notify.renewal-upcoming: a period ending within 3 days whose wallet is short of the price; once per period. */
export async function runRenewalNotices(deps: SubscriptionsDeps, { clock }: { clock: Clock }) {
  const now = clock.now();
  const rows = await deps.db.$queryRawUnsafe<{ id: string; userId: string; serviceId: string; price: number; balance: number; periodEnd: Date }[]>(
    `SELECT s.id, s."userId", s."serviceId", coalesce(p."monthlyPrice", s."priceAmount") AS price, coalesce(w.balance, 0) AS balance, s."currentPeriodEnd" AS "periodEnd"
     FROM subscriptions s LEFT JOIN wallets w ON w."userId" = s."userId" LEFT JOIN service_catalog p ON p.id = s."pendingServiceId"
     WHERE s.status = 'ACTIVE' AND NOT s."cancelAtPeriodEnd"
       AND s."currentPeriodEnd" > $1::timestamptz AT TIME ZONE 'UTC' AND s."currentPeriodEnd" <= $2::timestamptz AT TIME ZONE 'UTC'
       AND coalesce(w.balance, 0) < coalesce(p."monthlyPrice", s."priceAmount")`,
    now.toISOString(),
    addDays(now, 3).toISOString(),
  );
  let sent = 0;
  for (const r of rows) {
    const periodEnd = r.periodEnd.toISOString();
    await deps.db.$transaction(async (tx) => {
      // One notice per period: the subscription's row lock orders two runs, the event marks it done.
      await tx.$queryRawUnsafe(`SELECT 1 FROM subscriptions WHERE id = $1 FOR UPDATE`, r.id);
      const done = await tx.domainEvent.findFirst({ where: { subjectType: 'subscription', subjectId: r.id, type: 'subscription.renewal_upcoming', data: { path: ['periodEnd'], equals: periodEnd } }, select: { id: true } });
      if (done) return;
      await recordEvent(tx, { type: 'subscription.renewal_upcoming', userId: r.userId, subjectType: 'subscription', subjectId: r.id, data: { subscriptionId: r.id, serviceId: r.serviceId, periodEnd, amount: r.price, balance: r.balance, shortfall: r.price - r.balance } }, now);
      sent++;
    });
  }
  if (sent > 0) deps.jobs.trigger('events.dispatch');
  return sent;
}

/** POST /subscriptions/:id/renew: pay what is overdue now (PAST_DUE, or SUSPENDED for non-payment). */
export async function payNow(deps: SubscriptionsDeps, userId: string, id: string) {
  const now = (deps.now ?? (() => new Date()))();
  const current = await getSubscription(deps, userId, id);
  const one: One | undefined = current.status === 'PAST_DUE' ? retryPastDue : current.status === 'SUSPENDED' && current.suspendedBy === 'BILLING' ? retrySuspended : undefined;
  if (!one) throw new AppError('INVALID_STATE', `The subscription is ${current.status}${current.suspendedBy === 'ADMIN' ? ' by an administrator' : ''}: there is nothing to pay`);
  const result = await one(deps, id, now);
  settle(deps, [result]);
  const after = await getSubscription(deps, userId, id);
  if (after.status === current.status) {
    throw new AppError('INSUFFICIENT_BALANCE', `The wallet does not cover ${after.pendingService?.monthlyPrice ?? after.priceAmount}; top up and try again`);
  }
  return after;
}
