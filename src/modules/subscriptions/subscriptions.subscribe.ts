import { AppError, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import { newId } from '../../lib/ids.js';
import { sqlTransaction } from '../../lib/sql-transaction.js';
import { ensureWalletSql, charge } from '../wallet/index.js';
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

// The hot path of POST /subscriptions as raw SQL on one pg connection (sqlTransaction): six
// round trips (BEGIN, the service, the rows, the charge, the event, admission with the COMMIT),
// where the same steps through Prisma's interactive transaction took fifteen and a read of the
// result. The user's wallet is made empty on first use, with the service read.
const SERVICE_SQL = `WITH wallet AS (${ensureWalletSql})
  SELECT id, name, slug, "displayName", category, "monthlyPrice", currency, "planGroup", status::text AS status,
    ("dockerImage" IS NOT NULL AND "containerPort" IS NOT NULL) AS deployable, "cpuRequest", "memRequest", "nodeSelector"
  FROM service_catalog WHERE id = $4`;

// The subscription and its PENDING instance. Timestamps are timestamp(3) holding UTC wall time:
// the ISO text's zone is dropped by the cast. The partial unique index on live (user, service)
// pairs settles two concurrent subscribes of one user to one service, before any money moves.
const INSERT_SQL = `WITH sub AS (
    INSERT INTO subscriptions (id, "userId", "serviceId", status, "startDate", "createdAt", "updatedAt", "currentPeriodStart", "currentPeriodEnd", "billingAnchorDay", "priceAmount", currency, "idempotencyKey")
    VALUES ($1, $2, $3, 'PENDING', $4::timestamp, $4::timestamp, $4::timestamp, $4::timestamp, $5::timestamp, $6::int, $7::int, $8, $9)
    RETURNING *
  ), inst AS (
    INSERT INTO service_instances (id, "subscriptionId", status, "shortId", namespace, host, url, "cpuRequestMillis", "memoryRequestMb", "nodeSelector", "lastTransitionAt", "createdAt", "updatedAt")
    SELECT $10, sub.id, 'PENDING', $11, $12, $13, $14, $15::int, $16::int, $17::jsonb, $4::timestamp, $4::timestamp, $4::timestamp FROM sub
    RETURNING id, status, url, host, namespace, "nodeName", "workerNodeId", "readyReplicas", "lastError", "lastTransitionAt", "createdAt"
  )
  SELECT sub.*, row_to_json(inst.*) AS instance FROM sub, inst`;

const isUniqueViolation = (err: unknown, target: string) => {
  const e = err as { code?: string; constraint?: string; meta?: unknown; message?: string };
  if (e.code === '23505') return (e.constraint ?? '').includes(target);
  if (e.code !== 'P2002') return false;
  return JSON.stringify(e.meta ?? {}).includes(target) || (e.message ?? '').includes(target);
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
  let service: ServiceRow | undefined;
  try {
    const rows = await sqlTransaction(
      db,
      async (tx) => {
        [service] = await tx.query<ServiceRow>(SERVICE_SQL, [...ensureWalletValues(userId, config.currency), input.serviceId]);
        if (!service || service.status !== 'ACTIVE') throw notFound('service', input.serviceId);
        if (!service.deployable) throw new AppError('SERVICE_NOT_DEPLOYABLE', `${service.displayName} has no image or port yet and cannot be subscribed to`);
        const tz = config.billing.timezone;
        const anchor = anchorDayOf(now, tz);
        const instance = newInstanceFields(service, config.appsDomain);
        const [row] = await tx.query<NewRows>(INSERT_SQL, [
          id, userId, service.id, at, nextPeriodEnd(now, anchor, tz).toISOString(), anchor, service.monthlyPrice, service.currency, key ?? null,
          newId(), instance.shortId, instance.namespace, instance.host, instance.url, instance.cpuRequestMillis, instance.memoryRequestMb, JSON.stringify(instance.nodeSelector),
        ]);
        if (!row) throw new Error('the subscription insert returned no row');
        const trx = await charge(tx, { userId, type: 'CHARGE', amount: -service.monthlyPrice, description: `${service.displayName}, first month`, idempotencyKey: `charge:${id}:${at}`, subscriptionId: id, now });
        await recordEvent(
          tx,
          { type: 'subscription.created', userId, subjectType: 'subscription', subjectId: id, data: { subscriptionId: id, serviceId: service.id, status: 'PENDING', transactionId: trx.id, transactionNumber: trx.number, amount: service.monthlyPrice } },
          now,
        );
        return row;
      },
      // Stock and room are decided one subscribe at a time, last, so the last slot of a service
      // or of the fleet is sold once (subscriptions.admission.ts).
      { last: admitStatement(id) },
    );
    settle(deps, [{ id, status: 'PENDING', userId, instance: 'provision', instanceId: rows.instance.id }]);
    const s = service as ServiceRow;
    const { instance, ...sub } = rows;
    const view: SubscriptionRow = {
      ...sub,
      service: { id: s.id, name: s.name, slug: s.slug, displayName: s.displayName, category: s.category, monthlyPrice: s.monthlyPrice, currency: s.currency, planGroup: s.planGroup },
      pendingService: null,
      // row_to_json writes timestamps as ISO text without a zone: UTC wall time.
      instance: { ...instance, lastTransitionAt: utc(instance.lastTransitionAt), createdAt: utc(instance.createdAt) },
    };
    return { subscription: toSubscriptionView(view), replayed: false };
  } catch (err) {
    const refused = service && admissionRefusal(err, service);
    if (refused) throw refused;
    // A concurrent twin committed first: the same key is a replay, the same service a duplicate.
    if (key && isUniqueViolation(err, 'idempotencyKey')) return (await replay()) as NonNullable<Awaited<ReturnType<typeof replay>>>;
    if (isUniqueViolation(err, 'subscriptions_live_user_service_key')) throw alreadySubscribed();
    throw err;
  }
}

const utc = (value: Date | string) => (value instanceof Date ? value : new Date(`${value}Z`));
const ensureWalletValues = (userId: string, currency: string) => [newId(), userId, currency];
