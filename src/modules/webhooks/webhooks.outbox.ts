import type { Db } from '../../lib/db.js';
import type { EventConsumer, EventRow } from '../../lib/events.js';
import type { Clock, JobQueue } from '../../lib/jobs.js';
import { queueDeliveries } from './webhooks.delivery.js';
import { isWebhookEvent, TEST_EVENT } from './webhooks.events.js';

/** A due delivery still unattempted this long after its time lost its job (a crash after a commit), or waits behind a backlog. */
const LOST_AFTER_MS = 60_000;
/** Finished deliveries (and their attempts) are kept this long for the delivery log. */
export const DELIVERY_RETENTION_DAYS = 30;

const testTarget = (data: unknown) => {
  const id = (data as { webhookId?: unknown } | null)?.webhookId;
  return typeof id === 'string' ? id : undefined;
};

// One statement for a whole dispatch batch (raw SQL: Prisma would need a read and an insert per
// event), in the dispatcher's transaction. Ids have the length and first letter of Prisma's cuid.
const FAN_OUT_SQL = `INSERT INTO webhook_deliveries (id, "webhookId", "eventId", "eventType", "nextAttemptAt", "createdAt", "updatedAt")
  SELECT 'c' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), w.id, e.id, e.type, $5::timestamp, $5::timestamp, $5::timestamp
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS e(id, type, "userId", target)
  JOIN webhooks w ON w."userId" = e."userId" AND w."isActive"
    AND CASE WHEN e.target IS NOT NULL THEN w.id = e.target ELSE coalesce(cardinality(w.events), 0) = 0 OR e.type = ANY (w.events) END
  ON CONFLICT ("webhookId", "eventId") DO NOTHING
  RETURNING id`;

/**
 * The dispatcher's webhook side: an event of a user becomes one delivery per active endpoint of
 * that user whose filter takes its type (an empty filter takes all), unique per (endpoint,
 * event), so a second dispatch adds nothing. A `webhook.test` event goes to the one endpoint it
 * names, whatever its filter. Events outside PHASE2.md's list (account events) reach no endpoint.
 */
export function webhookConsumer(deps: { jobs: JobQueue }): EventConsumer {
  return {
    name: 'webhooks',
    consumeBatch: async (tx, batch, clock) => {
      const events = batch.filter((e): e is EventRow & { userId: string } => e.userId !== null && isWebhookEvent(e.type));
      if (events.length === 0) return undefined;
      const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
        FAN_OUT_SQL,
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => e.userId),
        events.map((e) => (e.type === TEST_EVENT ? (testTarget(e.data) ?? '') : null)),
        clock.now().toISOString(),
      );
      return rows.length > 0 ? () => queueDeliveries(deps.jobs, rows.map((r) => r.id)) : undefined;
    },
  };
}

/**
 * The safety net of the `webhook.sweep` job, every minute: queues again the deliveries that are
 * overdue and not held by an attempt (their job was lost between a commit and its queueing, or a
 * process died holding it), and deletes finished deliveries past the retention period in
 * bounded batches.
 */
export async function sweepDeliveries(db: Db, jobs: JobQueue, clock: Clock): Promise<{ requeued: number; deleted: number }> {
  const now = clock.now();
  const lost = await db.webhookDelivery.findMany({
    where: { status: 'PENDING', nextAttemptAt: { lt: new Date(now.getTime() - LOST_AFTER_MS) }, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    select: { id: true },
    orderBy: { nextAttemptAt: 'asc' },
    take: 500,
  });
  if (lost.length > 0) await queueDeliveries(jobs, lost.map((d) => d.id));
  const cutoff = new Date(now.getTime() - DELIVERY_RETENTION_DAYS * 86_400_000);
  const old = await db.webhookDelivery.findMany({ where: { createdAt: { lt: cutoff }, status: { not: 'PENDING' } }, select: { id: true }, take: 1000 });
  const { count } = old.length > 0 ? await db.webhookDelivery.deleteMany({ where: { id: { in: old.map((d) => d.id) } } }) : { count: 0 };
  return { requeued: lost.length, deleted: count };
}
