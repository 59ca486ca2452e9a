import type { Prisma } from '../../lib/db.js';
import { z } from '../../lib/zod.js';
import { hostOf, namespaceOf, newShortId } from '../instances/index.js';
import { planRequests } from './subscriptions.admission.js';

/** What a subscription read carries: its service and its instance. */
export const SUBSCRIPTION_INCLUDE = {
  service: { select: { id: true, name: true, slug: true, displayName: true, category: true, monthlyPrice: true, currency: true, planGroup: true } },
  pendingService: { select: { id: true, name: true, slug: true, displayName: true, monthlyPrice: true } },
  instance: { select: { id: true, status: true, url: true, host: true, namespace: true, nodeName: true, workerNodeId: true, readyReplicas: true, lastError: true, lastTransitionAt: true, createdAt: true } },
} as const satisfies Prisma.SubscriptionInclude;

export type SubscriptionRow = Prisma.SubscriptionGetPayload<{ include: typeof SUBSCRIPTION_INCLUDE }>;

/** Allow-list mapper: nothing else of the row (idempotency key, credentials) reaches the wire. */
export const toSubscriptionView = (row: SubscriptionRow) => ({
  id: row.id,
  userId: row.userId,
  serviceId: row.serviceId,
  service: row.service,
  status: row.status,
  startDate: row.startDate,
  currentPeriodStart: row.currentPeriodStart,
  currentPeriodEnd: row.currentPeriodEnd,
  billingAnchorDay: row.billingAnchorDay,
  priceAmount: row.priceAmount,
  currency: row.currency,
  cancelAtPeriodEnd: row.cancelAtPeriodEnd,
  pendingService: row.pendingService,
  graceEndsAt: row.graceEndsAt,
  suspendedAt: row.suspendedAt,
  suspendedBy: row.suspendedBy,
  cancelledAt: row.cancelledAt,
  endedAt: row.endedAt,
  cancelReason: row.cancelReason,
  instance: row.instance,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const date = z.iso.datetime();
const serviceRef = z.object({ id: z.string(), name: z.string(), slug: z.string(), displayName: z.string(), monthlyPrice: z.number().int() });

export const subscriptionSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    serviceId: z.string(),
    service: serviceRef.extend({ category: z.string(), currency: z.string(), planGroup: z.string().nullable() }),
    status: z.enum(['PENDING', 'ACTIVE', 'PAST_DUE', 'SUSPENDED', 'CANCELLED', 'EXPIRED']),
    startDate: date,
    currentPeriodStart: date,
    currentPeriodEnd: date,
    billingAnchorDay: z.number().int(),
    priceAmount: z.number().int().openapi({ description: 'Monthly price at purchase or last plan change, in the smallest currency unit' }),
    currency: z.string(),
    cancelAtPeriodEnd: z.boolean(),
    pendingService: serviceRef.nullable().openapi({ description: 'A downgrade that applies at the next renewal' }),
    graceEndsAt: date.nullable(),
    suspendedAt: date.nullable(),
    suspendedBy: z.enum(['BILLING', 'ADMIN']).nullable(),
    cancelledAt: date.nullable(),
    endedAt: date.nullable(),
    cancelReason: z.string().nullable(),
    instance: z
      .object({
        id: z.string(),
        status: z.enum(['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED', 'STOPPED', 'FAILED', 'DELETING', 'DELETED']),
        url: z.string(),
        host: z.string(),
        namespace: z.string(),
        nodeName: z.string().nullable(),
        workerNodeId: z.string().nullable(),
        readyReplicas: z.number().int(),
        lastError: z.string().nullable(),
        lastTransitionAt: date,
        createdAt: date,
      })
      .nullable(),
    createdAt: date,
    updatedAt: date,
  })
  .openapi('Subscription');

/**
 * A new instance's row: its names (from the instances module, never from anything the user typed)
 * and the plan's requests and nodeSelector when bought, which admission sums while it waits for a node.
 */
export function newInstanceFields(service: { slug: string; cpuRequest: string; memRequest: string; nodeSelector: Prisma.JsonValue }, appsDomain: string, shortId = newShortId()) {
  const host = hostOf(service.slug, shortId, appsDomain);
  const requests = planRequests(service);
  const nodeSelector = (service.nodeSelector ?? {}) as Prisma.InputJsonObject;
  return { shortId, namespace: namespaceOf(shortId), host, url: `https://${host}`, cpuRequestMillis: requests.cpu, memoryRequestMb: requests.memoryMb, nodeSelector };
}
