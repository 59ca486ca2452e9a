import { listQuery, paginationSchema, queryBool } from '../../lib/http/index.js';
import { HIDDEN_TEXT_MESSAGE, isVisibleText } from '../../lib/text.js';
import { z } from '../../lib/zod.js';
import { WebhookDeliveryStatus } from '../../generated/prisma/enums.js';
import { FILTERABLE_EVENT_TYPES, WEBHOOK_EVENT_TYPES } from './webhooks.events.js';
import { MAX_URL_LENGTH } from './webhooks.url.js';

const url = z
  .string()
  .trim()
  .min(1)
  .max(MAX_URL_LENGTH)
  .openapi({ example: 'https://example.com/webhooks/minispod', description: 'https (http only where WEBHOOK_ALLOW_HTTP=true); no credentials; not a loopback, private, link-local or metadata address' });
const description = z.string().trim().max(500).refine(isVisibleText, HIDDEN_TEXT_MESSAGE).transform((s) => (s === '' ? null : s)).nullable();
const events = z
  .array(z.enum(FILTERABLE_EVENT_TYPES))
  .max(FILTERABLE_EVENT_TYPES.length)
  .transform((list) => [...new Set(list)])
  .openapi({ description: 'Event types to receive; empty (the default) receives every type' });

export const createWebhookBody = z.strictObject({ url, description: description.optional(), events: events.default([]) });

export const updateWebhookBody = z
  .strictObject({ url: url.optional(), description: description.optional(), events: events.optional(), isActive: z.boolean().optional().openapi({ description: 'false pauses deliveries; true enables a disabled endpoint again and clears its failure count' }) })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'Send at least one of url, description, events, isActive');

export const webhookParams = z.strictObject({ id: z.string().min(1).max(64) });
export const deliveryParams = webhookParams.extend({ deliveryId: z.string().min(1).max(64) });

export const listWebhooksQuery = listQuery(['createdAt', 'updatedAt', 'url'] as const, 'createdAt').extend({
  isActive: queryBool.optional(),
});

export const listDeliveriesQuery = listQuery(['createdAt'] as const, 'createdAt')
  .omit({ search: true })
  .extend({ status: z.enum(WebhookDeliveryStatus).optional(), eventType: z.enum(WEBHOOK_EVENT_TYPES).optional() });

export const adminDeliveriesQuery = listQuery(['updatedAt'] as const, 'updatedAt')
  .omit({ search: true })
  .extend({
    status: z.enum(WebhookDeliveryStatus).optional().openapi({ description: 'Without it: failing deliveries (FAILED, and PENDING ones whose attempts failed so far)' }),
    userId: z.string().min(1).max(64).optional(),
    webhookId: z.string().min(1).max(64).optional(),
  });

const date = z.iso.datetime();

export const webhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    isActive: z.boolean(),
    disabledReason: z.string().nullable(),
    disabledAt: date.nullable(),
    consecutiveFailures: z.number().int().openapi({ description: 'Deliveries that failed in a row; the fifth disables the endpoint' }),
    previousSecretExpiresAt: date.nullable().openapi({ description: 'Until then deliveries are signed with the secret before the last rotation too' }),
    createdAt: date,
    updatedAt: date,
  })
  .openapi('Webhook');

export const webhookWithSecretSchema = webhookSchema
  .extend({ secret: z.string().openapi({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', description: 'The signing secret, shown this once' }) })
  .openapi('WebhookWithSecret');

export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema), pagination: paginationSchema });

const attemptSchema = z
  .object({
    number: z.number().int(),
    startedAt: date,
    durationMs: z.number().int(),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable().openapi({ description: 'At most 1 KB' }),
    error: z.string().nullable(),
  })
  .openapi('WebhookAttempt');

export const deliverySchema = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    eventId: z.string().openapi({ description: 'The webhook-id header of every attempt' }),
    eventType: z.string(),
    status: z.enum(WebhookDeliveryStatus),
    attempts: z.number().int(),
    nextAttemptAt: date.nullable(),
    lastAttemptAt: date.nullable(),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable(),
    lastError: z.string().nullable(),
    durationMs: z.number().int().nullable(),
    deliveredAt: date.nullable(),
    createdAt: date,
    updatedAt: date,
    attemptLog: z.array(attemptSchema),
  })
  .openapi('WebhookDelivery');

export const deliveryListSchema = z.object({ deliveries: z.array(deliverySchema), pagination: paginationSchema });

export const adminDeliverySchema = deliverySchema
  .omit({ attemptLog: true })
  .extend({ userId: z.string(), webhookUrl: z.string() })
  .openapi('WebhookDeliveryAcrossUsers');

export const adminDeliveryListSchema = z.object({ deliveries: z.array(adminDeliverySchema), pagination: paginationSchema });

export const testEventSchema = z.object({ eventId: z.string(), type: z.literal('webhook.test') });
