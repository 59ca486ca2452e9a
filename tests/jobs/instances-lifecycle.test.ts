import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { clusterOf } from '../../src/modules/instances/index.js';
import { balanceOf, createAdmin, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

// Subscriptions become instances on a Kubernetes API double driven over HTTP by the real client:
// the status follows what the double's controllers report, never a timer. The job clock runs on
// real time plus an offset, so retention periods pass without sleeping.
let offset = 0;
const clock = { now: () => new Date(Date.now() + offset) };
let ctx: JobsContext;
let smtp: TestSmtp;
let kube: KubeDouble;
const DAY = 86_400_000;
const PRICE = 20000;

beforeAll(async () => {
  smtp = await startTestSmtp();
  kube = await startKubeDouble({ readyDelayMs: 50 });
  ctx = await createJobsContext({ env: { SMTP_URL: smtp.url, LOG_LEVEL: 'silent' }, clock, cluster: clusterOf('simulated', kube.kubeConfig) });
});
afterAll(async () => {
  await ctx?.close();
  await kube?.close();
  await smtp?.close();
});

async function runJob(name: string, data: object = {}) {
  const spec = ctx.runner.queues.find((q) => q.name === name);
  if (!spec) throw new Error(`no queue ${name}`);
  const jobCtx: JobContext = { clock, logger: createLogger(ctx.config), jobId: `test-${name}`, retryCount: 0, lastAttempt: false };
  return spec.handler(data, jobCtx);
}

/** A user with funds, on a pool of registry nodes that are also the double's nodes. */
async function setup(overrides: Parameters<typeof createPlan>[2] = {}) {
  const pool = await createPool(ctx.db);
  kube.setNodes(pool.nodes.map((n) => ({ name: n.node.name, labels: pool.selector })));
  const plan = await createPlan(ctx.db, pool, { monthlyPrice: PRICE, ...overrides });
  const user = await createUser(ctx.db, ctx.config);
  await fund(ctx.db, user.user.id, 2 * PRICE);
  return { pool, plan, ...user };
}

const instanceOf = (subscriptionId: string) => ctx.db.serviceInstance.findUniqueOrThrow({ where: { subscriptionId } });
const subscriptionRow = (id: string) => ctx.db.subscription.findUniqueOrThrow({ where: { id } });
const statusOf = async (subscriptionId: string) => (await instanceOf(subscriptionId)).status;
const poll = { timeout: 30_000, interval: 100 };

describe('instances on the cluster', () => {
  it('subscribe -> PROVISIONING -> Deployment ready -> RUNNING on a registry node, subscription ACTIVE, email with the URL; suspend -> STOPPED at 0 replicas -> resume -> RUNNING', async () => {
    const { auth, user, pool, plan } = await setup();
    const admin = await createAdmin(ctx.db, ctx.config);
    kube.hooks.setReadiness('manual');
    const created = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = created.body.data.id as string;
    const inst = await instanceOf(id);

    // Applied, but Kubernetes has not said the Deployment is up: PROVISIONING, subscription PENDING.
    await expect.poll(() => kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app'), poll).toBeTruthy();
    await expect.poll(() => statusOf(id), poll).toBe('PROVISIONING');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await statusOf(id)).toBe('PROVISIONING');
    expect((await subscriptionRow(id)).status).toBe('PENDING');

    kube.hooks.markDeploymentReady(inst.namespace, 'app');
    kube.hooks.setReadiness('auto');
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    const running = await instanceOf(id);
    expect(running.nodeName).toBe(pool.nodes[0]?.node.name);
    expect(running.workerNodeId).toBe(pool.nodes[0]?.node.id);
    expect(running.readyReplicas).toBe(1);
    expect((await subscriptionRow(id)).status).toBe('ACTIVE');
    await smtp.waitFor(() => smtp.to(user.email).some((m) => m.subject?.includes('is ready')));
    const mail = smtp.to(user.email).find((m) => m.subject?.includes('is ready'));
    expect(mail?.text).toContain(running.url);
    const { body: creds } = await ctx.request.get(`/api/v1/subscriptions/${id}/instance/credentials`).set('Authorization', auth).expect(200);
    const password = creds.data.credentials.ADMIN_PASSWORD as string;
    expect(password.length).toBeGreaterThan(10);
    expect(mail?.text).not.toContain(password);
    const { body: view } = await ctx.request.get(`/api/v1/subscriptions/${id}/instance`).set('Authorization', auth).expect(200);
    expect(view.data).toMatchObject({ status: 'RUNNING', url: running.url, nodeName: running.nodeName, cluster: 'simulated' });

    // Suspended by an administrator: replicas 0 in the cluster, then STOPPED.
    await ctx.request.post(`/api/v1/admin/subscriptions/${id}/suspend`).set('Authorization', admin.auth).send({ reason: 'abuse report' }).expect(200);
    await expect.poll(() => statusOf(id), poll).toBe('STOPPED');
    expect((kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app')?.spec as { replicas: number }).replicas).toBe(0);
    expect(kube.store.podsOf(inst.namespace, 'app')).toHaveLength(0);

    // Resumed: RUNNING again (no second "ready" email).
    await ctx.request.post(`/api/v1/admin/subscriptions/${id}/resume`).set('Authorization', admin.auth).expect(200);
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    expect((kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app')?.spec as { replicas: number }).replicas).toBe(1);
    const types = (await ctx.db.domainEvent.findMany({ where: { subjectId: inst.id }, orderBy: { occurredAt: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['instance.provisioning', 'instance.running', 'instance.stopped', 'instance.provisioning', 'instance.running']);
  });

  it('cancel now -> STOPPED -> after the retention period the namespace answers 404 and the instance is DELETED', async () => {
    const { auth, plan } = await setup();
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = body.data.id as string;
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    const inst = await instanceOf(id);
    await ctx.request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({ atPeriodEnd: false }).expect(200);
    await expect.poll(() => statusOf(id), poll).toBe('STOPPED');
    expect(kube.store.get('v1', 'Namespace', undefined, inst.namespace)).toBeTruthy();

    offset = ctx.config.billing.retentionDays * DAY + 60_000;
    try {
      await runJob('subscription.expire');
      expect((await subscriptionRow(id)).status).toBe('EXPIRED');
      await expect.poll(() => statusOf(id), poll).toBe('DELETED');
    } finally {
      offset = 0;
    }
    expect(kube.store.get('v1', 'Namespace', undefined, inst.namespace)).toBeUndefined();
    expect(kube.store.list('apps/v1', 'Deployment', inst.namespace)).toHaveLength(0);
  });

  it('a progress deadline makes it FAILED: the subscription is cancelled, the charge refunded, the owner told, the namespace deleted', async () => {
    const { auth, user, plan } = await setup({ dockerImage: 'registry.invalid/x:1' });
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = body.data.id as string;
    const inst = await instanceOf(id);
    await expect.poll(() => kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app'), poll).toBeTruthy();
    kube.hooks.failDeployment(inst.namespace, 'app');
    await expect.poll(async () => (await subscriptionRow(id)).status, poll).toBe('CANCELLED');
    const failed = await instanceOf(id);
    expect(failed.lastError).toMatch(/did not become ready/);
    expect(await balanceOf(ctx.db, user.id)).toBe(2 * PRICE);
    expect(await ledgerSum(ctx.db, user.id)).toBe(2 * PRICE);
    await smtp.waitFor(() => smtp.to(user.email).some((m) => m.subject?.includes('could not be started')));
    await expect.poll(() => statusOf(id), poll).toBe('DELETED');
    const types = (await ctx.db.domainEvent.findMany({ where: { subjectId: inst.id } })).map((e) => e.type);
    expect(types).toContain('instance.failed');
    expect(types).not.toContain('instance.running');
    // One email says what happened: not also a cancellation notice promising to keep data.
    await expect.poll(async () => ctx.db.emailMessage.count({ where: { event: { subjectId: id } } }), poll).toBeGreaterThan(0);
    expect(smtp.to(user.email).filter((m) => m.subject?.includes('is cancelled'))).toHaveLength(0);
  });

  it('500 and 429 from the API server mid-apply: the job retries and the instance still reaches RUNNING with one of each object', async () => {
    const { auth, plan } = await setup();
    kube.faults.inject({ status: 500, method: 'PATCH', path: '/secrets/app-env' });
    kube.faults.inject({ status: 429, retryAfterSeconds: 1, method: 'PATCH', path: '/deployments/app' });
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = body.data.id as string;
    await expect.poll(() => statusOf(id), { ...poll, timeout: 45_000 }).toBe('RUNNING');
    const inst = await instanceOf(id);
    expect(inst.provisionAttempts).toBeGreaterThanOrEqual(3);
    expect(kube.faults.pending()).toBe(0);
    const mine = kube.store.all().filter((o) => (o.metadata as { namespace?: string; name?: string }).namespace === inst.namespace || (o.metadata as { name?: string }).name === inst.namespace);
    const kinds = mine.filter((o) => o.kind !== 'Pod' && o.kind !== 'ReplicaSet').map((o) => `${String(o.kind)}/${String((o.metadata as { name: string }).name)}`);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(kinds.filter((k) => k.startsWith('Deployment/'))).toEqual(['Deployment/app']);
    expect((await subscriptionRow(id)).status).toBe('ACTIVE');
  }, 60_000);
});

describe('the instance routes', () => {
  it('are for the owner only (404 for others), show redacted manifests and the log, and restart by annotation', async () => {
    const { auth, plan } = await setup();
    const other = await createUser(ctx.db, ctx.config);
    const admin = await createAdmin(ctx.db, ctx.config);
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = body.data.id as string;
    await expect.poll(() => statusOf(id), poll).toBe('RUNNING');
    const inst = await instanceOf(id);
    for (const path of ['', '/credentials', '/logs', '/manifests']) {
      const res = await ctx.request.get(`/api/v1/subscriptions/${id}/instance${path}`).set('Authorization', other.auth).expect(404);
      expect(res.body.code).toBe('NOT_FOUND');
    }
    for (const path of ['/restart', '/retry']) await ctx.request.post(`/api/v1/subscriptions/${id}/instance${path}`).set('Authorization', other.auth).expect(404);
    await ctx.request.get('/api/v1/admin/instances').set('Authorization', auth).expect(403);

    const { body: m } = await ctx.request.get(`/api/v1/subscriptions/${id}/instance/manifests`).set('Authorization', auth).expect(200);
    const kinds = (m.data.manifests as { kind: string }[]).map((x) => x.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'Secret', 'Deployment', 'Service', 'Ingress']));
    const secret = (m.data.manifests as { kind: string; stringData?: Record<string, string>; data?: Record<string, string> }[]).find((x) => x.kind === 'Secret');
    expect(JSON.stringify(secret)).not.toMatch(/ADMIN_PASSWORD":"(?!\(redacted\))/);

    const pod = kube.store.podsOf(inst.namespace, 'app')[0]?.metadata as { name: string };
    kube.hooks.appendPodLog(inst.namespace, pod.name, 'line one', 'line two');
    const { body: logs } = await ctx.request.get(`/api/v1/subscriptions/${id}/instance/logs?tailLines=1`).set('Authorization', auth).expect(200);
    expect(logs.data.text).toContain('line two');
    expect(logs.data.text).not.toContain('line one');
    await ctx.request.get(`/api/v1/subscriptions/${id}/instance/logs?tailLines=0`).set('Authorization', auth).expect(400);

    await ctx.request.post(`/api/v1/subscriptions/${id}/instance/retry`).set('Authorization', auth).expect(409);
    await ctx.request.post(`/api/v1/subscriptions/${id}/instance/restart`).set('Authorization', auth).expect(200);
    const annotations = (kube.store.get('apps/v1', 'Deployment', inst.namespace, 'app') as { spec: { template: { metadata: { annotations?: Record<string, string> } } } }).spec.template.metadata.annotations;
    expect(annotations?.['minispod.io/restarted-at']).toBeTruthy();

    const { body: list } = await ctx.request.get(`/api/v1/admin/instances?status=RUNNING&limit=100`).set('Authorization', admin.auth).expect(200);
    expect((list.data.instances as { id: string }[]).some((i) => i.id === inst.id)).toBe(true);
    await ctx.request.post(`/api/v1/admin/instances/${inst.id}/reconcile`).set('Authorization', admin.auth).expect(200);
  });
});
