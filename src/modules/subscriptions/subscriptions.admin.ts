import type { Prisma } from '../../lib/db.js';
import { AppError } from '../../lib/errors/index.js';
import { pageWindow, paginate } from '../../lib/http/index.js';
import { charge } from '../wallet/index.js';
import { addDays, unusedAmount } from './subscriptions.periods.js';
import { getOwned, getSubscription, settle, type SubscriptionsDeps } from './subscriptions.service.js';
import { transition } from './subscriptions.transitions.js';
import { SUBSCRIPTION_INCLUDE, toSubscriptionView } from './subscriptions.view.js';
import type { SubscriptionStatus } from '../../generated/prisma/enums.js';

/** The administrators' side of the lifecycle. */

export async function listAll({ db }: SubscriptionsDeps, q: { page: number; limit: number; status?: SubscriptionStatus; userId?: string; serviceId?: string; sortBy: 'createdAt' | 'currentPeriodEnd'; sortOrder: 'asc' | 'desc' }) {
  const where: Prisma.SubscriptionWhereInput = { status: q.status, userId: q.userId, serviceId: q.serviceId };
  const [rows, total] = await Promise.all([
    db.subscription.findMany({ where, include: SUBSCRIPTION_INCLUDE, orderBy: [{ [q.sortBy]: q.sortOrder }, { id: 'asc' }], ...pageWindow(q.page, q.limit) }),
    db.subscription.count({ where }),
  ]);
  return { subscriptions: rows.map(toSubscriptionView), pagination: paginate(q.page, q.limit, total) };
}

const clock = (deps: SubscriptionsDeps) => (deps.now ?? (() => new Date()))();

export async function suspend(deps: SubscriptionsDeps, id: string, reason: string) {
  const now = clock(deps);
  const result = await deps.db.$transaction((tx) =>
    transition(tx, id, 'adminSuspend', { now, data: { suspendedAt: now, suspendedBy: 'ADMIN', cancelReason: reason }, eventData: { reason, deleteAfter: addDays(now, deps.config.billing.retentionDays).toISOString() } }),
  );
  settle(deps, [result]);
  return getSubscription(deps, undefined, id);
}

export async function resume(deps: SubscriptionsDeps, id: string) {
  const now = clock(deps);
  const current = await getOwned(deps.db, undefined, id);
  // The suspension did not count against the customer: the period moves on by its length.
  const paused = current.suspendedAt ? now.getTime() - current.suspendedAt.getTime() : 0;
  const result = await deps.db.$transaction((tx) =>
    transition(tx, id, 'adminResume', { now, data: { suspendedAt: null, suspendedBy: null, cancelReason: null, currentPeriodEnd: new Date(current.currentPeriodEnd.getTime() + paused) } }),
  );
  settle(deps, [result]);
  return getSubscription(deps, undefined, id);
}

/** Cancels now; `refundUnused` credits the unused part of the current period's price. */
export async function adminCancel(deps: SubscriptionsDeps, id: string, input: { reason: string; refundUnused: boolean }) {
  const now = clock(deps);
  const current = await getOwned(deps.db, undefined, id);
  const result = await deps.db.$transaction(async (tx) => {
    const moved = await transition(tx, id, 'adminCancel', { now, data: { cancelledAt: now, cancelReason: input.reason } });
    const refund = input.refundUnused && current.status !== 'SUSPENDED' ? unusedAmount({ price: current.priceAmount, periodStart: current.currentPeriodStart, periodEnd: current.currentPeriodEnd, now }) : 0;
    if (refund > 0) {
      await charge(tx, { userId: current.userId, type: 'REFUND', amount: refund, description: 'Refund of the unused days', idempotencyKey: `refund:${id}:cancel`, subscriptionId: id, now });
    }
    return moved;
  });
  settle(deps, [result]);
  return getSubscription(deps, undefined, id);
}

/** Moves the period's end later by `days` (goodwill, an outage): nothing is charged. */
export async function extend(deps: SubscriptionsDeps, id: string, days: number) {
  const now = clock(deps);
  const current = await getOwned(deps.db, undefined, id);
  const end = addDays(current.currentPeriodEnd, days);
  const result = await deps.db.$transaction((tx) =>
    transition(tx, id, 'extend', { now, where: { currentPeriodEnd: current.currentPeriodEnd }, data: { currentPeriodEnd: end, ...(current.graceEndsAt ? { graceEndsAt: addDays(current.graceEndsAt, days) } : {}) }, eventData: { days, periodEnd: end.toISOString() } }),
  );
  if (!result) throw new AppError('INVALID_STATE', 'The subscription changed meanwhile; try again');
  settle(deps, [result]);
  return getSubscription(deps, undefined, id);
}
