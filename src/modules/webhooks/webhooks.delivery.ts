import type { Config } from '../../lib/config.js';
import { createSecretBox } from '../../lib/crypto.js';
import type { Db, DbClient } from '../../lib/db.js';
import { recordEvent } from '../../lib/events.js';
import type { Clock, JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { PostResult, WebhookClient } from './webhooks.client.js';
import { ENDPOINT_DISABLED_EVENT, webhookBody, type EndpointDisabledData } from './webhooks.events.js';
import { nextAttemptAt } from './webhooks.schedule.js';
import { openSecret, signedHeaders } from './webhooks.secrets.js';
import { urlProblem } from './webhooks.url.js';

export const WEBHOOK_QUEUE = 'webhook.deliver';
/** How long an attempt holds its delivery: well beyond the client's 15 s timeout and the writes after it. */
const LEASE_MS = 60_000;
/** A job may start a little before its delivery's time by the app's clock (pg-boss reads the database's). */
const EARLY_MS = 2000;
/** The fifth delivery in a row that fails disables the endpoint. */
export const FAILURES_TO_DISABLE = 5;

export interface DeliveryDeps {
  db: Db;
  config: Pick<Config, 'encryptionKey' | 'webhooks'>;
  jobs: JobQueue;
  client: WebhookClient;
  logger: Logger;
  /** For tests of the jitter; Math.random otherwise. */
  random?: () => number;
}

export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'skipped';

/** Queues the attempt of each delivery, at `startAfter` or now. */
export async function queueDeliveries(jobs: JobQueue, ids: readonly string[], startAfter?: Date): Promise<void> {
  for (const id of ids) await jobs.send(WEBHOOK_QUEUE, { deliveryId: id }, startAfter ? { startAfter } : {});
  if (!startAfter) jobs.wake(WEBHOOK_QUEUE);
}

const DELIVERY_FOR_ATTEMPT = {
  id: true,
  attempts: true,
  maxAttempts: true,
  webhook: { select: { id: true, userId: true, url: true, isActive: true, consecutiveFailures: true, secretSealed: true, previousSecretSealed: true, previousSecretExpiresAt: true } },
  event: { select: { id: true, type: true, occurredAt: true, subjectType: true, subjectId: true, data: true } },
} as const;

/**
 * Disables an endpoint once (a conditional UPDATE), and records the event that emails its owner
 * in the same transaction. False when it was already disabled.
 */
export async function disableEndpoint(tx: DbClient, webhook: { id: string; userId: string; url: string }, reason: string, now: Date): Promise<boolean> {
  const { count } = await tx.webhook.updateMany({ where: { id: webhook.id, isActive: true }, data: { isActive: false, disabledReason: reason, disabledAt: now } });
  if (count === 0) return false;
  const data: EndpointDisabledData = { webhookId: webhook.id, url: webhook.url, reason };
  await recordEvent(tx, { type: ENDPOINT_DISABLED_EVENT, userId: webhook.userId, subjectType: 'webhook', subjectId: webhook.id, data: { ...data } }, now);
  return true;
}

/**
 * The `webhook.deliver` handler: one attempt of one delivery. A conditional UPDATE leases the
 * delivery, so however many jobs exist for it (a retry, the safety net, two processes) one
 * attempt runs at a time, only when it is due, and never after the delivery finished. The
 * attempt, the delivery's new state and the endpoint's failure count are written in one
 * transaction; the next attempt is queued after it. A failed attempt is not a failed job: the
 * retries follow the delivery schedule, not pg-boss's backoff.
 */
export async function deliverWebhook(deps: DeliveryDeps, { deliveryId }: { deliveryId: string }, ctx: { clock: Clock }): Promise<DeliveryOutcome> {
  const { db } = deps;
  const now = ctx.clock.now();
  const lease = new Date(now.getTime() + LEASE_MS);
  const claim = await db.webhookDelivery.updateMany({
    where: {
      id: deliveryId,
      status: 'PENDING',
      AND: [{ OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: new Date(now.getTime() + EARLY_MS) } }] }, { OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] }],
    },
    data: { lockedUntil: lease },
  });
  if (claim.count === 0) return 'skipped';
  const delivery = await db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId }, select: DELIVERY_FOR_ATTEMPT });
  const { webhook, event } = delivery;
  if (!webhook.isActive) {
    await db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'FAILED', lockedUntil: null, nextAttemptAt: null, lastError: 'Not sent: the endpoint is disabled' } });
    return 'failed';
  }

  const body = webhookBody(event);
  const box = createSecretBox(deps.config.encryptionKey);
  const secrets = [openSecret(box, webhook.userId, webhook.secretSealed)];
  if (webhook.previousSecretSealed && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now) secrets.push(openSecret(box, webhook.userId, webhook.previousSecretSealed));
  // The signature's timestamp is wall time, not the scheduling clock: receivers compare it with
  // their own clock to refuse replays.
  const sentAt = new Date();
  // Scheme and credentials are checked again (a row older than a configuration change); the
  // address is left to the agent, which checks what the name resolves to.
  const problem = urlProblem(webhook.url, deps.config.webhooks, { addresses: false });
  const result: PostResult = problem ? { error: `Refused: the URL ${problem}`, durationMs: 0 } : await deps.client.post(webhook.url, signedHeaders(event.id, sentAt, body, secrets), body);

  const number = delivery.attempts + 1;
  const finishedAt = ctx.clock.now();
  const status = result.status;
  const succeeded = status !== undefined && status >= 200 && status < 300 && !result.error;
  const gone = status === 410;
  const error = succeeded ? null : (result.error ?? (status !== undefined ? `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}` : 'No response'));
  const next = succeeded || gone ? undefined : nextAttemptAt(number, delivery.maxAttempts, finishedAt, result.retryAfter, deps.random);
  const outcome: DeliveryOutcome = succeeded ? 'succeeded' : next ? 'retrying' : 'failed';
  const response = { responseStatus: status ?? null, responseBody: result.body ?? null, durationMs: result.durationMs };

  let disabled = false;
  await db.$transaction(async (tx) => {
    await tx.webhookAttempt.create({ data: { deliveryId, number, startedAt: now, error, ...response } });
    await tx.webhookDelivery.update({
      where: { id: deliveryId },
      data: {
        status: outcome === 'retrying' ? 'PENDING' : outcome === 'succeeded' ? 'SUCCEEDED' : 'FAILED',
        attempts: number,
        lastAttemptAt: now,
        lastError: error,
        nextAttemptAt: next ?? null,
        lockedUntil: null,
        deliveredAt: succeeded ? finishedAt : undefined,
        ...response,
      },
    });
    if (succeeded) {
      if (webhook.consecutiveFailures > 0) await tx.webhook.updateMany({ where: { id: webhook.id, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
    } else if (gone) {
      disabled = await disableEndpoint(tx, webhook, 'The endpoint answered 410 Gone', finishedAt);
    } else if (outcome === 'failed') {
      const { consecutiveFailures } = await tx.webhook.update({ where: { id: webhook.id }, data: { consecutiveFailures: { increment: 1 } }, select: { consecutiveFailures: true } });
      if (consecutiveFailures >= FAILURES_TO_DISABLE) disabled = await disableEndpoint(tx, webhook, `${consecutiveFailures} deliveries in a row failed`, finishedAt);
    }
  });

  if (next) await queueDeliveries(deps.jobs, [deliveryId], next);
  if (disabled) {
    deps.logger.warn(`Webhook ${webhook.id} disabled after delivery ${deliveryId} (${gone ? '410 Gone' : 'failures in a row'})`);
    deps.jobs.trigger('events.dispatch');
  }
  return outcome;
}
