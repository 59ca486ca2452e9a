import type { Request } from 'express';
import { defineRoute, idParam, listQuery, ok, paginationSchema, type RouteDef } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import { InstanceStatus } from '../../generated/prisma/enums.js';
import type { ModuleDeps } from '../types.js';
import type { InstancesDeps } from './instances.provisioning.js';
import * as svc from './instances.service.js';

const callerId = (req: Request) => (req.user as NonNullable<Request['user']>).id;
const date = z.iso.datetime();

export const instanceSchema = z
  .object({
    id: z.string(),
    subscriptionId: z.string(),
    userId: z.string(),
    serviceId: z.string(),
    status: z.enum(InstanceStatus),
    shortId: z.string(),
    namespace: z.string(),
    host: z.string(),
    url: z.string(),
    nodeName: z.string().nullable().openapi({ description: "The pod's spec.nodeName, as Kubernetes placed it" }),
    workerNodeId: z.string().nullable().openapi({ description: 'The registry node of that name' }),
    readyReplicas: z.number().int(),
    provisionAttempts: z.number().int(),
    userRetries: z.number().int(),
    lastError: z.string().nullable(),
    lastTransitionAt: date,
    lastReconciledAt: date.nullable(),
    cluster: z.enum(['kubeconfig', 'in-cluster', 'off', 'simulated']).openapi({ description: 'Where minispod runs instances; `simulated`: nothing really runs' }),
    createdAt: date,
    updatedAt: date,
  })
  .openapi('Instance');

const subParam = z.strictObject({ id: z.string().min(1).max(64) });
const one = { 200: { description: 'The instance', schema: instanceSchema } };
const adminListQuery = listQuery(['createdAt'] as const, 'createdAt').omit({ search: true, sortBy: true }).extend({ status: z.enum(InstanceStatus).optional(), workerNodeId: z.string().min(1).max(64).optional() });
const logsQuery = z.strictObject({ tailLines: z.string().regex(/^[0-9]+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(1000)).default(100).openapi({ type: 'integer', minimum: 1, maximum: 1000, default: 100 }) });

const usageQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Start (inclusive); default: 24 hours before `to`' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'End (exclusive); default: now' }),
});
const usageSchema = z
  .object({
    instanceId: z.string(),
    from: date,
    to: date,
    windows: z.array(z.object({ windowStart: date, windowEnd: date, cpuMillicores: z.number().int(), memoryBytes: z.number().int(), pods: z.number().int() })),
  })
  .openapi('InstanceUsage');

export function instancesRoutes(deps: ModuleDeps, d: InstancesDeps): RouteDef[] {
  const { guards } = deps;
  const now = () => new Date();
  return [
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/instance',
      summary: "The subscription's instance: status as Kubernetes reported it, URL, node",
      access: guards.user,
      params: subParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await svc.getInstance(d, callerId(req), params.id), 'Instance retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/instance/restart',
      summary: 'Restart the app (a new pod-template annotation rolls its pod)',
      description: '409 INVALID_STATE unless RUNNING or DEGRADED; 503 without a reachable cluster.',
      access: guards.user,
      params: subParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await svc.restart(d, callerId(req), params.id, now()), 'Instance restarting'),
    }),
    defineRoute({
      method: 'post',
      path: '/subscriptions/:id/instance/retry',
      summary: `Provision a FAILED instance again (at most ${svc.USER_RETRY_LIMIT} times)`,
      access: guards.user,
      params: subParam,
      responses: one,
      handler: async ({ params, req, res }) => ok(res, await svc.retry(d, { userId: callerId(req), subscriptionId: params.id }, now()), 'Instance provisioning again'),
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/instance/credentials',
      summary: "The app's generated credentials (only here: never logged or emailed)",
      access: guards.user,
      params: subParam,
      responses: { 200: { description: 'Credentials', schema: z.object({ credentials: z.record(z.string(), z.string()) }) } },
      handler: async ({ params, req, res }) => {
        res.setHeader('Cache-Control', 'no-store');
        ok(res, await svc.credentials(d, callerId(req), params.id), 'Credentials retrieved successfully');
      },
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/instance/logs',
      summary: "The app's log from its pod (tailLines 1 to 1000, default 100)",
      access: guards.user,
      params: subParam,
      query: logsQuery,
      responses: { 200: { description: 'Log lines', schema: z.object({ pod: z.string().nullable(), tailLines: z.number().int(), text: z.string() }) } },
      handler: async ({ params, query, req, res }) => ok(res, await svc.logs(d, callerId(req), params.id, query.tailLines), 'Logs retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/instance/manifests',
      summary: 'The Kubernetes objects of the instance, Secret values redacted (in any cluster mode)',
      access: guards.user,
      params: subParam,
      responses: { 200: { description: 'Manifests in apply order', schema: z.object({ manifests: z.array(z.record(z.string(), z.unknown())) }) } },
      handler: async ({ params, req, res }) => ok(res, await svc.manifests(d, callerId(req), params.id), 'Manifests retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/subscriptions/:id/usage',
      summary: "The app's CPU and memory per 15-minute window, from the cluster's metrics API",
      description: `from/to are ISO 8601 date-times, from before to, at most ${svc.USAGE_MAX_RANGE_DAYS} days apart. Empty when the cluster has no metrics API.`,
      access: guards.user,
      params: subParam,
      query: usageQuery,
      responses: { 200: { description: 'Usage windows, oldest first', schema: usageSchema } },
      handler: async ({ params, query, req, res }) => ok(res, await svc.usage(d, callerId(req), params.id, query, now()), 'Usage retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/instances',
      summary: 'Every instance (administrators)',
      access: guards.admin,
      query: adminListQuery,
      responses: { 200: { description: 'Instances', schema: z.object({ instances: z.array(instanceSchema), pagination: paginationSchema }) } },
      handler: async ({ query, res }) => ok(res, await svc.listInstances(d, query), 'Instances retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/instances/:id/reconcile',
      summary: 'Read the instance back from the cluster now (administrators)',
      access: guards.admin,
      params: idParam,
      responses: one,
      handler: async ({ params, res }) => ok(res, await svc.requestReconcile(d, params.id), 'Reconcile queued'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/instances/:id/retry',
      summary: 'Provision a FAILED instance again (administrators; not counted against the owner)',
      access: guards.admin,
      params: idParam,
      responses: one,
      handler: async ({ params, res }) => ok(res, await svc.retry(d, { instanceId: params.id }, now()), 'Instance provisioning again'),
    }),
  ];
}
