/**
 * The resources the double serves and the discovery documents that announce them. The client
 * (KubernetesObjectApi) finds a kind's plural name and scope here before every first request, as it
 * does against a real API server.
 */

export interface ResourceDef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs: string[];
  /** Has a status subresource: writes to the main resource never change status. */
  hasStatus: boolean;
  subresources: { name: string; kind: string; verbs: string[] }[];
  /** Served by the metrics API (computed, read-only, can be switched off). */
  metrics?: boolean;
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const RO = ['get', 'list'];
const status = (kind: string) => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });

const def = (group: string, version: string, kind: string, plural: string, namespaced: boolean, extra: Partial<ResourceDef> = {}): ResourceDef => ({
  group,
  version,
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced,
  verbs: RW,
  hasStatus: false,
  subresources: [],
  ...extra,
});

export const RESOURCES: ResourceDef[] = [
  def('', 'v1', 'LimitRange', 'limitranges', true, { shortNames: ['limits'] }),
  def('', 'v1', 'Namespace', 'namespaces', false, { shortNames: ['ns'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], hasStatus: true, subresources: [status('Namespace')] }),
  def('', 'v1', 'Node', 'nodes', false, { shortNames: ['no'], hasStatus: true, subresources: [status('Node')] }),
  def('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, { shortNames: ['pvc'], hasStatus: true, subresources: [status('PersistentVolumeClaim')] }),
  def('', 'v1', 'Pod', 'pods', true, { shortNames: ['po'], hasStatus: true, subresources: [{ name: 'log', kind: 'Pod', verbs: ['get'] }, status('Pod')] }),
  def('', 'v1', 'ResourceQuota', 'resourcequotas', true, { shortNames: ['quota'], hasStatus: true, subresources: [status('ResourceQuota')] }),
  def('', 'v1', 'Secret', 'secrets', true),
  def('', 'v1', 'Service', 'services', true, { shortNames: ['svc'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], hasStatus: true, subresources: [status('Service')] }),
  def('apps', 'v1', 'Deployment', 'deployments', true, { shortNames: ['deploy'], hasStatus: true, subresources: [status('Deployment')] }),
  def('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, { shortNames: ['ing'], hasStatus: true, subresources: [status('Ingress')] }),
  def('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, { shortNames: ['netpol'] }),
  def('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, { shortNames: ['pdb'], hasStatus: true, subresources: [status('PodDisruptionBudget')] }),
  def('metrics.k8s.io', 'v1beta1', 'NodeMetrics', 'nodes', false, { verbs: RO, metrics: true }),
  def('metrics.k8s.io', 'v1beta1', 'PodMetrics', 'pods', true, { verbs: RO, metrics: true }),
];

export const apiVersionOf = (d: Pick<ResourceDef, 'group' | 'version'>) => (d.group ? `${d.group}/${d.version}` : d.version);

export function resourceByPath(group: string, version: string, plural: string, metricsEnabled: boolean): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural && (metricsEnabled || !r.metrics));
}

export function resourceByKind(apiVersion: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

function groupVersions(metricsEnabled: boolean): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.metrics && !metricsEnabled) continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return groups;
}

const groupDoc = (name: string, versions: string[]) => ({
  name,
  versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
  preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
});

/** The discovery document for a path (/api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>), or undefined. */
export function discovery(path: string, metricsEnabled: boolean, serverAddress: string): object | undefined {
  const groups = groupVersions(metricsEnabled);
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }
  if (path === '/apis') {
    const list = [...groups].filter(([g]) => g !== '').map(([g, versions]) => groupDoc(g, versions));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: list };
  }
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)(?:\/([^/]+))?)$/.exec(path);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = m[1] ?? m[3];
  const versions = groups.get(group);
  if (!versions) return undefined;
  if (version === undefined) return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, versions) };
  if (!versions.includes(version)) return undefined;
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version).flatMap((r) => [
    { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames ? { shortNames: r.shortNames } : {}) },
    ...r.subresources.map((s) => ({ name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind, verbs: s.verbs })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}
