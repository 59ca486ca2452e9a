import type { Prisma } from '../../lib/db.js';
import type { RawClient } from '../../lib/sql-transaction.js';
import { AppError } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { SubscriptionStatus } from '../../generated/prisma/enums.js';

/** What a transition asks of the subscription's instance once committed (carried out by the instances module). */
export type InstanceEffect = 'provision' | 'stop' | 'resume' | 'delete';

interface Rule {
  from: readonly SubscriptionStatus[];
  /** Undefined: the status stays (a renewal, a scheduled cancellation). */
  to?: SubscriptionStatus;
  /** The DomainEvent written with it (also its webhook type). */
  event: string;
  /** Extra conditions of the same UPDATE. */
  where?: TransitionFields;
  instance?: InstanceEffect;
}

const LIVE = ['PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED'] as const;

/**
 * Every way a subscription's status can change, as (from, event, to). transition() is the only
 * code that applies them: one conditional UPDATE (`WHERE id = $1 AND status IN (from)`) and the
 * event, in the caller's transaction. Anything else is 409 INVALID_STATE and changes nothing.
 */
export const TRANSITIONS = {
  /** (none) -> PENDING is the insert in subscribe(); the instance is then provisioned. */
  activate: { from: ['PENDING'], to: 'ACTIVE', event: 'subscription.activated' },
  provisionFailed: { from: ['PENDING'], to: 'CANCELLED', event: 'subscription.cancelled', instance: 'delete' },
  cancelPending: { from: ['PENDING'], to: 'CANCELLED', event: 'subscription.cancelled', instance: 'delete' },
  renew: { from: ['ACTIVE'], event: 'subscription.renewed' },
  paymentFailed: { from: ['ACTIVE'], to: 'PAST_DUE', event: 'subscription.past_due' },
  paymentRecovered: { from: ['PAST_DUE'], to: 'ACTIVE', event: 'subscription.renewed' },
  graceExpired: { from: ['PAST_DUE'], to: 'SUSPENDED', event: 'subscription.suspended', instance: 'stop' },
  paidAfterSuspension: { from: ['SUSPENDED'], to: 'ACTIVE', event: 'subscription.resumed', where: { suspendedBy: 'BILLING' }, instance: 'resume' },
  adminResume: { from: ['SUSPENDED'], to: 'ACTIVE', event: 'subscription.resumed', where: { suspendedBy: 'ADMIN' }, instance: 'resume' },
  expire: { from: ['SUSPENDED', 'CANCELLED'], to: 'EXPIRED', event: 'subscription.expired', instance: 'delete' },
  scheduleCancel: { from: ['ACTIVE', 'PAST_DUE'], event: 'subscription.cancel_scheduled', where: { cancelAtPeriodEnd: false } },
  reactivate: { from: ['ACTIVE', 'PAST_DUE'], event: 'subscription.reactivated', where: { cancelAtPeriodEnd: true } },
  cancelAtPeriodEnd: { from: ['ACTIVE', 'PAST_DUE'], to: 'CANCELLED', event: 'subscription.cancelled', where: { cancelAtPeriodEnd: true }, instance: 'stop' },
  cancelNow: { from: ['ACTIVE', 'PAST_DUE'], to: 'CANCELLED', event: 'subscription.cancelled', instance: 'stop' },
  adminCancel: { from: LIVE, to: 'CANCELLED', event: 'subscription.cancelled', instance: 'stop' },
  adminSuspend: { from: ['PENDING', 'ACTIVE', 'PAST_DUE'], to: 'SUSPENDED', event: 'subscription.suspended', instance: 'stop' },
  upgrade: { from: ['ACTIVE'], event: 'subscription.plan_changed', instance: 'resume' },
  scheduleDowngrade: { from: ['ACTIVE', 'PAST_DUE'], event: 'subscription.plan_changed' },
  extend: { from: ['ACTIVE', 'PAST_DUE', 'SUSPENDED'], event: 'subscription.extended' },
} as const satisfies Record<string, Rule>;

export type TransitionName = keyof typeof TRANSITIONS;

export interface TransitionResult {
  id: string;
  status: SubscriptionStatus;
  userId: string;
  instance?: InstanceEffect;
  /** The instance, when the caller knows it (saves the hook a lookup). */
  instanceId?: string;
}

const TERMINAL = new Set<SubscriptionStatus>(['CANCELLED', 'EXPIRED']);

/** The columns a transition may write or match, with the type each value is cast to. */
const COLUMNS = {
  serviceId: 'text',
  pendingServiceId: 'text',
  cancelReason: 'text',
  suspendedBy: '"SuspendedBy"',
  priceAmount: 'int',
  billingAnchorDay: 'int',
  cancelAtPeriodEnd: 'boolean',
  currentPeriodStart: 'timestamp',
  currentPeriodEnd: 'timestamp',
  graceEndsAt: 'timestamp',
  suspendedAt: 'timestamp',
  cancelledAt: 'timestamp',
  endedAt: 'timestamp',
} as const;
export type TransitionFields = { -readonly [K in keyof typeof COLUMNS]?: (typeof COLUMNS)[K] extends 'timestamp' ? Date | null : (typeof COLUMNS)[K] extends 'int' ? number : (typeof COLUMNS)[K] extends 'boolean' ? boolean : string | null };

// Timestamps are timestamp(3) holding UTC wall time: the ISO text's zone is dropped by the cast.
const valueOf = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

/**
 * Applies `name` to the subscription: one UPDATE guarded by the rule's `from` (and `where`), the
 * rule's event in the same transaction. 409 INVALID_STATE, with nothing changed, when the
 * subscription is not in a state the rule starts from. Raw SQL, so that it runs in a Prisma
 * transaction and in sqlTransaction's (the billing jobs' hot path) alike.
 */
export async function transition(
  tx: RawClient,
  id: string,
  name: TransitionName,
  input: { now: Date; data?: TransitionFields; where?: TransitionFields; eventData?: Prisma.InputJsonObject },
): Promise<TransitionResult> {
  const rule: Rule = TRANSITIONS[name];
  const data: TransitionFields = { ...input.data };
  if (rule.to && TERMINAL.has(rule.to)) data.endedAt ??= input.now;
  const values: unknown[] = [id, rule.from, rule.to ?? null];
  const param = (column: string, v: unknown) => `$${values.push(valueOf(v))}::${COLUMNS[column as keyof typeof COLUMNS]}`;
  const set = Object.entries(data).map(([c, v]) => `"${c}" = ${param(c, v)}`);
  const match = Object.entries({ ...rule.where, ...input.where }).map(([c, v]) => `"${c}" IS NOT DISTINCT FROM ${param(c, v)}`);
  const [row] = await tx.$queryRawUnsafe<{ status: SubscriptionStatus; userId: string; serviceId: string }[]>(
    `UPDATE subscriptions SET status = coalesce($3::"SubscriptionStatus", status), ${[...set, `"updatedAt" = statement_timestamp() AT TIME ZONE 'UTC'`].join(', ')}
     WHERE id = $1 AND status = ANY($2::"SubscriptionStatus"[])${match.map((m) => ` AND ${m}`).join('')}
     RETURNING status::text AS status, "userId", "serviceId"`,
    ...values,
  );
  if (!row) {
    const [current] = await tx.$queryRawUnsafe<{ status: string }[]>(`SELECT status::text AS status FROM subscriptions WHERE id = $1`, id);
    if (!current) throw new AppError('NOT_FOUND', `Subscription '${id}' not found`);
    throw new AppError('INVALID_STATE', `The subscription is ${current.status}: it cannot ${describe(name)} now`);
  }
  await recordEvent(tx, { type: rule.event, userId: row.userId, subjectType: 'subscription', subjectId: id, data: { subscriptionId: id, serviceId: row.serviceId, status: row.status, ...input.eventData } }, input.now);
  return { id, status: row.status, userId: row.userId, instance: rule.instance };
}

const describe = (name: TransitionName) => name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
