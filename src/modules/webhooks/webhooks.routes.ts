import type { Request } from 'express';
import { created, defineRoute, ok, send, type RouteDef } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import {
  adminDeliveriesQuery,
  adminDeliveryListSchema,
  createWebhookBody,
  deliveryListSchema,
  deliveryParams,
  deliverySchema,
  listDeliveriesQuery,
  listWebhooksQuery,
  testEventSchema,
  updateWebhookBody,
  webhookListSchema,
  webhookParams,
  webhookSchema,
  webhookWithSecretSchema,
} from './webhooks.schemas.js';
import * as webhooks from './webhooks.service.js';

const userId = (req: Request) => (req.user as NonNullable<Request['user']>).id;
const notFound = { 404: { description: 'No endpoint with this id among yours' } };

/** Owners manage their own endpoints (another user's are 404); administrators see failing deliveries across users. */
export function webhooksRoutes({ db, config, jobs, guards }: ModuleDeps): RouteDef[] {
  const deps: webhooks.WebhooksDeps = { db, config, jobs };
  const access = guards.user;
  return [
    defineRoute({
      method: 'get',
      path: '/webhooks',
      summary: 'List your webhook endpoints',
      description: '`search` matches the URL and the description; filter `isActive`.',
      access,
      query: listWebhooksQuery,
      responses: { 200: { description: 'A page of endpoints', schema: webhookListSchema } },
      handler: async ({ query, req, res }) => ok(res, await webhooks.listWebhooks(db, userId(req), query), 'Webhooks retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks',
      summary: 'Create a webhook endpoint',
      description: `Answers with the signing secret (\`secret\`), shown this once. At most ${webhooks.MAX_WEBHOOKS_PER_USER} endpoints per account (409 beyond).`,
      access,
      body: createWebhookBody,
      responses: { 201: { description: 'Created, with its secret', schema: webhookWithSecretSchema }, 409: { description: 'Endpoint limit reached' } },
      handler: async ({ body, req, res }) => created(res, await webhooks.createWebhook(deps, userId(req), body), 'Webhook created successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id',
      summary: 'Get one of your webhook endpoints',
      access,
      params: webhookParams,
      responses: { 200: { description: 'The endpoint', schema: webhookSchema }, ...notFound },
      handler: async ({ params, req, res }) => ok(res, await webhooks.getWebhook(db, userId(req), params.id), 'Webhook retrieved successfully'),
    }),
    defineRoute({
      method: 'patch',
      path: '/webhooks/:id',
      summary: 'Change the URL, description, event filter or active state',
      access,
      params: webhookParams,
      body: updateWebhookBody,
      responses: { 200: { description: 'Updated', schema: webhookSchema }, ...notFound },
      handler: async ({ params, body, req, res }) => ok(res, await webhooks.updateWebhook(deps, userId(req), params.id, body), 'Webhook updated successfully'),
    }),
    defineRoute({
      method: 'delete',
      path: '/webhooks/:id',
      summary: 'Delete a webhook endpoint and its delivery log',
      access,
      params: webhookParams,
      responses: { 200: { description: 'The deleted endpoint', schema: webhookSchema }, ...notFound },
      handler: async ({ params, req, res }) => ok(res, await webhooks.deleteWebhook(db, userId(req), params.id), 'Webhook deleted successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/rotate-secret',
      summary: 'Rotate the signing secret',
      description: 'Answers with the new secret, shown this once. For 24 hours deliveries carry signatures with both the new and the previous secret.',
      access,
      params: webhookParams,
      responses: { 200: { description: 'The endpoint with its new secret', schema: webhookWithSecretSchema }, ...notFound },
      handler: async ({ params, req, res }) => ok(res, await webhooks.rotateSecret(deps, userId(req), params.id), 'Webhook secret rotated successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/test',
      summary: 'Send a webhook.test event to this endpoint',
      description: 'The event is delivered like any other (signed, retried); follow it in the delivery log.',
      access,
      params: webhookParams,
      responses: { 202: { description: 'Queued', schema: testEventSchema }, ...notFound, 409: { description: 'The endpoint is disabled' } },
      handler: async ({ params, req, res }) => send(res, 202, 'Test event queued', await webhooks.sendTestEvent(deps, userId(req), params.id)),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries',
      summary: "An endpoint's deliveries, newest first, with their attempts",
      access,
      params: webhookParams,
      query: listDeliveriesQuery,
      responses: { 200: { description: 'A page of deliveries', schema: deliveryListSchema }, ...notFound },
      handler: async ({ params, query, req, res }) => ok(res, await webhooks.listDeliveries(db, userId(req), params.id, query), 'Deliveries retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/deliveries/:deliveryId/retry',
      summary: 'Send a failed (or succeeded) delivery again, now',
      description: 'One more attempt with the same event id. Refused (409) while the delivery is still on its retry schedule, or while the endpoint is disabled.',
      access,
      params: deliveryParams,
      responses: { 200: { description: 'The delivery, attempt queued', schema: deliverySchema }, 404: { description: 'No such endpoint or delivery among yours' }, 409: { description: 'Still being attempted, or endpoint disabled' } },
      handler: async ({ params, req, res }) => ok(res, await webhooks.retryDelivery(deps, userId(req), params.id, params.deliveryId), 'Delivery retry queued'),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/webhook-deliveries',
      summary: 'Failing webhook deliveries across users (administrators)',
      description: 'Without `status`: deliveries that failed for good and those whose attempts have failed so far, most recently changed first.',
      access: guards.admin,
      query: adminDeliveriesQuery,
      responses: { 200: { description: 'A page of deliveries', schema: adminDeliveryListSchema } },
      handler: async ({ query, res }) => ok(res, await webhooks.listFailingDeliveries(db, query), 'Webhook deliveries retrieved successfully'),
    }),
  ];
}
