import type { z } from 'zod';
import type { Config } from '../../lib/config.js';
import { createSecretBox } from '../../lib/crypto.js';
import type { Db, Prisma } from '../../lib/db.js';
import { AppError, fieldError, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import { paginate, pageWindow } from '../../lib/http/index.js';
import type { JobQueue } from '../../lib/jobs.js';
import { queueDeliveries } from './webhooks.delivery.js';
import { TEST_EVENT } from './webhooks.events.js';
import type { createWebhookBody, listDeliveriesQuery, listWebhooksQuery, updateWebhookBody } from './webhooks.schemas.js';
import { generateSecret, ROTATION_OVERLAP_MS, sealSecret } from './webhooks.secrets.js';
import { normalizeUrl, urlProblem } from './webhooks.url.js';

export const MAX_WEBHOOKS_PER_USER = 10;

export interface WebhooksDeps {
  db: Db;
  config: Pick<Config, 'encryptionKey' | 'webhooks'>;
  jobs: JobQueue;
}

/** The columns a webhook is shown with: never its secrets. */
export const WEBHOOK_SELECT = {
  id: true, url: true, description: true, events: true, isActive: true, disabledReason: true, disabledAt: true,
  consecutiveFailures: true, previousSecretExpiresAt: true, createdAt: true, updatedAt: true,
} as const;

export const DELIVERY_SELECT = {
  id: true, webhookId: true, eventId: true, eventType: true, status: true, attempts: true, nextAttemptAt: true, lastAttemptAt: true,
  responseStatus: true, responseBody: true, lastError: true, durationMs: true, deliveredAt: true, createdAt: true, updatedAt: true,
} as const;

const ATTEMPT_SELECT = { number: true, startedAt: true, durationMs: true, responseStatus: true, responseBody: true, error: true } as const;

function checkedUrl(raw: string, config: WebhooksDeps['config']): string {
  const problem = urlProblem(raw, config.webhooks);
  if (problem) throw fieldError('url', `The URL ${problem}`);
  return normalizeUrl(raw);
}

async function ownWebhook(db: Db, userId: string, id: string) {
  const webhook = await db.webhook.findFirst({ where: { id, userId }, select: WEBHOOK_SELECT });
  if (!webhook) throw notFound('webhook', id);
  return webhook;
}

export async function listWebhooks(db: Db, userId: string, query: z.output<typeof listWebhooksQuery>) {
  const where: Prisma.WebhookWhereInput = {
    userId,
    isActive: query.isActive,
    ...(query.search ? { OR: [{ url: { contains: query.search, mode: 'insensitive' } }, { description: { contains: query.search, mode: 'insensitive' } }] } : {}),
  };
  const [webhooks, total] = await Promise.all([
    db.webhook.findMany({ where, select: WEBHOOK_SELECT, orderBy: [{ [query.sortBy]: query.sortOrder }, { id: 'asc' }], ...pageWindow(query.page, query.limit) }),
    db.webhook.count({ where }),
  ]);
  return { webhooks, pagination: paginate(query.page, query.limit, total) };
}

export const getWebhook = (db: Db, userId: string, id: string) => ownWebhook(db, userId, id);

/**
 * Creates an endpoint with a new secret, shown in this answer only. The ten-endpoint limit holds
 * under concurrent creates: a transaction-scoped advisory lock per user orders them, so each
 * counts what the one before committed (a plain count would let two see nine).
 */
export async function createWebhook(deps: WebhooksDeps, userId: string, body: z.output<typeof createWebhookBody>) {
  const url = checkedUrl(body.url, deps.config);
  const secret = generateSecret();
  const secretSealed = sealSecret(createSecretBox(deps.config.encryptionKey), userId, secret);
  const webhook = await deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`webhooks:${userId}`}, 0))`;
    if ((await tx.webhook.count({ where: { userId } })) >= MAX_WEBHOOKS_PER_USER) {
      throw new AppError('CONFLICT', `An account can have at most ${MAX_WEBHOOKS_PER_USER} webhook endpoints; delete one first`, { errors: [{ field: 'url', message: 'endpoint limit reached' }] });
    }
    return tx.webhook.create({ data: { userId, url, description: body.description ?? null, events: body.events, secretSealed }, select: WEBHOOK_SELECT });
  });
  return { ...webhook, secret };
}

export async function updateWebhook(deps: WebhooksDeps, userId: string, id: string, body: z.output<typeof updateWebhookBody>) {
  const before = await ownWebhook(deps.db, userId, id);
  const data: Prisma.WebhookUpdateInput = {
    url: body.url === undefined ? undefined : checkedUrl(body.url, deps.config),
    description: body.description,
    events: body.events,
    isActive: body.isActive,
    // Enabled again (by its owner, after a 410 or failures): it starts with a clean slate.
    ...(body.isActive === true ? { disabledReason: null, disabledAt: null, consecutiveFailures: 0 } : {}),
    ...(body.isActive === false && before.isActive ? { disabledReason: 'Paused by its owner', disabledAt: new Date() } : {}),
  };
  return deps.db.webhook.update({ where: { id }, data, select: WEBHOOK_SELECT });
}

export async function deleteWebhook(db: Db, userId: string, id: string) {
  const webhook = await ownWebhook(db, userId, id);
  await db.webhook.deleteMany({ where: { id, userId } });
  return webhook;
}

/** A new secret, shown once; the old one keeps signing (beside the new) for 24 hours. */
export async function rotateSecret(deps: WebhooksDeps, userId: string, id: string) {
  const current = await deps.db.webhook.findFirst({ where: { id, userId }, select: { secretSealed: true } });
  if (!current) throw notFound('webhook', id);
  const secret = generateSecret();
  const box = createSecretBox(deps.config.encryptionKey);
  const webhook = await deps.db.webhook.update({
    where: { id },
    data: { secretSealed: sealSecret(box, userId, secret), previousSecretSealed: current.secretSealed, previousSecretExpiresAt: new Date(Date.now() + ROTATION_OVERLAP_MS) },
    select: WEBHOOK_SELECT,
  });
  return { ...webhook, secret };
}

/** Records a `webhook.test` event for this endpoint only; the dispatcher turns it into its delivery right after. */
export async function sendTestEvent(deps: WebhooksDeps, userId: string, id: string) {
  const webhook = await ownWebhook(deps.db, userId, id);
  if (!webhook.isActive) throw new AppError('CONFLICT', 'The endpoint is disabled: enable it (PATCH isActive: true) before sending a test event');
  const eventId = await recordEvent(deps.db, {
    type: TEST_EVENT,
    userId,
    subjectType: 'webhook',
    subjectId: id,
    data: { webhookId: id, message: 'A test event sent from minispod' },
  });
  deps.jobs.trigger('events.dispatch');
  return { eventId, type: TEST_EVENT };
}

export async function listDeliveries(db: Db, userId: string, webhookId: string, query: z.output<typeof listDeliveriesQuery>) {
  await ownWebhook(db, userId, webhookId);
  const where = { webhookId, status: query.status, eventType: query.eventType };
  const [rows, total] = await Promise.all([
    db.webhookDelivery.findMany({
      where,
      select: { ...DELIVERY_SELECT, attemptLog: { select: ATTEMPT_SELECT, orderBy: { number: 'asc' } } },
      orderBy: [{ createdAt: query.sortOrder }, { id: 'asc' }],
      ...pageWindow(query.page, query.limit),
    }),
    db.webhookDelivery.count({ where }),
  ]);
  return { deliveries: rows, pagination: paginate(query.page, query.limit, total) };
}

/**
 * Sends a finished delivery again (a replay after a fix on the receiver's side): one more
 * attempt, now, with the same event id. A delivery still being retried has its own schedule.
 */
export async function retryDelivery(deps: WebhooksDeps, userId: string, webhookId: string, deliveryId: string) {
  const webhook = await ownWebhook(deps.db, userId, webhookId);
  const delivery = await deps.db.webhookDelivery.findFirst({ where: { id: deliveryId, webhookId }, select: { attempts: true } });
  if (!delivery) throw notFound('delivery', deliveryId);
  if (!webhook.isActive) throw new AppError('CONFLICT', 'The endpoint is disabled: enable it (PATCH isActive: true) before retrying its deliveries');
  const { count } = await deps.db.webhookDelivery.updateMany({
    where: { id: deliveryId, webhookId, status: { not: 'PENDING' } },
    data: { status: 'PENDING', maxAttempts: delivery.attempts + 1, nextAttemptAt: new Date(), lockedUntil: null },
  });
  if (count === 0) throw new AppError('CONFLICT', 'This delivery is still being attempted on its schedule; it can be retried once it has succeeded or failed');
  await queueDeliveries(deps.jobs, [deliveryId]);
  return deps.db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId }, select: { ...DELIVERY_SELECT, attemptLog: { select: ATTEMPT_SELECT, orderBy: { number: 'asc' } } } });
}

/** Across users: by status (failing by default), user or endpoint, most recently changed first; each filter has its index. */
export async function listFailingDeliveries(db: Db, query: { page: number; limit: number; sortOrder: 'asc' | 'desc'; status?: 'PENDING' | 'SUCCEEDED' | 'FAILED'; userId?: string; webhookId?: string }) {
  const where: Prisma.WebhookDeliveryWhereInput = {
    ...(query.status ? { status: query.status } : { OR: [{ status: 'FAILED' }, { status: 'PENDING', attempts: { gt: 0 } }] }),
    webhookId: query.webhookId,
    ...(query.userId ? { webhook: { userId: query.userId } } : {}),
  };
  const [rows, total] = await Promise.all([
    db.webhookDelivery.findMany({
      where,
      select: { ...DELIVERY_SELECT, webhook: { select: { userId: true, url: true } } },
      orderBy: [{ updatedAt: query.sortOrder }, { id: 'asc' }],
      ...pageWindow(query.page, query.limit),
    }),
    db.webhookDelivery.count({ where }),
  ]);
  const deliveries = rows.map(({ webhook, ...d }) => ({ ...d, userId: webhook.userId, webhookUrl: webhook.url }));
  return { deliveries, pagination: paginate(query.page, query.limit, total) };
}
