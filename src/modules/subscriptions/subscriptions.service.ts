import type { Config } from '../../lib/config.js';
import type { Db, DbClient } from '../../lib/db.js';
import { AppError, notFound } from '../../lib/errors/index.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import { charge } from '../wallet/index.js';
import { prorate } from './subscriptions.periods.js';
import { transition, type InstanceEffect, type TransitionResult } from './subscriptions.transitions.js';
import { SUBSCRIPTION_INCLUDE, toSubscriptionView } from './subscriptions.view.js';

/** Carries out an instance effect after the commit (the instances module; a no-op until it is wired). */
export type InstanceHook = (effect: InstanceEffect, subscriptionId: string, instanceId?: string) => void;

export interface SubscriptionsDeps {
  db: Db;
  config: Pick<Config, 'billing' | 'appsDomain' | 'currency'>;
  logger: Logger;
  jobs: JobQueue;
  instances: InstanceHook;
  now?: () => Date;
}

export const LIVE_STATUSES = ['PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED'] as const;
const clock = (deps: SubscriptionsDeps) => (deps.now ?? (() => new Date()))();

/** After a commit: events go out, the instance follows. */
export function settle(deps: Pick<SubscriptionsDeps, 'jobs' | 'instances'>, results: (TransitionResult | undefined)[]): void {
  deps.jobs.trigger('events.dispatch');
  for (const r of results) if (r?.instance) deps.instances(r.instance, r.id, r.instanceId);
}

export async function getOwned(db: DbClient, userId: string | undefined, id: string) {
  const row = await db.subscription.findUnique({ where: { id }, include: SUBSCRIPTION_INCLUDE });
  // Another user's subscription does not exist, as far as this user can tell.
  if (!row || (userId !== undefined && row.userId !== userId)) throw notFound('subscription', id);
  return row;
}

export const getSubscription = async ({ db }: SubscriptionsDeps, userId: string | undefined, id: string) => toSubscriptionView(await getOwned(db, userId, id));

const alreadySubscribed = () => new AppError('ALREADY_SUBSCRIBED', 'You already have a live subscription to this service');

/** POST /:id/cancel: at the period's end by default; now (or a PENDING one, with a full refund) on request. */
export async function cancel(deps: SubscriptionsDeps, userId: string, id: string, input: { atPeriodEnd: boolean; reason?: string }) {
  const now = clock(deps);
  const current = await getOwned(deps.db, userId, id);
  const result = await deps.db.$transaction(async (tx) => {
    if (current.status === 'PENDING') return cancelPendingWithRefund(tx, current.id, now, input.reason ?? 'Cancelled by the customer before it started', 'cancelPending');
    if (input.atPeriodEnd) {
      return transition(tx, id, 'scheduleCancel', { now, data: { cancelAtPeriodEnd: true, cancelReason: input.reason ?? null }, eventData: { cancelAt: current.currentPeriodEnd.toISOString() } });
    }
    return transition(tx, id, 'cancelNow', { now, data: { cancelledAt: now, cancelReason: input.reason ?? 'Cancelled by the customer' } });
  });
  settle(deps, [result]);
  return getSubscription(deps, userId, id);
}

/**
 * PENDING -> CANCELLED with the full first charge refunded (the customer cancelled before it ran,
 * or it could not be provisioned). The refund's key makes a second try a no-op.
 */
export async function cancelPendingWithRefund(tx: DbClient, id: string, now: Date, reason: string, name: 'cancelPending' | 'provisionFailed') {
  const result = await transition(tx, id, name, { now, data: { cancelledAt: now, cancelReason: reason }, eventData: { neverStarted: true, refunded: true, reason: name === 'provisionFailed' ? 'provisioning_failed' : 'customer' } });
  const charges = await tx.transaction.findMany({ where: { subscriptionId: id, type: 'CHARGE', status: 'SUCCEEDED' }, select: { id: true, amount: true, userId: true } });
  for (const c of charges) {
    await charge(tx, { userId: c.userId, type: 'REFUND', amount: -c.amount, description: 'Refund: the subscription never started', idempotencyKey: `refund:${c.id}`, subscriptionId: id, now });
  }
  return result;
}

export async function reactivate(deps: SubscriptionsDeps, userId: string, id: string) {
  const now = clock(deps);
  const current = await getOwned(deps.db, userId, id);
  if (current.currentPeriodEnd <= now) throw new AppError('INVALID_STATE', 'The period has ended: the cancellation already took effect');
  const result = await deps.db.$transaction((tx) => transition(tx, id, 'reactivate', { now, data: { cancelAtPeriodEnd: false, cancelReason: null } }));
  settle(deps, [result]);
  return getSubscription(deps, userId, id);
}

/** What switching to another plan of the same group would cost now (upgrade) or from the next renewal (downgrade). */
export async function previewPlanChange(deps: SubscriptionsDeps, userId: string, id: string, serviceId: string) {
  const now = clock(deps);
  const current = await getOwned(deps.db, userId, id);
  const target = await deps.db.serviceCatalog.findUnique({ where: { id: serviceId } });
  if (!target || target.status !== 'ACTIVE') throw notFound('service', serviceId);
  if (target.id === current.serviceId) throw new AppError('INVALID_STATE', 'The subscription is already on this plan');
  if (!current.service.planGroup || target.planGroup !== current.service.planGroup) {
    throw new AppError('INVALID_STATE', 'Plans can only change within the same plan group', { errors: [{ field: 'serviceId', message: `must be a plan of group ${current.service.planGroup ?? '(none)'}` }] });
  }
  // One live subscription per user and service: moving onto a service they already run would make two.
  if (await deps.db.subscription.findFirst({ where: { userId: current.userId, serviceId: target.id, status: { in: [...LIVE_STATUSES] }, id: { not: id } }, select: { id: true } })) throw alreadySubscribed();
  const upgrade = target.monthlyPrice > current.priceAmount;
  const amountDue = upgrade ? prorate({ oldPrice: current.priceAmount, newPrice: target.monthlyPrice, periodStart: current.currentPeriodStart, periodEnd: current.currentPeriodEnd, now }) : 0;
  return {
    subscriptionId: id,
    from: { serviceId: current.serviceId, monthlyPrice: current.priceAmount },
    to: { serviceId: target.id, monthlyPrice: target.monthlyPrice },
    kind: upgrade ? ('upgrade' as const) : ('downgrade' as const),
    amountDue,
    effectiveAt: upgrade ? now : current.currentPeriodEnd,
    currency: current.currency,
    target,
    current,
  };
}

/** An upgrade applies now and charges the prorated difference; a downgrade waits for the renewal. */
export async function changePlan(deps: SubscriptionsDeps, userId: string, id: string, serviceId: string) {
  const now = clock(deps);
  const quote = await previewPlanChange(deps, userId, id, serviceId);
  const result = await deps.db.$transaction(async (tx) => {
    if (quote.kind === 'downgrade') {
      return transition(tx, id, 'scheduleDowngrade', { now, data: { pendingServiceId: quote.target.id }, eventData: { toServiceId: quote.target.id, effectiveAt: quote.effectiveAt.toISOString() } });
    }
    if (quote.target.maxInstances !== null && (await tx.subscription.count({ where: { serviceId: quote.target.id, status: { in: [...LIVE_STATUSES] } } })) >= quote.target.maxInstances) {
      throw new AppError('SOLD_OUT', `${quote.target.displayName} is sold out`);
    }
    // Guarded by the price and period read for the quote: a concurrent change makes this one 409.
    const moved = await transition(tx, id, 'upgrade', {
      now,
      where: { serviceId: quote.current.serviceId, currentPeriodEnd: quote.current.currentPeriodEnd },
      data: { serviceId: quote.target.id, priceAmount: quote.target.monthlyPrice, pendingServiceId: null },
      eventData: { fromServiceId: quote.current.serviceId, toServiceId: quote.target.id, amount: quote.amountDue },
    });
    if (quote.amountDue > 0) {
      await charge(tx, { userId, type: 'CHARGE', amount: -quote.amountDue, description: `Upgrade to ${quote.target.displayName} for the rest of the period`, idempotencyKey: `upgrade:${id}:${quote.target.id}:${quote.current.currentPeriodStart.toISOString()}`, subscriptionId: id, now });
    }
    return moved;
  });
  settle(deps, [result]);
  return getSubscription(deps, userId, id);
}

