import type { Config } from '../../lib/config.js';
import { createSecretBox } from '../../lib/crypto.js';
import type { Db, DbClient, Prisma } from '../../lib/db.js';
import { recordEvent } from '../../lib/events.js';
import type { Clock, JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import { sqlFor } from '../../lib/sql.js';
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
  await jobs.sendMany(WEBHOOK_QUEUE, ids.map((id) => ({ data: { deliveryId: id }, startAfter })));
  if (!startAfter) jobs.wake(WEBHOOK_QUEUE);
}

interface Claimed {
  attempts: number;
  maxAttempts: number;
  webhookId: string;
  userId: string;
  url: string;
  isActive: boolean;
  consecutiveFailures: number;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  eventId: string;
  type: string;
  occurredAt: Date;
  subjectType: string;
  subjectId: string;
  data: Prisma.JsonValue;
}

// Raw SQL on the hot path, one statement each: an attempt costs two round trips (lease with
// everything it needs, then its record) instead of eight through Prisma. Timestamps are passed as
// ISO text and cast to `timestamp`, which keeps the UTC wall time the columns hold. Ids have the
// length and first letter of Prisma's cuid.
const CLAIM_SQL = `UPDATE webhook_deliveries d SET "lockedUntil" = $2::timestamp
  FROM webhooks w, domain_events e
  WHERE d.id = $1::text AND d.status = 'PENDING' AND (d."nextAttemptAt" IS NULL OR d."nextAttemptAt" <= $3::timestamp)
    AND (d."lockedUntil" IS NULL OR d."lockedUntil" < $4::timestamp) AND w.id = d."webhookId" AND e.id = d."eventId"
  RETURNING d.attempts, d."maxAttempts", w.id AS "webhookId", w."userId", w.url, w."isActive", w."consecutiveFailures", w."secretSealed",
    w."previousSecretSealed", w."previousSecretExpiresAt", e.id AS "eventId", e.type, e."occurredAt", e."subjectType", e."subjectId", e.data`;

const RECORD_SQL = `WITH attempt AS (
    INSERT INTO webhook_attempts (id, "deliveryId", number, "startedAt", "durationMs", "responseStatus", "responseBody", error, "createdAt")
    VALUES ('c' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), $1::text, $2::int, $3::timestamp, $4::int, $5::int, $6::text, $7::text, $8::timestamp)
  )
  UPDATE webhook_deliveries SET status = $9::"WebhookDeliveryStatus", attempts = $2::int, "lastAttemptAt" = $3::timestamp, "lastError" = $7::text,
    "nextAttemptAt" = $10::timestamp, "lockedUntil" = NULL, "deliveredAt" = COALESCE($11::timestamp, "deliveredAt"), "responseStatus" = $5::int,
    "responseBody" = $6::text, "durationMs" = $4::int, "updatedAt" = $8::timestamp
  WHERE id = $1::text`;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

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
  const sql = sqlFor(db);
  const now = ctx.clock.now();
  const [claimed] = await sql<Claimed>(CLAIM_SQL, [deliveryId, iso(new Date(now.getTime() + LEASE_MS)), iso(new Date(now.getTime() + EARLY_MS)), iso(now)]);
  if (!claimed) return 'skipped';
  const webhook = { id: claimed.webhookId, userId: claimed.userId, url: claimed.url };
  if (!claimed.isActive) {
    await db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'FAILED', lockedUntil: null, nextAttemptAt: null, lastError: 'Not sent: the endpoint is disabled' } });
    return 'failed';
  }

  const body = webhookBody(claimed);
  const box = createSecretBox(deps.config.encryptionKey);
  let secrets: string[];
  try {
    secrets = [openSecret(box, claimed.userId, claimed.secretSealed)];
    if (claimed.previousSecretSealed && claimed.previousSecretExpiresAt && claimed.previousSecretExpiresAt > now) secrets.push(openSecret(box, claimed.userId, claimed.previousSecretSealed));
  } catch {
    // Sealed under another key: no retry can sign it. Its owner can rotate the secret and retry.
    deps.logger.error(`Webhook ${claimed.webhookId}: its signing secret does not open with this ENCRYPTION_KEY; delivery ${deliveryId} not sent`);
    await db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'FAILED', lockedUntil: null, nextAttemptAt: null, lastError: 'Not sent: the signing secret cannot be decrypted; rotate it and retry' } });
    return 'failed';
  }
  // The signature's timestamp is wall time, not the scheduling clock: receivers compare it with
  // their own clock to refuse replays.
  const sentAt = new Date();
  // Scheme and credentials are checked again (a row older than a configuration change); the
  // address is left to the agent, which checks what the name resolves to.
  const problem = urlProblem(claimed.url, deps.config.webhooks, { addresses: false });
  const result: PostResult = problem ? { error: `Refused: the URL ${problem}`, durationMs: 0 } : await deps.client.post(claimed.url, signedHeaders(claimed.eventId, sentAt, body, secrets), body);

  const number = claimed.attempts + 1;
  const finishedAt = ctx.clock.now();
  const status = result.status;
  const succeeded = status !== undefined && status >= 200 && status < 300 && !result.error;
  const gone = status === 410;
  const error = succeeded ? null : (result.error ?? (status !== undefined ? `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}` : 'No response'));
  const next = succeeded || gone ? undefined : nextAttemptAt(number, claimed.maxAttempts, finishedAt, result.retryAfter, deps.random);
  const outcome: DeliveryOutcome = succeeded ? 'succeeded' : next ? 'retrying' : 'failed';
  const record = [
    deliveryId, number, iso(now), result.durationMs, status ?? null, result.body ?? null, error, iso(finishedAt),
    outcome === 'retrying' ? 'PENDING' : outcome === 'succeeded' ? 'SUCCEEDED' : 'FAILED', iso(next), succeeded ? iso(finishedAt) : null,
  ];

  let disabled = false;
  if (succeeded && claimed.consecutiveFailures === 0) {
    // The common case touches nothing but the delivery: one statement.
    await sql(RECORD_SQL, record);
  } else {
    await db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(RECORD_SQL, ...record);
      if (succeeded) {
        await tx.webhook.updateMany({ where: { id: webhook.id, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
      } else if (gone) {
        disabled = await disableEndpoint(tx, webhook, 'The endpoint answered 410 Gone', finishedAt);
      } else if (outcome === 'failed') {
        const { consecutiveFailures } = await tx.webhook.update({ where: { id: webhook.id }, data: { consecutiveFailures: { increment: 1 } }, select: { consecutiveFailures: true } });
        if (consecutiveFailures >= FAILURES_TO_DISABLE) disabled = await disableEndpoint(tx, webhook, `${consecutiveFailures} deliveries in a row failed`, finishedAt);
      }
    });
  }

  if (next) await queueDeliveries(deps.jobs, [deliveryId], next);
  if (disabled) {
    deps.logger.warn(`Webhook ${webhook.id} disabled after delivery ${deliveryId} (${gone ? '410 Gone' : 'failures in a row'})`);
    deps.jobs.trigger('events.dispatch');
  }
  return outcome;
}
