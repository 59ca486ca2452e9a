import type { Request } from 'express';
import { createLimiter, created, defineRoute, idParam, ok, type RouteDef } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import type { ModuleDeps } from '../types.js';
import { createMidtransClient } from './wallet.midtrans.js';
import { transactionSchema } from './wallet.routes.js';
import * as topups from './wallet.topups.js';

export const NOTIFICATION_PATH = '/payments/midtrans/notifications';

const topupBody = z
  .strictObject({ amount: z.number().int().min(topups.TOPUP_MIN).max(topups.TOPUP_MAX).openapi({ description: `IDR, ${topups.TOPUP_MIN} to ${topups.TOPUP_MAX}`, example: 100_000 }) })
  .openapi('TopupRequest');

const topupSchema = z
  .object({
    transaction: transactionSchema,
    payment: z
      .object({
        provider: z.literal('MIDTRANS'),
        orderId: z.string(),
        token: z.string().openapi({ description: 'For snap.js: `window.snap.pay(token)`' }),
        redirectUrl: z.string().openapi({ description: "Midtrans' payment page, for a redirect instead of the pop-up" }),
        clientKey: z.string().nullable().openapi({ description: 'The public client key snap.js is loaded with (not a secret); null if the server no longer has Midtrans keys' }),
        expiresAt: z.iso.datetime().nullable(),
      })
      .nullable()
      .openapi({ description: 'How to pay, while the top-up is PENDING and not expired; null afterwards' }),
  })
  .openapi('Topup');

// Midtrans' notification carries more fields than these (and adds new ones): they are kept, not refused.
const notificationBody = z
  .looseObject({
    order_id: z.string().min(1).max(100),
    status_code: z.string().min(1).max(10),
    gross_amount: z.string().min(1).max(30),
    signature_key: z.string().min(1).max(256),
    transaction_status: z.string().max(50).optional(),
  })
  .openapi('MidtransNotification');

const notificationResult = z.object({
  orderId: z.string(),
  status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED']).nullable(),
  result: z.enum(['credited', 'closed', 'unchanged', 'already_handled', 'unknown_order']),
});

const caller = (req: Request) => req.user as NonNullable<Request['user']>;

export function topupRoutes(deps: ModuleDeps): RouteDef[] {
  const { guards, config } = deps;
  const midtrans = createMidtransClient({ config: config.midtrans, logger: deps.logger });
  const svc: topups.TopupDeps = { db: deps.db, config, logger: deps.logger, jobs: deps.jobs, midtrans };
  // Midtrans sends every notification from a few addresses: the global per-IP limit is replaced by a
  // wider one of its own (0 when limits are off), which still bounds a flood of forged calls.
  const notificationLimit = createLimiter({ name: 'midtrans-notifications', windowMs: config.rateLimit.windowMs, max: config.rateLimit.max * 10, store: deps.rateLimitStore });
  return [
    defineRoute({
      method: 'post',
      path: '/wallet/topups',
      summary: 'Top up the wallet online (Midtrans Snap)',
      description:
        'Creates a PENDING top-up and its Midtrans payment page. Pay with snap.js (`token`) or by redirecting to `redirectUrl`; the wallet is credited when Midtrans confirms the payment. 503 PAYMENT_PROVIDER_DISABLED when the server has no Midtrans keys; 502 PAYMENT_PROVIDER_ERROR when Midtrans could not be reached (the top-up is then FAILED).',
      access: guards.user,
      body: topupBody,
      responses: {
        201: { description: 'Top-up created: pay it on the payment page', schema: topupSchema },
        502: { description: 'Midtrans did not answer as expected' },
        503: { description: 'Online top-ups are not configured' },
      },
      handler: async ({ body, req, res }) => created(res, await topups.createTopup(svc, caller(req), body.amount), 'Top-up created'),
    }),
    defineRoute({
      method: 'get',
      path: '/wallet/topups/:id',
      summary: 'An online top-up of the signed-in user',
      description: 'Its status (PENDING until Midtrans confirms the payment, then SUCCEEDED; FAILED or CANCELLED when it was refused or expired) and, while it can be paid, the payment page.',
      access: guards.user,
      params: idParam,
      responses: { 200: { description: 'The top-up', schema: topupSchema }, 404: { description: 'No such top-up of yours' } },
      handler: async ({ params, req, res }) => ok(res, await topups.getTopup(svc, caller(req).id, params.id), 'Top-up retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: NOTIFICATION_PATH,
      summary: "Midtrans' HTTP notification (configure this URL in the Midtrans dashboard)",
      description:
        "Called by Midtrans, not by clients. The signature_key (SHA-512 of order_id + status_code + gross_amount + server key) is verified, the order's status is read from Midtrans' status API (the body is never trusted alone) and the top-up is credited once, whatever the number of notifications. 200 for anything handled or not ours; Midtrans retries other answers.",
      access: guards.public,
      before: [notificationLimit],
      body: notificationBody,
      responses: {
        200: { description: 'Handled (or nothing to do)', schema: notificationResult },
        403: { description: 'Invalid signature: nothing changed' },
        409: { description: "Midtrans reports another amount than the top-up's: nothing changed" },
        502: { description: "Midtrans' status API could not be reached (Midtrans retries)" },
        503: { description: 'Online top-ups are not configured' },
      },
      handler: async ({ body, res }) => ok(res, await topups.handleNotification(svc, body), 'Notification received'),
    }),
  ];
}
