import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeDouble } from '../../src/kube-double/index.js';
import { balanceOf, createAdmin, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createJobsContext, runHandler, useKubeJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { kubeRequest } from '../helpers/kube.js';

// The instance lifecycle's edges on the real job runner against the Kubernetes API double: a pod
// that stops being ready, user retries and their limit, provision retries running out, two
// processes reconciling at once, and no cluster at all.
const clock = { now: () => new Date() };
let ctx: JobsContext;
let kube: KubeDouble;
const PRICE = 20000;
const poll = { timeout: 30_000, interval: 100 };

useKubeJobsContext(clock, (made) => ({ ctx, kube } = made));

const runJob = (name: string, data: object = {}, lastAttempt = false) => runHandler(ctx.runner, ctx.config, clock, name, data, lastAttempt);

async function setup(c: JobsContext = ctx) {
  const pool = await createPool(c.db);
  if (c === ctx) kube.setNodes(pool.nodes.map((n) => ({ name: n.node.name, labels: pool.selector })));
  const plan = await createPlan(c.db, pool, { monthlyPrice: PRICE });
  const user = await createUser(c.db, c.config);
  await fund(c.db, user.user.id, 2 * PRICE);
  return { pool, plan, ...user };
}
async function subscribe(c: JobsContext, auth: string, serviceId: string) {
  const { body } = await c.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId }).expect(201);
  return body.data.id as string;
}
const instanceOf = (subscriptionId: string, c: JobsContext = ctx) => c.db.serviceInstance.findUniqueOrThrow({ where: { subscriptionId } });
const statusOf = async (subscriptionId: string) => (await instanceOf(subscriptionId)).status;
const eventTypes = async (subjectId: string) => (await ctx.db.domainEvent.findMany({ where: { subjectId }, orderBy: { occurredAt: 'asc' } })).map((e) => e.type);

describe('instances on the cluster, edges', () => {
  it('RUNNING -> DEGRADED when its pod is gone and not ready on two reconciles in a row -> RUNNING once Kubernetes reports it available', async () => {
    const { auth, plan } = await setup();
    const id = await subscribe(ctx, auth, plan.id);
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    const inst = await instanceOf(id);

    // The pod dies and its replacement does not become ready: the Deployment has no available replica.
    kube.hooks.setReadiness('manual');
    try {
      const pod = (kube.store.podsOf(inst.namespace, 'app')[0]?.metadata as { name: string }).name;
      expect((await kubeRequest(kube, 'DELETE', `/api/v1/namespaces/${inst.namespace}/pods/${pod}`)).status).toBe(200);
      await expect.poll(() => (kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app')?.status as { availableReplicas?: number }).availableReplicas ?? 0, poll).toBe(0);
      await runJob('instance.reconcile', { instanceId: inst.id });
      await runJob('instance.reconcile', { instanceId: inst.id });
      expect(await statusOf(id)).toBe('DEGRADED');
      expect((await instanceOf(id)).readyReplicas).toBe(0);

      kube.hooks.markDeploymentReady(inst.namespace, 'app');
      await expect.poll(() => (kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app')?.status as { availableReplicas?: number }).availableReplicas ?? 0, poll).toBe(1);
    } finally {
      kube.hooks.setReadiness('auto');
    }
    await runJob('instance.reconcile', { instanceId: inst.id });
    expect(await statusOf(id)).toBe('RUNNING');
    expect(await eventTypes(inst.id)).toEqual(['instance.provisioning', 'instance.running', 'instance.degraded', 'instance.running']);
    expect((await ctx.db.subscription.findUniqueOrThrow({ where: { id } })).status).toBe('ACTIVE');
  });

  it('a FAILED instance of a live subscription can be retried by its owner 3 times: the 4th is 409 and changes nothing; an administrator may still retry', async () => {
    const { auth, plan } = await setup();
    const admin = await createAdmin(ctx.db, ctx.config);
    const id = await subscribe(ctx, auth, plan.id);
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    const inst = await instanceOf(id);
    // FAILED while the subscription is ACTIVE (e.g. a resume that hit its progress deadline).
    const failNow = () => ctx.db.serviceInstance.update({ where: { id: inst.id }, data: { status: 'FAILED', lastError: 'The app did not become ready' } });
    for (let n = 1; n <= 3; n += 1) {
      await failNow();
      const { body } = await ctx.request.post(`/api/v1/subscriptions/${id}/instance/retry`).set('Authorization', auth).expect(200);
      expect(body.data).toMatchObject({ status: 'PROVISIONING', userRetries: n, lastError: null });
      await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    }
    await failNow();
    const refused = await ctx.request.post(`/api/v1/subscriptions/${id}/instance/retry`).set('Authorization', auth).expect(409);
    expect(refused.body.code).toBe('INVALID_STATE');
    expect(await instanceOf(id)).toMatchObject({ status: 'FAILED', userRetries: 3 });

    await ctx.request.post(`/api/v1/admin/instances/${inst.id}/retry`).set('Authorization', admin.auth).expect(200);
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    expect((await instanceOf(id)).userRetries).toBe(3);
  });

  it('provision retries running out make it FAILED: the never-started subscription is cancelled and refunded, and the instance deleted', async () => {
    const { auth, user, plan } = await setup();
    // Every apply fails with 500 until cleared: the job's attempts all fail.
    kube.faults.inject({ status: 500, method: 'PATCH', times: 10_000 });
    let id: string;
    try {
      id = await subscribe(ctx, auth, plan.id);
      const inst = await instanceOf(id);
      await expect(runJob('instance.provision', { instanceId: inst.id })).rejects.toMatchObject({ retryable: true });
      expect((await instanceOf(id)).lastError).toMatch(/500|Internal/i);
      await runJob('instance.provision', { instanceId: inst.id }, true);
    } finally {
      kube.faults.clear();
    }
    const failed = await instanceOf(id);
    expect(failed.status === 'FAILED' || failed.status === 'DELETING' || failed.status === 'DELETED').toBe(true);
    expect(failed.lastError).toMatch(/Kubernetes refused the instance/);
    expect((await ctx.db.subscription.findUniqueOrThrow({ where: { id } })).status).toBe('CANCELLED');
    expect(await balanceOf(ctx.db, user.id)).toBe(2 * PRICE);
    expect(await ledgerSum(ctx.db, user.id)).toBe(2 * PRICE);
    await expect.poll(() => statusOf(id), poll).toBe('DELETED');
    const types = await eventTypes(failed.id);
    expect(types.filter((t) => t === 'instance.failed')).toHaveLength(1);
    expect(types).not.toContain('instance.running');
  });

  it('two runners reconciling the same instances at once end in the same state with no duplicate events', async () => {
    const { auth, pool } = await setup();
    kube.hooks.setReadiness('manual');
    const ids: string[] = [];
    try {
      for (let i = 0; i < 4; i += 1) {
        const plan = await createPlan(ctx.db, pool, { monthlyPrice: PRICE / 4 });
        ids.push(await subscribe(ctx, auth, plan.id));
      }
      const insts = await Promise.all(ids.map((id) => instanceOf(id)));
      await expect.poll(async () => (await Promise.all(ids.map(statusOf))).every((s) => s === 'PROVISIONING'), poll).toBe(true);
      for (const inst of insts) await expect.poll(() => kube.store.podsOf(inst.namespace, 'app').length, poll).toBe(1);
      for (const inst of insts) kube.hooks.markDeploymentReady(inst.namespace, 'app');
      for (const inst of insts) await expect.poll(() => (kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app')?.status as { availableReplicas?: number }).availableReplicas ?? 0, poll).toBe(1);

      const second = await ctx.startRunner({ work: false });
      const passes = [ctx.runner, second, ctx.runner, second].map((r) => runHandler(r, ctx.config, clock, 'instance.reconcile'));
      const single = insts.map((inst, i) => runHandler(i % 2 ? second : ctx.runner, ctx.config, clock, 'instance.reconcile', { instanceId: inst.id }));
      await Promise.all([...passes, ...single]);
    } finally {
      kube.hooks.setReadiness('auto');
    }
    for (const id of ids) {
      const inst = await instanceOf(id);
      expect(inst.status).toBe('RUNNING');
      expect(inst.workerNodeId).toBe(pool.nodes[0]?.node.id);
      expect(await eventTypes(inst.id)).toEqual(['instance.provisioning', 'instance.running']);
      expect((await ctx.db.subscription.findUniqueOrThrow({ where: { id } })).status).toBe('ACTIVE');
      expect(await ctx.db.domainEvent.count({ where: { subjectId: id, type: 'subscription.activated' } })).toBe(1);
    }
  });
});

describe('K8S_MODE=off', () => {
  let off: JobsContext;
  beforeAll(async () => {
    off = await createJobsContext({ env: { LOG_LEVEL: 'silent', K8S_MODE: 'off' }, clock });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('leaves instances PENDING with the reason, while their manifests can still be previewed', async () => {
    const { auth, plan } = await setup(off);
    const id = await subscribe(off, auth, plan.id);
    await expect.poll(async () => (await instanceOf(id, off)).lastError, poll).toBe('no Kubernetes cluster configured');
    const inst = await instanceOf(id, off);
    expect(inst.status).toBe('PENDING');
    expect(inst.provisionAttempts).toBe(0);
    expect((await off.db.subscription.findUniqueOrThrow({ where: { id } })).status).toBe('PENDING');
    const { body: view } = await off.request.get(`/api/v1/subscriptions/${id}/instance`).set('Authorization', auth).expect(200);
    expect(view.data).toMatchObject({ status: 'PENDING', cluster: 'off', lastError: 'no Kubernetes cluster configured' });
    const { body: m } = await off.request.get(`/api/v1/subscriptions/${id}/instance/manifests`).set('Authorization', auth).expect(200);
    const kinds = (m.data.manifests as { kind: string }[]).map((x) => x.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'NetworkPolicy', 'Secret', 'Deployment', 'Service', 'Ingress']));
    expect(JSON.stringify(m.data.manifests)).toContain(inst.namespace);
    expect((await off.request.get(`/api/v1/subscriptions/${id}/instance/logs`).set('Authorization', auth).expect(503)).body.code).toBe('SERVICE_UNAVAILABLE');
  });
});
