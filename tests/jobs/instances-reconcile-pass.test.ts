import { describe, expect, it } from 'vitest';
import type { KubeDouble } from '../../src/kube-double/index.js';
import { createPlan, createPool, createUser, fund } from '../factories/index.js';
import { runHandler, useKubeJobsContext, type JobsContext } from '../helpers/jobs-context.js';

// The every-minute reconcile pass reads the cluster with paged LISTs; instances those show
// unchanged only get their lastReconciledAt, and every other one is reconciled on its own.
const clock = { now: () => new Date() };
let ctx: JobsContext;
let kube: KubeDouble;
const PRICE = 20000;
const poll = { timeout: 30_000, interval: 100 };

useKubeJobsContext(clock, (made) => ({ ctx, kube } = made));

const pass = () => runHandler(ctx.runner, ctx.config, clock, 'instance.reconcile') as Promise<{ reconciled: number; unchanged: number; failed: number }>;

/** Two RUNNING instances on the pool's first node. */
async function runningInstances() {
  const pool = await createPool(ctx.db);
  kube.setNodes(pool.nodes.map((n) => ({ name: n.node.name, labels: pool.selector })));
  const user = await createUser(ctx.db, ctx.config);
  await fund(ctx.db, user.user.id, 2 * PRICE);
  const ids: string[] = [];
  for (let i = 0; i < 2; i += 1) {
    const plan = await createPlan(ctx.db, pool, { monthlyPrice: PRICE / 2 });
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', user.auth).send({ serviceId: plan.id }).expect(201);
    ids.push(body.data.id as string);
  }
  const instanceOf = (subscriptionId: string) => ctx.db.serviceInstance.findUniqueOrThrow({ where: { subscriptionId } });
  await expect.poll(async () => (await Promise.all(ids.map(instanceOf))).every((i) => i.status === 'RUNNING' && i.workerNodeId !== null), poll).toBe(true);
  return { pool, insts: await Promise.all(ids.map(instanceOf)) };
}

describe('instance.reconcile pass (every minute)', () => {
  it('reads unchanged RUNNING instances with cluster-wide LISTs and only dates their reconcile', async () => {
    const { insts } = await runningInstances();
    const events = await ctx.db.domainEvent.count();
    kube.requests.clear();
    const started = new Date();
    const out = await pass();
    expect(out.failed).toBe(0);
    expect(out.unchanged).toBeGreaterThanOrEqual(2);
    const paths = kube.requests.list().map((r) => r.path);
    expect(paths).toContain('/apis/apps/v1/deployments');
    expect(paths).toContain('/api/v1/pods');
    for (const inst of insts) {
      expect(paths.filter((p) => p.includes(`/namespaces/${inst.namespace}/`))).toEqual([]);
      const after = await ctx.db.serviceInstance.findUniqueOrThrow({ where: { id: inst.id } });
      expect(after.lastReconciledAt?.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
      expect({ ...after, lastReconciledAt: null, updatedAt: null }).toEqual({ ...inst, lastReconciledAt: null, updatedAt: null });
    }
    expect(await ctx.db.domainEvent.count()).toBe(events);
  });

  it('reconciles one by one what the LISTs show changed: the node and the available count are written back', async () => {
    const { pool, insts } = await runningInstances();
    const [a, b] = insts as [(typeof insts)[0], (typeof insts)[0]];
    // What minispod recorded no longer matches what Kubernetes reports.
    await ctx.db.serviceInstance.update({ where: { id: a.id }, data: { nodeName: null, workerNodeId: null } });
    await ctx.db.serviceInstance.update({ where: { id: b.id }, data: { readyReplicas: 0, lastError: 'stale' } });
    kube.requests.clear();
    await pass();
    const paths = kube.requests.list().map((r) => r.path);
    expect(paths).toContain(`/apis/apps/v1/namespaces/${a.namespace}/deployments/app`);
    expect(paths).toContain(`/apis/apps/v1/namespaces/${b.namespace}/deployments/app`);
    expect(await ctx.db.serviceInstance.findUniqueOrThrow({ where: { id: a.id } })).toMatchObject({ status: 'RUNNING', nodeName: pool.nodes[0]?.node.name, workerNodeId: pool.nodes[0]?.node.id });
    expect(await ctx.db.serviceInstance.findUniqueOrThrow({ where: { id: b.id } })).toMatchObject({ status: 'RUNNING', readyReplicas: 1, lastError: null });
  });

  it('reads every instance on its own when the cluster-wide LIST fails', async () => {
    const { insts } = await runningInstances();
    kube.requests.clear();
    kube.faults.inject({ status: 500, method: 'GET', path: /^\/apis\/apps\/v1\/deployments$/ });
    const started = new Date();
    const out = await pass();
    expect(out).toMatchObject({ failed: 0, unchanged: 0 });
    for (const inst of insts) {
      expect(kube.requests.list().map((r) => r.path)).toContain(`/apis/apps/v1/namespaces/${inst.namespace}/deployments/app`);
      expect((await ctx.db.serviceInstance.findUniqueOrThrow({ where: { id: inst.id } })).lastReconciledAt?.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    }
  });
});
