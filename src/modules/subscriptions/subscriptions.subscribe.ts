import { AppError, notFound } from '../../lib/errors/index.js';
import { newEventId } from '../../lib/events.js';
import { newId } from '../../lib/ids.js';
import type { Db } from '../../lib/db.js';
import { sqlFor, type Sql } from '../../lib/sql.js';
import { DURABLE_AFTER, joinParams, sqlScript } from '../../lib/sql-transaction.js';
import { balanceOf, ensureWalletSql, entryValues, insufficientBalance, POST_ENTRY_CTES } from '../wallet/index.js';
import { admissionRefusal, admitStatement } from './subscriptions.admission.js';
import { anchorDayOf, nextPeriodEnd } from './subscriptions.periods.js';
import { settle, type SubscriptionsDeps } from './subscriptions.service.js';
import { newInstanceFields, SUBSCRIPTION_INCLUDE, toSubscriptionView, type SubscriptionRow } from './subscriptions.view.js';

interface ServiceRow {
  id: string;
  name: string;
  slug: string;
  displayName: string;
  category: string;
  monthlyPrice: number;
  currency: string;
  planGroup: string | null;
  status: string;
  deployable: boolean;
  cpuRequest: string;
  memRequest: string;
  nodeSelector: Record<string, string>;
}

type NewRows = Omit<SubscriptionRow, 'service' | 'pendingService' | 'instance'> & { instance: NonNullable<SubscriptionRow['instance']> };

// POST /subscriptions in two round trips: the service read, then the whole transaction as one
// script (sqlScript): the wallet made empty on first use, one statement that writes the
// subscription, its PENDING instance, the first month's CHARGE (the ledger's own statement, as
// CTEs) and the event, then admission, then the COMMIT, then the wait for it to be on disk. The
// same steps took six round trips as separate statements and fifteen through Prisma's interactive
// transaction; on two shared cores each round trip costs the API about 0.3 ms of its only thread
// in the socket write alone. The wallet and the writing statement are prepared on each connection
// (PreparedStep): sent with their values inlined, PostgreSQL parsed and planned the five CTEs on
// every subscribe (about 0.4 ms of its time).
const SERVICE_SQL = `SELECT id, name, slug, "displayName", category, "monthlyPrice", currency, "planGroup", status::text AS status,
    ("dockerImage" IS NOT NULL AND "containerPort" IS NOT NULL) AS deployable, "cpuRequest", "memRequest", "nodeSelector"
  FROM service_catalog WHERE id = $1::text`;
// The service is read shared (SqlOptions.share): subscribes that reach it in one turn of the event
// loop read their services in one statement that starts after each of them arrived.
const readers = new WeakMap<Db, Sql>();
const readerOf = (db: Db) => readers.get(db) ?? readers.set(db, sqlFor(db)).get(db)!;

// What the answer shows, by name: the statement is prepared, and a `*` would change its result when
// a migration adds a column while the process runs, which PostgreSQL refuses for a prepared plan.
const SUB_COLUMNS = ['id', 'userId', 'serviceId', 'status', 'startDate', 'currentPeriodStart', 'currentPeriodEnd', 'billingAnchorDay', 'priceAmount', 'currency', 'cancelAtPeriodEnd', 'graceEndsAt', 'suspendedAt', 'suspendedBy', 'cancelledAt', 'endedAt', 'cancelReason', 'createdAt', 'updatedAt']
  .map((c) => `"${c}"`)
  .join(', ');

// Timestamps are timestamp(3) holding UTC wall time: the ISO text's zone is dropped by the cast.
// The partial unique index on live (user, service) pairs settles two concurrent subscribes of one
// user to one service; refuse_unless stops the script when the balance did not cover the charge.
const ROWS_CTES = `sub AS (
    INSERT INTO subscriptions (id, "userId", "serviceId", status, "startDate", "createdAt", "updatedAt", "currentPeriodStart", "currentPeriodEnd", "billingAnchorDay", "priceAmount", currency, "idempotencyKey")
    VALUES ($1, $2, $3, 'PENDING', $4::timestamp, $4::timestamp, $4::timestamp, $4::timestamp, $5::timestamp, $6::int, $7::int, $8, $9)
    RETURNING ${SUB_COLUMNS}
  ), inst AS (
    INSERT INTO service_instances (id, "subscriptionId", status, "shortId", namespace, host, url, "cpuRequestMillis", "memoryRequestMb", "nodeSelector", "lastTransitionAt", "createdAt", "updatedAt")
    SELECT $10, sub.id, 'PENDING', $11, $12, $13, $14, $15::int, $16::int, $17::jsonb, $4::timestamp, $4::timestamp, $4::timestamp FROM sub
    RETURNING id, status, url, host, namespace, "nodeName", "workerNodeId", "readyReplicas", "lastError", "lastTransitionAt", "createdAt"
  )`;
const EVENT_CTE = `event AS (
    INSERT INTO domain_events (id, type, "userId", "subjectType", "subjectId", data, "occurredAt")
    SELECT $1, 'subscription.created', $2, 'subscription', $3, $4::jsonb || jsonb_build_object('transactionId', r.id, 'transactionNumber', r.number), $5::timestamp FROM ledger_row r
  )`;
const RESULT = `SELECT sub.*, row_to_json(inst.*) AS instance, refuse_unless(r.id IS NOT NULL, 'INSUFFICIENT_BALANCE') AS charged
  FROM sub CROSS JOIN inst LEFT JOIN ledger_row r ON true`;

/** pg's unique violation of a constraint whose name holds `target`. */
const isUniqueViolation = (err: unknown, target: string) => {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && (e.constraint ?? '').includes(target);
};

const alreadySubscribed = () => new AppError('ALREADY_SUBSCRIBED', 'You already have a live subscription to this service');

/**
 * Subscribes `userId` to a service: checks, the subscription and its PENDING instance, the first
 * period's CHARGE, the event and admission (stock, fleet room), in one transaction. With an
 * Idempotency-Key a replay (even a concurrent one) returns the first result instead of charging again.
 */
export async function subscribe(deps: SubscriptionsDeps, userId: string, input: { serviceId: string }, idempotencyKey?: string) {
  const { db, config } = deps;
  const key = idempotencyKey ? `${userId}:${idempotencyKey}` : undefined;
  const replay = async () => {
    const first = key ? await db.subscription.findUnique({ where: { idempotencyKey: key }, include: SUBSCRIPTION_INCLUDE }) : null;
    if (first && first.serviceId !== input.serviceId) throw new AppError('CONFLICT', 'This Idempotency-Key was used for a different request', { errors: [{ field: 'Idempotency-Key', message: 'already used for another service' }] });
    return first ? { subscription: toSubscriptionView(first), replayed: true } : undefined;
  };
  const earlier = await replay();
  if (earlier) return earlier;
  const now = (deps.now ?? (() => new Date()))();
  const at = now.toISOString();
  const id = newId();
  const [service] = await readerOf(db)<ServiceRow>(SERVICE_SQL, [input.serviceId], { share: true });
  if (!service || service.status !== 'ACTIVE') throw notFound('service', input.serviceId);
  if (!service.deployable) throw new AppError('SERVICE_NOT_DEPLOYABLE', `${service.displayName} has no image or port yet and cannot be subscribed to`);
  const tz = config.billing.timezone;
  const anchor = anchorDayOf(now, tz);
  const instance = newInstanceFields(service, config.appsDomain);
  const entry = { userId, type: 'CHARGE' as const, amount: -service.monthlyPrice, description: `${service.displayName}, first month`, idempotencyKey: `charge:${id}:${at}`, subscriptionId: id, now };
  const { texts, values } = joinParams([
    {
      text: ROWS_CTES,
      values: [
        id, userId, service.id, at, nextPeriodEnd(now, anchor, tz).toISOString(), anchor, service.monthlyPrice, service.currency, key ?? null,
        newId(), instance.shortId, instance.namespace, instance.host, instance.url, instance.cpuRequestMillis, instance.memoryRequestMb, JSON.stringify(instance.nodeSelector),
      ],
    },
    { text: POST_ENTRY_CTES, values: entryValues(entry) },
    { text: EVENT_CTE, values: [newEventId(now), userId, id, JSON.stringify({ subscriptionId: id, serviceId: service.id, status: 'PENDING', amount: service.monthlyPrice }), at] },
  ]);
  try {
    const insert = { text: `WITH ${texts.join(', ')} ${RESULT}`, values };
    const script = [
      'BEGIN',
      // The admission lock is held until the commit: a commit that waited for its WAL flush would
      // hold it through an fsync, one subscribe per fsync. This one does not wait; DURABLE_AFTER,
      // after it in the same message, does, outside the lock, where concurrent flushes share one.
      'SET LOCAL synchronous_commit = off',
      { text: ensureWalletSql, values: [newId(), userId, config.currency] },
      insert,
      // Stock and room are decided one subscribe at a time, last, so the last slot of a service
      // or of the fleet is sold once (subscriptions.admission.ts).
      admitStatement(id),
      'COMMIT',
      DURABLE_AFTER,
    ];
    const results = await sqlScript(db, script);
    const rows = results[script.indexOf(insert)]?.rows[0] as (NewRows & { charged: boolean }) | undefined;
    if (!rows) throw new Error('the subscription insert returned no row');
    settle(deps, [{ id, status: 'PENDING', userId, instance: 'provision', instanceId: rows.instance.id }]);
    const { instance: row, charged: _charged, ...sub } = rows;
    const view: SubscriptionRow = {
      ...sub,
      service: { id: service.id, name: service.name, slug: service.slug, displayName: service.displayName, category: service.category, monthlyPrice: service.monthlyPrice, currency: service.currency, planGroup: service.planGroup },
      pendingService: null,
      // row_to_json writes timestamps as ISO text without a zone: UTC wall time.
      instance: { ...row, lastTransitionAt: utc(row.lastTransitionAt), createdAt: utc(row.createdAt) },
    };
    return { subscription: toSubscriptionView(view), replayed: false };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'P0001' && (err as Error).message === 'INSUFFICIENT_BALANCE') {
      throw insufficientBalance((await balanceOf(db, userId)) ?? 0, service.monthlyPrice);
    }
    const refused = admissionRefusal(err, service);
    if (refused) throw refused;
    // A concurrent twin committed first: the same key is a replay, the same service a duplicate.
    if (key && isUniqueViolation(err, 'idempotencyKey')) return (await replay()) as NonNullable<Awaited<ReturnType<typeof replay>>>;
    if (isUniqueViolation(err, 'subscriptions_live_user_service_key')) throw alreadySubscribed();
    throw err;
  }
}

const utc = (value: Date | string) => (value instanceof Date ? value : new Date(`${value}Z`));
