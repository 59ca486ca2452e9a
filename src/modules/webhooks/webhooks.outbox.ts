import type { Db } from '../../lib/db.js';
import type { EventConsumer } from '../../lib/events.js';
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

/**
 * The dispatcher's webhook side: an event of a user becomes one delivery per active endpoint of
 * that user whose filter takes its type (an empty filter takes all), unique per (endpoint,
 * event), so a second dispatch adds nothing. A `webhook.test` event goes to the one endpoint it
 * names. Events outside PHASE2.md's list (account events) reach no endpoint.
 */
export function webhookConsumer(deps: { jobs: JobQueue }): EventConsumer {
  return {
    name: 'webhooks',
    consume: async (tx, event, clock) => {
      if (!event.userId || !isWebhookEvent(event.type)) return undefined;
      const where =
        event.type === TEST_EVENT
          ? { id: testTarget(event.data) ?? '', userId: event.userId, isActive: true }
          : { userId: event.userId, isActive: true, OR: [{ events: { isEmpty: true } }, { events: { has: event.type } }] };
      const endpoints = await tx.webhook.findMany({ where, select: { id: true } });
      if (endpoints.length === 0) return undefined;
      const now = clock.now();
      const rows = await tx.webhookDelivery.createManyAndReturn({
        data: endpoints.map((e) => ({ webhookId: e.id, eventId: event.id, eventType: event.type, nextAttemptAt: now })),
        skipDuplicates: true,
        select: { id: true },
      });
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
