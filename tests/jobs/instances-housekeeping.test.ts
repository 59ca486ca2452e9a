import { describe, expect, it } from 'vitest';
import type { KubeDouble } from '../../src/kube-double/index.js';
import { ORPHANED_AT_ANNOTATION, usageWindow } from '../../src/modules/instances/index.js';
import { createAdmin, createPlan, createPool, createUser, fund } from '../factories/index.js';
import { runHandler, useKubeJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { apply } from '../helpers/kube.js';

// usage.collect and maintenance.sweep on the real runner against the Kubernetes API double. The
// job clock is real time plus an offset, so the sweep's grace passes without sleeping.
let offset = 0;
const clock = { now: () => new Date(Date.now() + offset) };
let ctx: JobsContext;
let kube: KubeDouble;
const PRICE = 20000;
const poll = { timeout: 30_000, interval: 100 };

useKubeJobsContext(clock, (made) => ({ ctx, kube } = made));

const runJob = (name: string, data: object = {}) => runHandler(ctx.runner, ctx.config, clock, name, data) as Promise<Record<string, unknown>>;

async function runningSubscription() {
  const pool = await createPool(ctx.db);
  kube.setNodes(pool.nodes.map((n) => ({ name: n.node.name, labels: pool.selector })));
  const plan = await createPlan(ctx.db, pool, { monthlyPrice: PRICE });
  const user = await createUser(ctx.db, ctx.config);
  await fund(ctx.db, user.user.id, 2 * PRICE);
  const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', user.auth).send({ serviceId: plan.id }).expect(201);
  const id = body.data.id as string;
  await expect.poll(async () => (await ctx.db.serviceInstance.findUniqueOrThrow({ where: { subscriptionId: id } })).status, poll).toBe('RUNNING');
  return { id, auth: user.auth, instance: await ctx.db.serviceInstance.findUniqueOrThrow({ where: { subscriptionId: id } }) };
}

describe('usage.collect and GET /subscriptions/:id/usage', () => {
  it('records what metrics.k8s.io reports once per instance and window, and shows it to the owner only', async () => {
    const { id, auth, instance } = await runningSubscription();
    kube.hooks.setPodUsage(() => ({ cpu: '250m', memory: '128Mi' }));
    await runJob('usage.collect');
    await runJob('usage.collect');
    const rows = await ctx.db.usageMetric.findMany({ where: { instanceId: instance.id } });
    expect(rows).toHaveLength(1);
    const window = usageWindow(clock.now());
    expect(rows[0]).toMatchObject({ cpuMillicores: 250, memoryBytes: 128n * 2n ** 20n, pods: 1, windowStart: window.start, windowEnd: window.end });

    const { body } = await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).set('Authorization', auth).expect(200);
    expect(body.data.windows).toEqual([{ windowStart: window.start.toISOString(), windowEnd: window.end.toISOString(), cpuMillicores: 250, memoryBytes: 134217728, pods: 1 }]);
    const from = new Date(window.end.getTime()).toISOString();
    const { body: later } = await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).query({ from, to: new Date(window.end.getTime() + 3_600_000).toISOString() }).set('Authorization', auth).expect(200);
    expect(later.data.windows).toEqual([]);

    const other = await createUser(ctx.db, ctx.config);
    expect((await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).set('Authorization', other.auth).expect(404)).body.code).toBe('NOT_FOUND');
    await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).query({ from: 'yesterday' }).set('Authorization', auth).expect(400);
    await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).query({ from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }).set('Authorization', auth).expect(400);
    await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).query({ from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }).set('Authorization', auth).expect(400);
    await ctx.request.get(`/api/v1/subscriptions/${id}/usage`).query({ extra: '1' }).set('Authorization', auth).expect(400);
  });

  it('is skipped quietly when the cluster has no metrics API', async () => {
    const { instance } = await runningSubscription();
    kube.setMetricsEnabled(false);
    offset = 15 * 60_000;
    try {
      expect(await runJob('usage.collect')).toEqual({ skipped: 'no metrics API' });
    } finally {
      offset = 0;
      kube.setMetricsEnabled(true);
    }
    expect(await ctx.db.usageMetric.count({ where: { instanceId: instance.id, windowStart: { gte: usageWindow(new Date(Date.now() + 15 * 60_000)).start } } })).toBe(0);
  });
});

describe('maintenance.sweep', () => {
  it('reports a managed namespace with no live instance, deletes it after the grace, and leaves live ones alone', async () => {
    const { instance } = await runningSubscription();
    const orphan = 'msp-orphan0001';
    const created = await apply(kube, `/api/v1/namespaces/${orphan}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: orphan, labels: { 'app.kubernetes.io/managed-by': 'minispod' } } });
    expect(created.status).toBe(201);
    const annotationOf = () => (kube.store.get('v1', 'Namespace', undefined, orphan)?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[ORPHANED_AT_ANNOTATION];

    await runJob('maintenance.sweep');
    expect(annotationOf()).toBeTruthy();
    await runJob('maintenance.sweep');
    expect(kube.store.get('v1', 'Namespace', undefined, orphan)).toBeTruthy();

    offset = 61 * 60_000;
    try {
      await runJob('maintenance.sweep');
      await expect.poll(() => kube.store.get('v1', 'Namespace', undefined, orphan), poll).toBeUndefined();
      await runJob('maintenance.sweep');
    } finally {
      offset = 0;
    }
    expect(kube.store.get('v1', 'Namespace', undefined, instance.namespace)).toBeTruthy();
    expect((kube.store.get('v1', 'Namespace', undefined, instance.namespace)?.metadata as { annotations?: Record<string, string> }).annotations?.[ORPHANED_AT_ANNOTATION]).toBeUndefined();
    expect((await ctx.db.serviceInstance.findUniqueOrThrow({ where: { id: instance.id } })).status).toBe('RUNNING');
  });
});

describe('the fleet counts instances: GET /workers/stats and GET /workers/:nodeId', () => {
  it('counts instances by status as the table holds them and lists what runs on a node', async () => {
    const { id, instance } = await runningSubscription();
    const admin = await createAdmin(ctx.db, ctx.config);
    const { body } = await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin.auth).expect(200);
    const groups = await ctx.db.serviceInstance.groupBy({ by: ['status'], _count: { _all: true } });
    const expected = Object.fromEntries(['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED', 'STOPPED', 'FAILED', 'DELETING', 'DELETED'].map((st) => [st, groups.find((g) => g.status === st)?._count._all ?? 0]));
    expect(body.data.instances.byStatus).toEqual(expected);
    expect(body.data.instances.total).toBe(await ctx.db.serviceInstance.count({ where: { status: { not: 'DELETED' } } }));
    expect(body.data.instances.onNodes).toBe(await ctx.db.serviceInstance.count({ where: { status: { in: ['RUNNING', 'DEGRADED'] }, workerNodeId: { not: null } } }));
    expect(body.data.instances.byStatus.RUNNING).toBeGreaterThanOrEqual(1);

    expect(instance.workerNodeId).toBeTruthy();
    const { body: detail } = await ctx.request.get(`/api/v1/workers/${instance.workerNodeId}`).set('Authorization', admin.auth).expect(200);
    expect(detail.data.node.id).toBe(instance.workerNodeId);
    expect(detail.data.instances).toEqual([{ id: instance.id, status: 'RUNNING', url: instance.url, subscriptionId: id }]);
    const { body: byName } = await ctx.request.get(`/api/v1/workers/${detail.data.node.name}`).set('Authorization', admin.auth).expect(200);
    expect(byName.data.instances).toHaveLength(1);
  });
});
