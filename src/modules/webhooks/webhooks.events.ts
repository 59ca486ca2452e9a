import type { EventRow } from '../../lib/events.js';

/**
 * The events customers' endpoints receive: PHASE2.md's list, and nothing else. It is an
 * allow-list on purpose: account events (user.*) and the internal ones of this module carry
 * things that are no business of a receiver, and must never leave by webhook.
 */
export const WEBHOOK_EVENT_TYPES = [
  'subscription.created',
  'subscription.activated',
  'subscription.renewed',
  'subscription.past_due',
  'subscription.suspended',
  'subscription.resumed',
  'subscription.cancel_scheduled',
  'subscription.cancelled',
  'subscription.expired',
  'subscription.plan_changed',
  'instance.provisioning',
  'instance.running',
  'instance.degraded',
  'instance.stopped',
  'instance.failed',
  'instance.deleted',
  'wallet.credited',
  'webhook.test',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const TEST_EVENT = 'webhook.test';

/** What an endpoint's `events` filter may name: every type but the test event, which goes only where it is sent. */
export const FILTERABLE_EVENT_TYPES = WEBHOOK_EVENT_TYPES.filter((t): t is Exclude<WebhookEventType, typeof TEST_EVENT> => t !== TEST_EVENT) as [
  Exclude<WebhookEventType, typeof TEST_EVENT>,
  ...Exclude<WebhookEventType, typeof TEST_EVENT>[],
];

const DELIVERED = new Set<string>(WEBHOOK_EVENT_TYPES);
export const isWebhookEvent = (type: string) => DELIVERED.has(type);

/** Internal: an endpoint was disabled (410, or five failed deliveries in a row). Its owner gets an email; no endpoint gets it. */
export const ENDPOINT_DISABLED_EVENT = 'webhook.endpoint_disabled';

export interface EndpointDisabledData {
  webhookId: string;
  url: string;
  reason: string;
}

/**
 * The body of every delivery of an event: `{ type, timestamp, data }`, the same bytes on every
 * attempt. `data` is the event's own thin data (ids, statuses, URL) with the subject named by
 * `object` and `id`.
 */
export function webhookBody(event: Pick<EventRow, 'type' | 'occurredAt' | 'subjectType' | 'subjectId' | 'data'>): string {
  const data = event.data && typeof event.data === 'object' && !Array.isArray(event.data) ? event.data : {};
  return JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: { ...data, object: event.subjectType, id: event.subjectId } });
}
