import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { apply, kubeRequest } from '../helpers/kube.js';

let double: KubeDouble;
let ns: string;
let seq = 0;

beforeAll(async () => {
  double = await startKubeDouble({ readiness: 'manual' });
  ns = 'ssa';
  await kubeRequest(double, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterAll(async () => {
  await double.close();
});

const deploymentPath = (name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
const deployment = (name: string, container: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns, labels: { owner: 'minispod' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080 }], env: [{ name: 'A', value: '1' }], ...container }] },
    },
    ...extra,
  },
});
const managers = (obj: { metadata?: { managedFields?: { manager: string; operation: string }[] } }) => (obj.metadata?.managedFields ?? []).map((m) => `${m.manager}/${m.operation}`).sort();
const next = () => `d${++seq}`;

describe('kube double: server-side apply', () => {
  it('requires a fieldManager, and refuses force on other patches, as the API server validates PatchOptions (422 Invalid)', async () => {
    const res = await apply(double, deploymentPath('nofm'), deployment('nofm'), 'force=true');
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      kind: 'Status', reason: 'Invalid', code: 422, message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      details: { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason: 'FieldValueRequired', field: 'fieldManager' }] },
    });
    const merge = await kubeRequest(double, 'PATCH', `${deploymentPath('nofm')}?force=true`, { metadata: { labels: { a: 'b' } } }, 'application/merge-patch+json');
    expect(merge.status).toBe(422);
    expect(merge.body.details.causes[0]).toMatchObject({ field: 'force', reason: 'FieldValueForbidden' });
  });

  it('creates when absent (201), records the manager, and a second identical apply changes nothing', async () => {
    const name = next();
    const first = await apply(double, deploymentPath(name), deployment(name));
    expect(first.status).toBe(201);
    expect(managers(first.body)).toEqual(['minispod/Apply']);
    const fields = first.body.metadata.managedFields[0].fieldsV1;
    expect(fields['f:spec']['f:template']['f:spec']['f:containers']).toHaveProperty(['k:{"name":"app"}', 'f:ports', 'k:{"containerPort":8080,"protocol":"TCP"}']);
    await double.hooks.idle();
    const before = (await kubeRequest(double, 'GET', deploymentPath(name))).body;
    const second = await apply(double, deploymentPath(name), deployment(name));
    expect(second.status).toBe(200);
    expect(second.body.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(second.body.metadata.generation).toBe(1);
  });

  it('accepts a YAML body as well as JSON', async () => {
    const yaml = ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: from-yaml', `  namespace: ${ns}`, 'stringData:', '  KEY: value'].join('\n');
    const res = await apply(double, `/api/v1/namespaces/${ns}/secrets/from-yaml`, yaml);
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({ KEY: Buffer.from('value').toString('base64') });
  });

  it('merges maps and keyed lists of two managers: labels, containers by name, env by name, ports by containerPort, volumes by name', async () => {
    const name = next();
    const own = deployment(name, { volumeMounts: [{ name: 'data', mountPath: '/data' }] });
    (own.spec.template.spec as Record<string, unknown>).volumes = [{ name: 'data', emptyDir: {} }];
    expect((await apply(double, deploymentPath(name), own)).status).toBe(201);
    const sidecar = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { team: 'ops' } },
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'app', env: [{ name: 'B', value: '2' }], ports: [{ name: 'metrics', containerPort: 9090 }] },
              { name: 'sidecar', image: 'busybox:1.36' },
            ],
            volumes: [{ name: 'scratch', emptyDir: {} }],
          },
        },
      },
    };
    const merged = await apply(double, deploymentPath(name), sidecar, 'fieldManager=ops-tool');
    expect(merged.status).toBe(200);
    const spec = merged.body.spec.template.spec;
    expect(merged.body.metadata.labels).toEqual({ owner: 'minispod', team: 'ops' });
    expect(spec.containers.map((c: { name: string }) => c.name)).toEqual(['app', 'sidecar']);
    expect(spec.containers[0].image).toBe('nginx:1.27');
    expect(spec.containers[0].env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
    expect(spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([8080, 9090]);
    expect(spec.volumes).toEqual([{ name: 'data', emptyDir: {} }, { name: 'scratch', emptyDir: {} }]);
    expect(managers(merged.body)).toEqual(['minispod/Apply', 'ops-tool/Apply']);
    expect(merged.body.metadata.generation).toBe(2);
  });

  it('answers 409 Conflict naming the field when another manager owns it with another value; force takes it over', async () => {
    const name = next();
    await apply(double, deploymentPath(name), deployment(name));
    const intruder = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec: { replicas: 3, template: { spec: { containers: [{ name: 'app', image: 'nginx:1.28' }] } } } };
    const refused = await apply(double, deploymentPath(name), intruder, 'fieldManager=intruder');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409, details: { name, group: 'apps', kind: 'deployments' } });
    expect(refused.body.message).toMatch(/^Apply failed with 2 conflicts: conflicts with "minispod" using apps\/v1:/);
    expect(refused.body.details.causes).toEqual([
      { reason: 'FieldManagerConflict', message: 'conflict with "minispod" using apps/v1', field: '.spec.replicas' },
      { reason: 'FieldManagerConflict', message: 'conflict with "minispod" using apps/v1', field: '.spec.template.spec.containers[name="app"].image' },
    ]);
    const sameValue = await apply(double, deploymentPath(name), { ...intruder, spec: { replicas: 1 } }, 'fieldManager=intruder');
    expect(sameValue.status).toBe(200);
    const forced = await apply(double, deploymentPath(name), intruder, 'fieldManager=intruder&force=true');
    expect(forced.status).toBe(200);
    expect(forced.body.spec.replicas).toBe(3);
    const minispodFields = forced.body.metadata.managedFields.find((m: { manager: string }) => m.manager === 'minispod').fieldsV1;
    expect(minispodFields['f:spec']).not.toHaveProperty('f:replicas');
    // minispod takes it back the same way.
    const back = await apply(double, deploymentPath(name), deployment(name));
    expect(back.body.spec.replicas).toBe(1);
    expect(back.body.spec.template.spec.containers[0].image).toBe('nginx:1.27');
  });

  it('removes fields a manager stops applying unless another manager still owns them', async () => {
    const name = next();
    const withLabels = (labels: Record<string, string>) => ({ ...deployment(name), metadata: { name, namespace: ns, labels } });
    await apply(double, deploymentPath(name), withLabels({ a: '1', b: '2', shared: 'x' }));
    await apply(double, deploymentPath(name), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { shared: 'x' } } }, 'fieldManager=other');
    const res = await apply(double, deploymentPath(name), withLabels({ a: '1' }));
    expect(res.body.metadata.labels).toEqual({ a: '1', shared: 'x' });
  });

  it('bumps generation for a pod-template annotation, not for labels or status', async () => {
    const name = next();
    await apply(double, deploymentPath(name), deployment(name));
    const relabelled = await apply(double, deploymentPath(name), { ...deployment(name), metadata: { name, namespace: ns, labels: { owner: 'minispod', extra: 'y' } } });
    expect(relabelled.body.metadata.generation).toBe(1);
    const restarted = deployment(name);
    (restarted.spec.template.metadata as Record<string, unknown>).annotations = { 'minispod.io/restarted-at': '2026-01-01T00:00:00.000Z' };
    expect((await apply(double, deploymentPath(name), restarted)).body.metadata.generation).toBe(2);
  });

  it('ignores status in an applied body, keeps server defaults unowned, and refuses a name that differs from the URL', async () => {
    const name = next();
    const res = await apply(double, deploymentPath(name), { ...deployment(name), status: { replicas: 99 } });
    expect(res.body.status?.replicas).not.toBe(99);
    expect(res.body.spec).toMatchObject({ revisionHistoryLimit: 10, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate' } });
    expect(res.body.metadata.managedFields[0].fieldsV1['f:spec']).not.toHaveProperty('f:revisionHistoryLimit');
    const mismatch = await apply(double, deploymentPath('other-name'), deployment(name));
    expect(mismatch.status).toBe(400);
  });
});
