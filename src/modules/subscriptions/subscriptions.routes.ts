import type { Request } from 'express';
import { created, defineRoute, idParam, listQuery, ok, paginationSchema, type RouteDef } from '../../lib/http/index.js';
import { fieldError } from '../../lib/errors/index.js';
import { z } from '../../lib/zod.js';
import { SubscriptionStatus } from '../../generated/prisma/enums.js';
import type { ModuleDeps } from '../types.js';
import * as admin from './subscriptions.admin.js';
import { payNow } from './subscriptions.billing.js';
import * as subs from './subscriptions.service.js';
import { subscribe } from './subscriptions.subscribe.js';
import { subscriptionSchema } from './subscriptions.view.js';

const callerId = (req: Request) => (req.user as NonNullable<Request['user']>).id;
const id = z.string().min(1).max(64);
const listSchema = z.object({ subscriptions: z.array(subscriptionSchema), pagination: paginationSchema });

// An Idempotency-Key as clients make them (UUIDs, ULIDs...): printable ASCII, bounded.
const idempotencyKey = (req: Request) => {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  return /^[\x21-\x7e]{8,128}$/.test(key) ? key : null;
};

const createBody = z.strictObject({ serviceId: id }).openapi('CreateSubscriptionRequest');
const cancelBody = z.strictObject({ atPeriodEnd: z.boolean().default(true), reason: z.string().trim().min(1).max(500).optional() }).openapi('CancelSubscriptionRequest');
const changePlanBody = z.strictObject({ serviceId: id }).openapi('ChangePlanRequest');
const previewQuery = z.strictObject({ serviceId: id });
const previewSchema = z
  .object({
    subscriptionId: z.string(),
    from: z.object({ serviceId: z.string(), monthlyPrice: z.number().int() }),
    to: z.object({ serviceId: z.string(), monthlyPrice: z.number().int() }),
    kind: z.enum(['upgrade', 'downgrade']),
    amountDue: z.number().int().openapi({ description: 'Charged now: the prorated difference for the rest of the period (0 for a downgrade)' }),
    effectiveAt: z.iso.datetime(),
    currency: z.string(),
  })
  .openapi('PlanChangeQuote');
const userListQuery = listQuery(['createdAt'] as const, 'createdAt').omit({ search: true, sortBy: true }).extend({ status: z.enum(SubscriptionStatus).optional() });
const adminListQuery = listQuery(['createdAt', 'currentPeriodEnd'] as const, 'createdAt')
  .omit({ search: true })
  .extend({ status: z.enum(SubscriptionStatus).optional(), userId: id.optional(), serviceId: id.optional() });

export function subscriptionsRoutes(deps: ModuleDeps, svc: subs.SubscriptionsDeps): RouteDef[] {
  const { guards } = deps;
  const one = { 200: { description: 'The subscription', schema: subscriptionSchema } };
  return [
    defineRoute({
      method: 'get',
      path: '/subscriptions',
      summary: "The signed-in user's subscriptions, with their instances",
      access: guards.user,
      query: userListQuery,
      responses: { 200: { description: 'Subscriptions', schema: listSchema } },
      handler: async ({ query, req, res }) => ok(res, await admin.listAll(svc, { ...query, userId: callerId(req), sortBy: 'createdAt' }), 'Subscriptions retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions',
      summary: 'Subscribe to a service: the first month is charged from the wallet and the instance is provisioned',
      description:
        '422 SERVICE_NOT_DEPLOYABLE, 409 ALREADY_SUBSCRIBED / SOLD_OUT / NO_CAPACITY, 402 INSUFFICIENT_BALANCE. With an `Idempotency-Key` header (8-128 printable characters) a repeated request returns the first result (200) instead of subscribing again.',
      access: guards.user,
      body: createBody,
      responses: { 201: { description: 'Subscribed (PENDING until the instance runs)', schema: subscriptionSchema }, 200: { description: 'Replay of an earlier request with this Idempotency-Key', schema: subscriptionSchema } },
      handler: async ({ body, req, res }) => {
        const key = idempotencyKey(req);
        if (key === null) throw fieldError('Idempotency-Key', 'Idempotency-Key must be 8 to 128 printable ASCII characters');
        const result = await subscribe(svc, callerId(req), body, key);
        (result.replayed ? ok : created)(res, result.subscription, result.replayed ? 'Subscription already created with this Idempotency-Key' : 'Subscription created');
      },
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id',
      summary: 'One subscription of the signed-in user, with its instance',
      access: guards.user,
      params: idParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await subs.getSubscription(svc, callerId(req), params.id), 'Subscription retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/cancel',
      summary: 'Cancel: at the end of the period (default) or now',
      description: 'A PENDING subscription is cancelled at once and its charge refunded in full. `{ "atPeriodEnd": false }` stops the app now; its data is deleted after the retention period.',
      access: guards.user,
      params: idParam,
      body: cancelBody,
      responses: one,
      handler: async ({ params, body, req, res }) => ok(res, await subs.cancel(svc, callerId(req), params.id, body), 'Subscription cancelled'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/reactivate',
      summary: 'Undo a cancellation scheduled for the end of the period',
      access: guards.user,
      params: idParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await subs.reactivate(svc, callerId(req), params.id), 'Subscription reactivated'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/renew',
      summary: 'Pay what is overdue now (PAST_DUE, or SUSPENDED for non-payment)',
      access: guards.user,
      params: idParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await payNow(svc, callerId(req), params.id), 'Subscription renewed'),
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/change-plan/preview',
      summary: 'Quote a plan change within the plan group',
      access: guards.user,
      params: idParam,
      query: previewQuery,
      responses: { 200: { description: 'The quote', schema: previewSchema } },
      handler: async ({ params, query, req, res }) => {
        const { target: _t, current: _c, ...quote } = await subs.previewPlanChange(svc, callerId(req), params.id, query.serviceId);
        ok(res, quote, 'Plan change quoted');
      },
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/change-plan',
      summary: 'Change plan: an upgrade applies now and charges the prorated difference; a downgrade applies at the next renewal',
      access: guards.user,
      params: idParam,
      body: changePlanBody,
      responses: one,
      handler: async ({ params, body, req, res }) => ok(res, await subs.changePlan(svc, callerId(req), params.id, body.serviceId), 'Plan changed'),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/subscriptions',
      summary: 'Every subscription (administrators)',
      access: guards.admin,
      query: adminListQuery,
      responses: { 200: { description: 'Subscriptions', schema: listSchema } },
      handler: async ({ query, res }) => ok(res, await admin.listAll(svc, query), 'Subscriptions retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/subscriptions/:id',
      summary: 'One subscription (administrators)',
      access: guards.admin,
      params: idParam,
      responses: one,
      handler: async ({ params, res }) => ok(res, await subs.getSubscription(svc, undefined, params.id), 'Subscription retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/subscriptions/:id/suspend',
      summary: 'Suspend with a reason: the app is stopped, its data kept (administrators)',
      access: guards.admin,
      params: idParam,
      body: z.strictObject({ reason: z.string().trim().min(3).max(500) }),
      responses: one,
      handler: async ({ params, body, res }) => ok(res, await admin.suspend(svc, params.id, body.reason), 'Subscription suspended'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/subscriptions/:id/resume',
      summary: 'Resume a subscription an administrator suspended; its period moves on by the time it was suspended',
      access: guards.admin,
      params: idParam,
      responses: one,
      handler: async ({ params, res }) => ok(res, await admin.resume(svc, params.id), 'Subscription resumed'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/subscriptions/:id/cancel',
      summary: 'Cancel now, optionally refunding the unused days (administrators)',
      access: guards.admin,
      params: idParam,
      body: z.strictObject({ reason: z.string().trim().min(3).max(500), refundUnused: z.boolean().default(false) }),
      responses: one,
      handler: async ({ params, body, res }) => ok(res, await admin.adminCancel(svc, params.id, body), 'Subscription cancelled'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/subscriptions/:id/extend',
      summary: 'Extend the current period by some days at no charge (administrators)',
      access: guards.admin,
      params: idParam,
      body: z.strictObject({ days: z.number().int().min(1).max(366) }),
      responses: one,
      handler: async ({ params, body, res }) => ok(res, await admin.extend(svc, params.id, body.days), 'Subscription extended'),
    }),
  ];
}
