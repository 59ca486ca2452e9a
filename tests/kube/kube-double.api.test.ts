import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { apply, eventually, kubeRequest } from '../helpers/kube.js';

let double: KubeDouble;
let seq = 0;
const freshNamespace = async () => {
  const name = `ns-api-${++seq}`;
  expect((await kubeRequest(double, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })).status).toBe(201);
  return name;
};
const secret = (ns: string, name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, data: { A: 'YQ==' }, ...extra });

beforeAll(async () => {
  double = await startKubeDouble({ namespaceDeletionDelayMs: 5 });
});
afterAll(async () => {
  await double.close();
});

describe('kube double: discovery and authentication', () => {
  it('announces the groups, versions and resources the client looks up', async () => {
    const api = await kubeRequest(double, 'GET', '/api');
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await kubeRequest(double, 'GET', '/apis')).body.groups.map((g: { name: string }) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['apps', 'networking.k8s.io', 'policy', 'metrics.k8s.io']));
    const core = (await kubeRequest(double, 'GET', '/api/v1')).body;
    expect(core.resources).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'namespaces', kind: 'Namespace', namespaced: false }),
      expect.objectContaining({ name: 'pods/log', kind: 'Pod' }),
      expect.objectContaining({ name: 'secrets', kind: 'Secret', namespaced: true }),
    ]));
    expect((await kubeRequest(double, 'GET', '/apis/apps/v1')).body.resources).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'deployments', kind: 'Deployment' })]));
    expect((await kubeRequest(double, 'GET', '/apis/networking.k8s.io/v1')).body.resources.map((r: { kind: string }) => r.kind)).toEqual(expect.arrayContaining(['Ingress', 'NetworkPolicy']));
  });

  it('switches the metrics API off and on', async () => {
    double.setMetricsEnabled(false);
    try {
      expect((await kubeRequest(double, 'GET', '/apis')).body.groups.map((g: { name: string }) => g.name)).not.toContain('metrics.k8s.io');
      const res = await kubeRequest(double, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    } finally {
      double.setMetricsEnabled(true);
    }
    expect((await kubeRequest(double, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods')).status).toBe(200);
  });

  it('answers 401 Unauthorized without the bearer token', async () => {
    const res = await fetch(`${double.url}/api/v1/namespaces`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
  });
});

describe('kube double: objects', () => {
  it('creates with uid, resourceVersion, generation and creationTimestamp; a second create is 409 AlreadyExists', async () => {
    const ns = await freshNamespace();
    const created = await kubeRequest(double, 'POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, 's1'));
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 's1', namespace: ns, generation: 1, uid: expect.stringMatching(/^[0-9a-f-]{36}$/), resourceVersion: expect.stringMatching(/^\d+$/) });
    expect(created.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const again = await kubeRequest(double, 'POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, 's1'));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'secrets "s1" already exists', details: { name: 's1', kind: 'secrets' } });
  });

  it('answers 404 NotFound with details, names the group of grouped resources', async () => {
    const ns = await freshNamespace();
    const res = await kubeRequest(double, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'deployments.apps "nope" not found', reason: 'NotFound', code: 404, details: { name: 'nope', group: 'apps', kind: 'deployments' } });
  });

  it('PUT bumps resourceVersion, bumps generation only for spec changes, and refuses a stale resourceVersion with 409 Conflict', async () => {
    const ns = await freshNamespace();
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'c', namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
    const v1 = (await kubeRequest(double, 'POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, pvc)).body;
    const path = `/api/v1/namespaces/${ns}/persistentvolumeclaims/c`;
    const latest = async () => (await kubeRequest(double, 'GET', path)).body;
    await eventually(async () => (await latest()).status?.phase === 'Bound');
    const bound = await latest();
    const labelled = await kubeRequest(double, 'PUT', path, { ...bound, metadata: { ...bound.metadata, labels: { a: 'b' } } });
    expect(labelled.status).toBe(200);
    expect(Number(labelled.body.metadata.resourceVersion)).toBeGreaterThan(Number(bound.metadata.resourceVersion));
    expect(labelled.body.metadata.generation).toBe(1);
    const grown = await kubeRequest(double, 'PUT', path, { ...labelled.body, spec: { ...labelled.body.spec, resources: { requests: { storage: '2Gi' } } } });
    expect(grown.body.metadata.generation).toBe(2);
    const stale = await kubeRequest(double, 'PUT', path, { ...v1, spec: { ...v1.spec, resources: { requests: { storage: '3Gi' } } } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ reason: 'Conflict', code: 409 });
    expect(stale.body.message).toContain('the object has been modified');
    await double.hooks.idle();
    const current = await latest();
    const shrunk = await kubeRequest(double, 'PUT', path, { ...current, spec: { ...current.spec, resources: { requests: { storage: '1Gi' } } } });
    expect(shrunk.status).toBe(422);
    expect(shrunk.body.details.causes).toEqual([expect.objectContaining({ reason: 'FieldValueForbidden', field: 'spec.resources.requests.storage' })]);
  });

  it('lists by label selector (=, !=, in, notin, exists, !exists) without kind on the items, and pages with limit/continue', async () => {
    const ns = await freshNamespace();
    const labels = [{ tier: 'web', env: 'prod' }, { tier: 'db', env: 'prod' }, { tier: 'web', env: 'dev' }, { other: 'x' }];
    for (const [i, l] of labels.entries()) await kubeRequest(double, 'POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, `s${i}`, { metadata: { name: `s${i}`, namespace: ns, labels: l } }));
    const names = async (selector: string) => {
      const res = await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/secrets?labelSelector=${encodeURIComponent(selector)}`);
      expect(res.body).toMatchObject({ kind: 'SecretList', apiVersion: 'v1' });
      expect(res.body.items.every((i: { kind?: string }) => i.kind === undefined)).toBe(true);
      return res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    };
    expect(await names('tier=web')).toEqual(['s0', 's2']);
    expect(await names('tier==web,env=prod')).toEqual(['s0']);
    expect(await names('tier!=web')).toEqual(['s1', 's3']);
    expect(await names('env in (prod, dev),tier notin (db)')).toEqual(['s0', 's2']);
    expect(await names('other')).toEqual(['s3']);
    expect(await names('!other')).toEqual(['s0', 's1', 's2']);
    expect((await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/secrets?labelSelector=${encodeURIComponent('a in b')}`)).status).toBe(400);
    const page1 = (await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/secrets?limit=3`)).body;
    expect(page1.items).toHaveLength(3);
    const page2 = (await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/secrets?limit=3&continue=${page1.metadata.continue}`)).body;
    expect(page2.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['s3']);
  });

  it('refuses invalid objects with 422 Invalid and the causes (schema and API-server rules)', async () => {
    const ns = await freshNamespace();
    const deployment = (spec: Record<string, unknown>, name = 'app') => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec });
    const template = { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'app', image: 'nginx:1' }] } };
    const cases: [unknown, string][] = [
      [deployment({ selector: { matchLabels: { app: 'a' } }, template: { ...template, spec: { containers: [{ name: 'app' }] } } }), 'spec.template.spec.containers[0].image'],
      [deployment({ selector: { matchLabels: { app: 'other' } }, template }), 'spec.template.metadata.labels'],
      [deployment({ selector: { matchLabels: { app: 'a' } }, template: { ...template, spec: { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 'http' }] }] } } }), 'spec.template.spec.containers[0].ports[0].containerPort'],
      [deployment({ selector: { matchLabels: { app: 'a' } }, template }, 'Bad_Name'), 'metadata.name'],
      [deployment({ selector: { matchLabels: { app: 'a' } }, template: { ...template, spec: { containers: [{ name: 'app', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] } } }), 'spec.template.spec.containers[0].resources.requests'],
    ];
    for (const [body, field] of cases) {
      const res = await apply(double, `/apis/apps/v1/namespaces/${ns}/deployments/${(body as { metadata: { name: string } }).metadata.name}`, body);
      expect(res.status, field).toBe(422);
      expect(res.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422, details: { kind: 'Deployment', group: 'apps' } });
      expect(res.body.details.causes.map((c: { field: string }) => c.field)).toContain(field);
      expect(res.body.message).toMatch(/^Deployment\.apps ".*" is invalid: /);
    }
    expect(double.store.list('apps/v1', 'Deployment', ns)).toEqual([]);
  });
});

describe('kube double: namespace lifecycle', () => {
  it('deletes a namespace through Terminating to 404, together with its objects', async () => {
    double.hooks.holdNamespaceDeletion(true);
    const ns = await freshNamespace();
    await kubeRequest(double, 'POST', `/api/v1/namespaces/${ns}/secrets`, secret(ns, 'kept'));
    const del = await kubeRequest(double, 'DELETE', `/api/v1/namespaces/${ns}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ kind: 'Namespace', status: { phase: 'Terminating' }, metadata: { deletionTimestamp: expect.any(String) } });
    const refused = await apply(double, `/api/v1/namespaces/${ns}/secrets/new`, secret(ns, 'new'));
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      reason: 'Forbidden', code: 403,
      message: `secrets "new" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      details: { causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] },
    });
    expect((await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}/secrets/kept`)).status).toBe(200);
    double.hooks.holdNamespaceDeletion(false);
    await eventually(async () => (await kubeRequest(double, 'GET', `/api/v1/namespaces/${ns}`)).status === 404);
    expect(double.store.list('v1', 'Secret', ns)).toEqual([]);
  });

  it('refuses content for a missing namespace with 404 namespaces "x" not found', async () => {
    const res = await apply(double, '/api/v1/namespaces/missing-ns/secrets/s', secret('missing-ns', 's'));
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ reason: 'NotFound', message: 'namespaces "missing-ns" not found', details: { name: 'missing-ns', kind: 'namespaces' } });
  });

  it('keeps a namespace with a finalizer Terminating until an update removes the finalizer', async () => {
    const name = `ns-fin-${++seq}`;
    await kubeRequest(double, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, finalizers: ['example.com/hold'] } });
    await kubeRequest(double, 'DELETE', `/api/v1/namespaces/${name}`);
    await new Promise((r) => setTimeout(r, 50));
    const held = await kubeRequest(double, 'GET', `/api/v1/namespaces/${name}`);
    expect(held.body.status.phase).toBe('Terminating');
    const released = await kubeRequest(double, 'PUT', `/api/v1/namespaces/${name}`, { ...held.body, metadata: { ...held.body.metadata, finalizers: [] } });
    expect(released.status).toBe(200);
    await eventually(async () => (await kubeRequest(double, 'GET', `/api/v1/namespaces/${name}`)).status === 404);
  });
});

describe('kube double: faults and the request log', () => {
  it('injects 429/500/503 with Retry-After, latency and connection resets for matching requests only', async () => {
    double.faults.inject({ status: 429, retryAfterSeconds: 7, method: 'GET', path: '/api/v1/namespaces/default', times: 2 });
    double.faults.inject({ status: 503, path: /\/version$/ });
    const throttled = await kubeRequest(double, 'GET', '/api/v1/namespaces/default');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect(throttled.body).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 7 } });
    expect((await kubeRequest(double, 'GET', '/api')).status).toBe(200);
    expect((await kubeRequest(double, 'GET', '/api/v1/namespaces/default')).status).toBe(429);
    expect((await kubeRequest(double, 'GET', '/version')).body).toMatchObject({ reason: 'ServiceUnavailable', code: 503 });
    expect(double.faults.pending()).toBe(0);
    double.faults.inject({ status: 500 });
    expect((await kubeRequest(double, 'GET', '/api')).body).toMatchObject({ reason: 'InternalError', code: 500 });
    double.faults.inject({ reset: true });
    await expect(kubeRequest(double, 'GET', '/api')).rejects.toThrow();
    double.faults.inject({ latencyMs: 150 });
    const started = Date.now();
    expect((await kubeRequest(double, 'GET', '/api')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('records method, path, query, field manager and the status answered', async () => {
    double.requests.clear();
    await apply(double, '/api/v1/namespaces/log-test', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'log-test' } }, 'fieldManager=tester&force=false');
    const [record] = double.requests.list({ method: 'PATCH', path: '/log-test' });
    expect(record).toMatchObject({ method: 'PATCH', path: '/api/v1/namespaces/log-test', fieldManager: 'tester', force: false, status: 201, contentType: 'application/apply-patch+yaml' });
    expect(record?.body).toMatchObject({ kind: 'Namespace' });
  });
});
