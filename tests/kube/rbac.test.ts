import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllYaml } from '@kubernetes/client-node';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { buildManifests } from '../../src/modules/instances/instances.manifests.js';
import { createClusterDriver } from '../../src/modules/instances/instances.kubernetes.js';
import { sampleConfig, sampleInstance, sampleService } from '../helpers/instance-inputs.js';
import { eventually } from '../helpers/kube.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
const docs = loadAllYaml(readFileSync(new URL('../../deploy/kubernetes/rbac.yaml', import.meta.url), 'utf8')) as { kind: string }[];
const role = docs.find((d) => d.kind === 'ClusterRole') as unknown as { rules: Rule[] };

/** The RBAC attributes of a resource request, as the API server's authorizer derives them. */
function attributes(method: string, path: string, hasName: boolean): { group: string; resource: string; verb: string } | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(.+)$/.exec(path);
  if (!m) return undefined; // discovery and /version: non-resource URLs every authenticated user may read
  const seg = (m[2] as string).split('/');
  const [resource, sub] = seg[0] === 'namespaces' && seg.length >= 3 ? [seg[2], seg[4]] : [seg[0], seg[2]];
  const verb = { GET: hasName ? 'get' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] as string;
  return { group: m[1] ?? '', resource: sub ? `${resource}/${sub}` : String(resource), verb };
}

describe('deploy/kubernetes/rbac.yaml', () => {
  let double: KubeDouble;
  beforeAll(async () => {
    double = await startKubeDouble({ readyDelayMs: 20 });
  });
  afterAll(async () => {
    await double.close();
  });

  it('is a valid ServiceAccount, ClusterRole and ClusterRoleBinding', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']);
    expect(() => new ClusterRole(role as never).validate()).not.toThrow();
    expect(() => new ClusterRoleBinding(docs[3] as never).validate()).not.toThrow();
  });

  it('grants every request the driver makes through a whole instance life', async () => {
    const driver = createClusterDriver({ kubeConfig: double.kubeConfig });
    const service = sampleService();
    const instance = sampleInstance(service);
    const ns = `msp-${instance.shortId}`;
    double.requests.clear();
    await driver.applyAll(buildManifests(instance, service, sampleConfig()));
    await eventually(async () => (await driver.deploymentStatus(ns))?.state === 'complete');
    await driver.podPlacements(ns);
    await driver.observeAll();
    await driver.podLogs(ns, { tailLines: 10 });
    await driver.podMetrics(ns);
    await driver.managedNamespaces();
    await driver.list('v1', 'Node');
    await driver.serverVersion();
    expect(await driver.deleteNamespace(ns, { waitMs: 5000, pollMs: 20 })).toBe('gone');

    const needed = new Set<string>();
    for (const r of double.requests.list()) {
      const name = /\/namespaces\/[^/]+\/[^/]+\/[^/]+|^\/api\/v1\/(namespaces|nodes)\/[^/]+$/.test(r.path) || r.path.endsWith('/log');
      const a = attributes(r.method, r.path, name);
      if (a) needed.add(`${a.group}|${a.resource}|${a.verb}`);
    }
    expect(needed.size).toBeGreaterThan(10);
    const denied = [...needed].filter((n) => {
      const [group, resource, verb] = n.split('|');
      return !role.rules.some((rule) => rule.apiGroups.includes(group as string) && rule.resources.includes(resource as string) && rule.verbs.includes(verb as string));
    });
    expect(denied).toEqual([]);
  });
});
