import { findKubeconfig, tokenKubeConfig } from '../../lib/kubeconfig.js';
import type { KubeConfig, KubernetesObject, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { toClusterError } from './instances.cluster-errors.js';
import { APP_NAME, FIELD_MANAGER, LABELS, MANAGED_BY, type Manifest } from './instances.manifests.js';

/**
 * The only file that talks to a Kubernetes cluster, always through @kubernetes/client-node: server-side
 * apply (field manager `minispod`, forced: minispod owns these objects), reads, namespace deletion,
 * and what Kubernetes observed (Deployment conditions, the pod's node, logs, metrics). Every failure
 * is a ClusterError (status, reason, retryable, retryAfterSeconds).
 */

export type ClusterMode = 'kubeconfig' | 'in-cluster';

export { findKubeconfig, tokenKubeConfig };

/**
 * @kubernetes/client-node costs about 70 MB of memory once loaded (every generated model and API):
 * it is imported when a cluster is first needed, so `K8S_MODE=off` never loads it and the simulated
 * cluster loads it with its first request.
 */
const client = () => import('@kubernetes/client-node');

/** The KubeConfig of a cluster mode: `kubeconfig` loads as kubectl does (KUBECONFIG, ~/.kube/config, service account). */
export async function loadKubeConfig(mode: ClusterMode, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  if (mode === 'in-cluster' && !env.KUBERNETES_SERVICE_HOST) throw new Error('K8S_MODE=in-cluster but KUBERNETES_SERVICE_HOST is not set: minispod is not running in a pod');
  if (mode === 'kubeconfig' && !findKubeconfig(env)) throw new Error('K8S_MODE=kubeconfig but no kubeconfig was found (KUBECONFIG, ~/.kube/config or a service account)');
  const kc = new (await client()).KubeConfig();
  if (mode === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}


/** For the start-up banner: which API server and context minispod talks to. */
export function describeCluster(kc: KubeConfig): { server: string; context: string; cluster: string; user?: string } {
  const cluster = kc.getCurrentCluster();
  return { server: cluster?.server ?? '(none)', context: kc.getCurrentContext(), cluster: cluster?.name ?? '(none)', ...(kc.getCurrentUser()?.name ? { user: kc.getCurrentUser()?.name } : {}) };
}

export interface DeploymentObservation {
  generation: number;
  observedGeneration: number;
  desiredReplicas: number;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas: number;
  progressing?: { status: string; reason?: string; message?: string };
  /** complete: rolled out and available; stopped: scaled to zero and no pod left; failed: ProgressDeadlineExceeded. */
  state: 'complete' | 'stopped' | 'failed' | 'progressing';
}

export interface PodPlacement {
  name: string;
  nodeName: string | null;
  phase: string;
  ready: boolean;
  terminating: boolean;
  createdAt: string | null;
}

export interface PodUsage {
  pod: string;
  cpuMillicores: number;
  memoryBytes: number;
  timestamp: string | null;
  window: string | null;
}

export interface ClusterDriverOptions {
  /** Or how to make one, on the first request. */
  kubeConfig: KubeConfig | (() => Promise<KubeConfig>);
  /** Every request is abandoned after this long (default 30 s) and fails as a retryable Timeout. */
  requestTimeoutMs?: number;
  fieldManager?: string;
}

type Ref = { apiVersion: string; kind: string; name: string; namespace?: string };
const refOf = (m: Ref) => ({ apiVersion: m.apiVersion, kind: m.kind, metadata: { name: m.name, ...(m.namespace ? { namespace: m.namespace } : {}) } });
const describe = (m: Ref) => `${m.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SCALE: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A metrics quantity ("1234567n", "20480Ki", "0.5") as a number of cores or bytes. */
export function usageValue(q: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(n|u|m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q ?? ''));
  return m ? Number(m[1]) * (SCALE[m[2] ?? ''] ?? 1) : 0;
}

type DeploymentObject = {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; readyReplicas?: number; availableReplicas?: number; updatedReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
};

/** A Deployment as the reconcile reads it: its counts, its Progressing condition, and the state they mean. */
export function observeDeployment(object: KubernetesObject): DeploymentObservation {
  const d = object as DeploymentObject;
  const status = d.status ?? {};
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  const obs = {
    generation: d.metadata?.generation ?? 0,
    observedGeneration: status.observedGeneration ?? 0,
    desiredReplicas: d.spec?.replicas ?? 1,
    replicas: status.replicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? 0,
    ...(progressing ? { progressing: { status: progressing.status, reason: progressing.reason, message: progressing.message } } : {}),
  };
  const observed = obs.observedGeneration >= obs.generation;
  const state: DeploymentObservation['state'] =
    observed && progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded' ? 'failed'
      : observed && obs.desiredReplicas === 0 && obs.replicas === 0 ? 'stopped'
        : observed && obs.availableReplicas >= 1 && obs.availableReplicas >= obs.desiredReplicas && progressing?.reason === 'NewReplicaSetAvailable' ? 'complete'
          : 'progressing';
  return { ...obs, state };
}

type PodObject = {
  metadata?: { name?: string; deletionTimestamp?: unknown; creationTimestamp?: string | Date };
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
};

function placementOf(object: KubernetesObject | PodObject): PodPlacement {
  const p = object as PodObject;
  return {
    name: p.metadata?.name ?? '',
    nodeName: p.spec?.nodeName ?? null,
    phase: p.status?.phase ?? 'Unknown',
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: Boolean(p.metadata?.deletionTimestamp),
    createdAt: p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).toISOString() : null,
  };
}

const newestFirst = (pods: PodPlacement[]) => pods.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));

export function createClusterDriver({ kubeConfig, requestTimeoutMs = 30_000, fieldManager = FIELD_MANAGER }: ClusterDriverOptions) {
  if (typeof kubeConfig !== 'function' && !kubeConfig.getCurrentCluster()?.server) throw new Error('The kubeconfig has no current cluster');
  const timeout = {
    pre: async (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(requestTimeoutMs));
      return ctx;
    },
    post: async (res: ResponseContext) => res,
  };
  let made: ReturnType<typeof connect> | undefined;
  async function connect() {
    const k8s = await client();
    const kc = typeof kubeConfig === 'function' ? await kubeConfig() : kubeConfig;
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('The kubeconfig has no current cluster');
    const configuration = k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: kc }, promiseMiddleware: [timeout] });
    return {
      objects: new k8s.KubernetesObjectApi(configuration),
      core: new k8s.CoreV1Api(configuration),
      custom: new k8s.CustomObjectsApi(configuration),
      apis: new k8s.ApisApi(configuration),
      versionApi: new k8s.VersionApi(configuration),
      serverSideApply: k8s.PatchStrategy.ServerSideApply,
    };
  }
  /** The API clients, made on the first request (a failed attempt is tried again on the next). */
  const api = () => (made ??= connect().catch((err: unknown) => {
    made = undefined;
    throw err;
  }));

  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toClusterError(err, operation);
    }
  }
  /** A read that answers null for 404. */
  async function maybe<T>(operation: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await call(operation, fn);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  const driver = {
    /** Server-side apply of one object; `force` takes over fields another manager holds (minispod owns what it applies). */
    apply(manifest: Manifest | KubernetesObject, options: { force?: boolean; fieldManager?: string } = {}): Promise<KubernetesObject> {
      const m = manifest as Manifest;
      const ref = { apiVersion: m.apiVersion, kind: m.kind, name: m.metadata.name, namespace: m.metadata.namespace };
      return call(`apply ${describe(ref)}`, async () => {
        const { objects, serverSideApply } = await api();
        return objects.patch(structuredClone(manifest) as KubernetesObject, undefined, undefined, options.fieldManager ?? fieldManager, options.force ?? true, serverSideApply);
      });
    },

    /** Applies the objects in order and stops at the first failure; a retry completes a partial apply (applying is idempotent). */
    async applyAll(manifests: Manifest[], options: { force?: boolean } = {}): Promise<KubernetesObject[]> {
      const applied: KubernetesObject[] = [];
      for (const m of manifests) applied.push(await driver.apply(m, options));
      return applied;
    },

    read: (ref: Ref): Promise<KubernetesObject | null> => maybe(`read ${describe(ref)}`, async () => (await api()).objects.read(refOf(ref))),

    async list(apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubernetesObject[]> {
      const list = await call(`list ${kind}${options.namespace ? ` in ${options.namespace}` : ''}`, async () =>
        (await api()).objects.list(apiVersion, kind, options.namespace, undefined, undefined, undefined, undefined, options.labelSelector),
      );
      return list.items;
    },

    /** 'Active', 'Terminating', or null when the namespace does not exist. */
    async namespacePhase(name: string): Promise<string | null> {
      const ns = await driver.read({ apiVersion: 'v1', kind: 'Namespace', name });
      return ns ? ((ns as { status?: { phase?: string } }).status?.phase ?? 'Active') : null;
    },

    /**
     * Deletes a namespace (and so everything in it). With waitMs, polls until its GET answers 404.
     * 'absent': there was none; 'gone': it answers 404 now; 'terminating': still being deleted.
     */
    async deleteNamespace(name: string, options: { waitMs?: number; pollMs?: number } = {}): Promise<'absent' | 'gone' | 'terminating'> {
      const ref = { apiVersion: 'v1', kind: 'Namespace', name };
      const deleted = await maybe(`delete ${describe(ref)}`, async () => (await api()).objects.delete(refOf(ref)));
      if (deleted === null) return 'absent';
      const until = Date.now() + (options.waitMs ?? 0);
      for (;;) {
        if ((await driver.namespacePhase(name)) === null) return 'gone';
        if (Date.now() >= until) return 'terminating';
        await sleep(Math.min(options.pollMs ?? 1000, Math.max(until - Date.now(), 1)));
      }
    },

    /** What the Deployment controller reports; null when there is no Deployment. */
    async deploymentStatus(namespace: string, name = APP_NAME): Promise<DeploymentObservation | null> {
      const d = await driver.read({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
      return d ? observeDeployment(d) : null;
    },

    /** The pods of an instance's namespace and the nodes Kubernetes placed them on (newest first). */
    async podPlacements(namespace: string): Promise<PodPlacement[]> {
      const list = await call(`list Pod in ${namespace}`, async () => (await api()).core.listNamespacedPod({ namespace }));
      return newestFirst(list.items.map(placementOf));
    },

    /**
     * Every object of a kind minispod manages, in all namespaces: one paged LIST (pages of 500).
     * `rest`: after each page, wait that many times as long as the page took, so a background
     * pass takes at most its share of a core from the API it shares the process or machine with.
     */
    async listManaged(apiVersion: string, kind: string, options: { rest?: number } = {}): Promise<KubernetesObject[]> {
      const selector = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',');
      const items: KubernetesObject[] = [];
      let token: string | undefined;
      do {
        const t0 = Date.now();
        const page = await call(`list ${kind} in all namespaces`, async () => (await api()).objects.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, selector, 500, token));
        items.push(...page.items);
        token = page.metadata?._continue || undefined;
        if (options.rest) await sleep((Date.now() - t0) * options.rest);
      } while (token);
      return items;
    },

    /**
     * The reconcile pass's reads: every managed app Deployment's observation and every managed
     * pod's placement, by namespace, in a few paged LISTs instead of two reads per instance.
     */
    async observeAll(options: { rest?: number } = {}): Promise<{ deployments: Map<string, DeploymentObservation>; placements: Map<string, PodPlacement[]> }> {
      const deployments = await driver.listManaged('apps/v1', 'Deployment', options);
      const pods = await driver.listManaged('v1', 'Pod', options);
      const byNamespace = new Map<string, DeploymentObservation>();
      for (const d of deployments) if (d.metadata?.name === APP_NAME && d.metadata.namespace) byNamespace.set(d.metadata.namespace, observeDeployment(d));
      const placements = new Map<string, PodPlacement[]>();
      for (const p of pods) {
        const ns = p.metadata?.namespace;
        if (!ns) continue;
        const list = placements.get(ns);
        if (list) list.push(placementOf(p));
        else placements.set(ns, [placementOf(p)]);
      }
      for (const list of placements.values()) newestFirst(list);
      return { deployments: byNamespace, placements };
    },

    /** The app's log from its newest running pod (tailLines as kubectl logs --tail); null when no pod runs. */
    async podLogs(namespace: string, options: { tailLines?: number; container?: string } = {}): Promise<{ pod: string; text: string } | null> {
      const pod = (await driver.podPlacements(namespace)).find((p) => p.phase === 'Running' && !p.terminating);
      if (!pod) return null;
      const text = await call(`read log of Pod ${namespace}/${pod.name}`, async () =>
        (await api()).core.readNamespacedPodLog({ name: pod.name, namespace, container: options.container ?? APP_NAME, ...(options.tailLines !== undefined ? { tailLines: options.tailLines } : {}) }),
      );
      return { pod: pod.name, text: String(text ?? '') };
    },

    /** Whether the cluster serves metrics.k8s.io (metrics-server installed), by discovery. */
    async metricsAvailable(): Promise<boolean> {
      const groups = await call('discover API groups', async () => (await api()).apis.getAPIVersions());
      return groups.groups.some((g) => g.name === 'metrics.k8s.io' && g.versions.some((v) => v.version === 'v1beta1'));
    },

    /** CPU and memory of the namespace's pods from metrics.k8s.io; null when the cluster has no metrics API. */
    async podMetrics(namespace: string, options: { discovered?: boolean } = {}): Promise<PodUsage[] | null> {
      // A caller going over many namespaces discovers the API once (`discovered`), not once per namespace.
      if (!options.discovered && !(await driver.metricsAvailable())) return null;
      const list = (await call(`read PodMetrics in ${namespace}`, async () =>
        (await api()).custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods' }),
      )) as { items?: { metadata?: { name?: string }; timestamp?: string; window?: string; containers?: { usage?: { cpu?: string; memory?: string } }[] }[] };
      return (list.items ?? []).map((item) => ({
        pod: item.metadata?.name ?? '',
        cpuMillicores: Math.round((item.containers ?? []).reduce((s, c) => s + usageValue(c.usage?.cpu), 0) * 1000),
        memoryBytes: Math.round((item.containers ?? []).reduce((s, c) => s + usageValue(c.usage?.memory), 0)),
        timestamp: item.timestamp ?? null,
        window: item.window ?? null,
      }));
    },

    /** Namespaces minispod manages, with the instance id they belong to (for the orphan sweep). */
    async managedNamespaces(): Promise<{ name: string; instanceId: string | null; phase: string; createdAt: string | null }[]> {
      const items = await driver.list('v1', 'Namespace', { labelSelector: Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',') });
      return items.map((ns) => ({
        name: ns.metadata?.name ?? '',
        instanceId: ns.metadata?.labels?.[LABELS.instanceId] ?? null,
        phase: (ns as { status?: { phase?: string } }).status?.phase ?? 'Active',
        createdAt: ns.metadata?.creationTimestamp ? new Date(ns.metadata.creationTimestamp).toISOString() : null,
      }));
    },

    /** The API server's version (gitVersion), e.g. for the start-up banner. */
    async serverVersion(): Promise<string> {
      const info = await call('read server version', async () => (await api()).versionApi.getCode());
      return info.gitVersion;
    },
  };
  return driver;
}

export type ClusterDriver = ReturnType<typeof createClusterDriver>;
