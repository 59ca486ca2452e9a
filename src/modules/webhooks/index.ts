import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { webhooksRoutes } from './webhooks.routes.js';

/** /webhooks for their owners, /admin/webhook-deliveries for administrators. */
export function webhooksModule(deps: ModuleDeps): ApiModule {
  return { name: 'webhooks', basePath: '/', tag: 'Webhooks', routes: webhooksRoutes(deps) };
}

export { createWebhookClient, DEFAULT_TIMEOUT_MS, type WebhookClient, type WebhookClientOptions } from './webhooks.client.js';
export { deliverWebhook, WEBHOOK_QUEUE, type DeliveryDeps } from './webhooks.delivery.js';
export { ENDPOINT_DISABLED_EVENT, WEBHOOK_EVENT_TYPES, type EndpointDisabledData } from './webhooks.events.js';
export { sweepDeliveries, webhookConsumer } from './webhooks.outbox.js';
