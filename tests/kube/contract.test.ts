import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { buildManifests, type Manifest, type ServiceInput } from '../../src/modules/instances/instances.manifests.js';
import { createClusterDriver, findKubeconfig, loadKubeConfig, type ClusterDriver } from '../../src/modules/instances/instances.kubernetes.js';
import { isClusterError, toClusterError, type ClusterError } from '../../src/modules/instances/instances.cluster-errors.js';
import { sampleConfig, sampleInstance, sampleService } from '../helpers/instance-inputs.js';
import { eventually } from '../helpers/kube.js';

/**
 * One contract for the driver, run through the real client against the API double and, with
 * MINISPOD_K8S_E2E=1 and a kubeconfig, against a real cluster: what the double gets right is what a
 * cluster does. Assertions that need the double's hooks (fault injection, readiness timing, the
 * metrics switch) are marked as double-only; everything else must hold on both.
 */

interface Target {
  kubeConfig: KubeConfig;
  double?: KubeDouble;
  service: (overrides?: Partial<ServiceInput>) => ServiceInput;
  /** How long Kubernetes may take: a pod start, a progress deadline, a namespace deletion. */
  waitMs: number;
  pollMs: number;
  close: () => Promise<void>;
}

const E2E = process.env.MINISPOD_K8S_E2E === '1';
const KUBECONFIG_FOUND = findKubeconfig() !== null;
const UNPULLABLE = 'registry.invalid/minispod/does-not-exist:0';
const config = sampleConfig({ appsDomain: 'minispod-e2e.invalid', progressDeadlineSeconds: 5 });

async function openDouble(): Promise<Target> {
  const double = await startKubeDouble({ readyDelayMs: 40, deadlineMsPerSecond: 20, namespaceDeletionDelayMs: 10, nodes: [{ name: 'worker-a' }, { name: 'worker-b' }] });
  return { kubeConfig: double.kubeConfig, double, service: (o) => sampleService(o), waitMs: 5000, pollMs: 20, close: () => double.close() };
}

async function openCluster(): Promise<Target> {
  // An unprivileged image that answers HTTP on 8080 passes the baseline Pod Security level; a PVC
  // only when the cluster has a storage class for it.
  const image = process.env.MINISPOD_K8S_E2E_IMAGE ?? 'nginxinc/nginx-unprivileged:1.27-alpine';
  const storageClassName = process.env.MINISPOD_K8S_E2E_STORAGE_CLASS;
  const service = (o: Partial<ServiceInput> = {}) =>
    sampleService({ dockerImage: image, containerPort: 8080, healthPath: '/', cpuRequest: '50m', cpuLimit: '200m', memRequest: '32Mi', memLimit: '64Mi', ...(storageClassName ? { dataMountPath: '/data', storage: '64Mi' } : { dataMountPath: null, storage: null }), ...o });
  if (storageClassName) Object.assign(config, { storageClassName });
  return { kubeConfig: await loadKubeConfig('kubeconfig'), service, waitMs: 240_000, pollMs: 1000, close: async () => undefined };
}

function contract(open: () => Promise<Target>) {
  let target: Target;
  let driver: ClusterDriver;
  const namespaces: string[] = [];
  const onDouble = (run: (d: KubeDouble) => void | Promise<void>) => (target.double ? run(target.double) : undefined);

  const manifestsFor = (overrides: Partial<ServiceInput> = {}, instanceOverrides = {}) => {
    const service = target.service(overrides);
    const ms = buildManifests(sampleInstance(service, config, instanceOverrides), service, config);
    namespaces.push(ms[0]?.metadata.name as string);
    return ms;
  };
  const refOf = (m: Manifest) => ({ apiVersion: m.apiVersion, kind: m.kind, name: m.metadata.name, namespace: m.metadata.namespace });
  const nsOf = (ms: Manifest[]) => ms[0]?.metadata.name as string;
  const failure = async (promise: Promise<unknown>): Promise<ClusterError> => {
    const err = await promise.then(() => undefined, (e: unknown) => e);
    if (!isClusterError(err)) throw new Error(`expected a ClusterError, got ${String(err)}`);
    return err;
  };
  const waitFor = (state: string, ns: string) => eventually(async () => ((await driver.deploymentStatus(ns))?.state === state ? driver.deploymentStatus(ns) : undefined), target.waitMs, target.pollMs);

  beforeAll(async () => {
    target = await open();
    driver = createClusterDriver({ kubeConfig: target.kubeConfig, requestTimeoutMs: 15_000 });
  });
  afterAll(async () => {
    if (!target) return;
    await Promise.allSettled(namespaces.map((ns) => driver.deleteNamespace(ns)));
    await target.close();
  });

  it('applies every object of an instance; applying again changes no resourceVersion or generation', async () => {
    const ms = manifestsFor();
    await driver.applyAll(ms);
    await waitFor('complete', nsOf(ms));
    // What the cluster stored keeps the isolation settings (nothing dropped on the way through the client).
    const stored = (await driver.read(refOf(ms.find((m) => m.kind === 'Deployment') as Manifest))) as { spec: { template: { spec: Record<string, any> } } }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const pod = stored.spec.template.spec;
    expect(pod).toMatchObject({ automountServiceAccountToken: false, enableServiceLinks: false, securityContext: { seccompProfile: { type: 'RuntimeDefault' } } });
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false });
    expect((await driver.read(refOf(ms[0] as Manifest)))?.metadata?.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'baseline', 'app.kubernetes.io/managed-by': 'minispod' });
    for (const m of ms) {
      const before = await driver.read(refOf(m));
      const after = await driver.apply(m);
      expect({ kind: m.kind, rv: after.metadata?.resourceVersion, generation: after.metadata?.generation }).toEqual({ kind: m.kind, rv: before?.metadata?.resourceVersion, generation: before?.metadata?.generation });
    }
  });

  it('refuses another manager a field minispod owns (409 Conflict naming it) unless forced; minispod forces it back', async () => {
    const ms = manifestsFor();
    await driver.applyAll(ms);
    const deployment = ms.find((m) => m.kind === 'Deployment') as Manifest;
    const intrusion = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace: nsOf(ms) }, spec: { replicas: 2 } };
    const err = await failure(driver.apply(intrusion, { fieldManager: 'contract-intruder', force: false }));
    expect(err).toMatchObject({ statusCode: 409, reason: 'Conflict', retryable: false });
    expect(err.causes).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'FieldManagerConflict', field: '.spec.replicas' })]));
    expect((await driver.apply(intrusion, { fieldManager: 'contract-intruder', force: true })) as { spec?: { replicas?: number } }).toMatchObject({ spec: { replicas: 2 } });
    expect((await driver.apply(deployment)) as { spec?: { replicas?: number } }).toMatchObject({ spec: { replicas: 1 } });
  });

  it('completes a partial apply on retry, without duplicates and without touching what was applied', async () => {
    const ms = manifestsFor();
    const prefix = ms.slice(0, 5);
    const first = await driver.applyAll(prefix);
    await onDouble(async (d) => {
      d.faults.inject({ status: 500, method: 'PATCH', path: '/secrets/app-env' });
      const err = await failure(driver.applyAll(ms));
      expect(err).toMatchObject({ statusCode: 500, reason: 'InternalError', retryable: true });
    });
    await driver.applyAll(ms);
    for (const [i, m] of prefix.entries()) expect((await driver.read(refOf(m)))?.metadata?.resourceVersion).toBe(first[i]?.metadata?.resourceVersion);
    expect(await driver.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace: nsOf(ms) })).toHaveLength(4);
    expect(await driver.list('apps/v1', 'Deployment', { namespace: nsOf(ms) })).toHaveLength(1);
  });

  it('deletes an instance by its namespace: Terminating, then 404 with everything in it', async () => {
    const ms = manifestsFor();
    await driver.applyAll(ms);
    expect(await driver.namespacePhase(nsOf(ms))).toBe('Active');
    expect(await driver.deleteNamespace(nsOf(ms), { waitMs: target.waitMs, pollMs: target.pollMs })).toBe('gone');
    expect(await driver.namespacePhase(nsOf(ms))).toBeNull();
    expect(await driver.read(refOf(ms.find((m) => m.kind === 'Deployment') as Manifest))).toBeNull();
    expect(await driver.deleteNamespace(nsOf(ms))).toBe('absent');
  });

  it('refuses content for a missing namespace (404 NotFound) and a terminating one (403 Forbidden, NamespaceTerminating, retryable)', async () => {
    const ms = manifestsFor();
    const secret = ms.find((m) => m.kind === 'Secret') as Manifest;
    const missing = await failure(driver.apply(secret));
    expect(missing).toMatchObject({ statusCode: 404, reason: 'NotFound', retryable: false });
    // A finalizer of our own keeps the namespace Terminating for as long as the test needs, on any cluster.
    const held = { ...ms[0], metadata: { ...ms[0]?.metadata, finalizers: ['minispod.io/contract-hold'] } } as Manifest;
    await driver.apply(held);
    expect(await driver.deleteNamespace(nsOf(ms))).toBe('terminating');
    const refused = await failure(driver.apply(secret));
    expect(refused).toMatchObject({ statusCode: 403, reason: 'Forbidden', retryable: true });
    expect(refused.causes).toEqual([expect.objectContaining({ reason: 'NamespaceTerminating' })]);
    await driver.apply(ms[0] as Manifest);
    await eventually(async () => (await driver.namespacePhase(nsOf(ms))) === null, target.waitMs, target.pollMs);
  });

  it('answers with Kubernetes Status reasons: NotFound as null, AlreadyExists 409, Invalid 422, BadRequest 400', async () => {
    const ms = manifestsFor();
    await driver.apply(ms[0] as Manifest);
    const secret = ms.find((m) => m.kind === 'Secret') as Manifest;
    expect(await driver.read(refOf(secret))).toBeNull();
    await driver.apply(secret);
    const raw = KubernetesObjectApi.makeApiClient(target.kubeConfig);
    const exists = toClusterError(await raw.create(structuredClone(secret)).catch((e: unknown) => e), 'create');
    expect(exists).toMatchObject({ statusCode: 409, reason: 'AlreadyExists', retryable: false });
    // The client lower-cases the URL: an upper-case name would be a 400 name mismatch, not a 422.
    const invalid = await failure(driver.apply({ ...secret, metadata: { ...secret.metadata, name: 'not_valid' } }));
    expect(invalid).toMatchObject({ statusCode: 422, reason: 'Invalid', retryable: false });
    expect(invalid.causes).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'metadata.name' })]));
    const bad = await failure(driver.list('v1', 'Secret', { namespace: nsOf(ms), labelSelector: 'a in b' }));
    expect(bad).toMatchObject({ statusCode: 400, reason: 'BadRequest', retryable: false });
  });

  it('reports the Deployment complete once Kubernetes does, the node its pod runs on, and its log', async () => {
    const ms = manifestsFor();
    const ns = nsOf(ms);
    expect(await driver.podLogs(ns)).toBeNull();
    await driver.applyAll(ms);
    await onDouble(async () => expect((await driver.deploymentStatus(ns))?.state).toBe('progressing'));
    const done = await waitFor('complete', ns);
    expect(done).toMatchObject({ observedGeneration: done?.generation, availableReplicas: 1, progressing: { status: 'True', reason: 'NewReplicaSetAvailable' } });
    const nodes = (await driver.list('v1', 'Node')).map((n) => n.metadata?.name);
    const [pod] = await driver.podPlacements(ns);
    expect(pod).toMatchObject({ phase: 'Running', ready: true });
    expect(nodes).toContain(pod?.nodeName);
    await onDouble((d) => {
      d.hooks.appendPodLog(ns, pod?.name as string, 'first', 'second', 'third');
    });
    const logs = await driver.podLogs(ns, { tailLines: 2 });
    expect(logs?.pod).toBe(pod?.name);
    expect(logs?.text.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
    await onDouble(() => expect(logs?.text).toBe('second\nthird\n'));
  });

  it('reports a Deployment that cannot progress as failed (ProgressDeadlineExceeded)', async () => {
    const ms = manifestsFor({ dockerImage: UNPULLABLE });
    await driver.applyAll(ms);
    const failed = await waitFor('failed', nsOf(ms));
    expect(failed?.progressing).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(failed?.availableReplicas).toBe(0);
  });

  it('scales to zero and confirms it stopped; a restart annotation starts a new generation', async () => {
    const service = target.service();
    const instance = sampleInstance(service, config);
    namespaces.push(`msp-${instance.shortId}`);
    await driver.applyAll(buildManifests(instance, service, config));
    await waitFor('complete', `msp-${instance.shortId}`);
    await driver.applyAll(buildManifests({ ...instance, replicas: 0 }, service, config));
    await waitFor('stopped', `msp-${instance.shortId}`);
    const restarted = await driver.apply(buildManifests({ ...instance, restartedAt: new Date() }, service, config).find((m) => m.kind === 'Deployment') as Manifest);
    expect(restarted.metadata?.generation).toBe(3);
    await waitFor('complete', `msp-${instance.shortId}`);
  });

  it('reads PodMetrics when the cluster serves metrics.k8s.io and answers null when it does not', async () => {
    const ms = manifestsFor();
    await driver.applyAll(ms);
    await waitFor('complete', nsOf(ms));
    const available = await driver.metricsAvailable();
    const usage = await driver.podMetrics(nsOf(ms));
    if (available) expect(Array.isArray(usage)).toBe(true);
    else expect(usage).toBeNull();
    await onDouble(async (d) => {
      expect(usage).toEqual([expect.objectContaining({ cpuMillicores: 25, memoryBytes: 128 * 2 ** 20 })]);
      d.setMetricsEnabled(false);
      try {
        expect(await driver.metricsAvailable()).toBe(false);
        expect(await driver.podMetrics(nsOf(ms))).toBeNull();
      } finally {
        d.setMetricsEnabled(true);
      }
    });
  });

  it('surfaces throttling, server errors, resets and timeouts as retryable errors with Retry-After (double only)', async (ctx) => {
    if (!target.double) return ctx.skip();
    const d = target.double;
    const ms = manifestsFor();
    await driver.applyAll(ms);
    const ns = nsOf(ms);
    d.faults.inject({ status: 429, retryAfterSeconds: 3, method: 'GET', path: '/deployments/app' });
    expect(await failure(driver.deploymentStatus(ns))).toMatchObject({ statusCode: 429, reason: 'TooManyRequests', retryable: true, retryAfterSeconds: 3 });
    d.faults.inject({ status: 503, retryAfterSeconds: 1, method: 'PATCH' });
    expect(await failure(driver.apply(ms[1] as Manifest))).toMatchObject({ statusCode: 503, reason: 'ServiceUnavailable', retryable: true, retryAfterSeconds: 1 });
    d.faults.inject({ status: 500, method: 'GET', path: '/pods' });
    expect(await failure(driver.podPlacements(ns))).toMatchObject({ statusCode: 500, reason: 'InternalError', retryable: true });
    d.faults.inject({ reset: true, path: `/namespaces/${ns}` });
    const reset = await failure(driver.namespacePhase(ns));
    expect(reset).toMatchObject({ reason: 'NetworkError', retryable: true });
    expect(reset.statusCode).toBeUndefined();
    const impatient = createClusterDriver({ kubeConfig: target.kubeConfig, requestTimeoutMs: 100 });
    d.faults.inject({ latencyMs: 600, path: '/deployments/app' });
    expect(await failure(impatient.deploymentStatus(ns))).toMatchObject({ reason: 'Timeout', retryable: true });
    // The retry after each fault goes through, and the objects were not duplicated.
    expect((await driver.deploymentStatus(ns))?.generation).toBe(1);
    expect(await driver.list('apps/v1', 'Deployment', { namespace: ns })).toHaveLength(1);
  });

  it('never sends invalid inputs to the cluster (double only: the request log stays empty)', (ctx) => {
    if (!target.double) return ctx.skip();
    const d = target.double;
    d.requests.clear();
    const service = target.service({ cpuRequest: '2', cpuLimit: '1' });
    expect(() => buildManifests(sampleInstance(service, config), service, config)).toThrow(/cannot be turned into valid Kubernetes objects/);
    expect(d.requests.count()).toBe(0);
  });
}

describe('Kubernetes contract: the driver against the API double', () => {
  contract(openDouble);
});

const why = !E2E ? 'set MINISPOD_K8S_E2E=1 to run it' : 'no kubeconfig found (KUBECONFIG, ~/.kube/config or a service account)';
describe.runIf(E2E && KUBECONFIG_FOUND)(`Kubernetes contract: the driver against the real cluster of the current kubeconfig context${E2E && KUBECONFIG_FOUND ? '' : ` (skipped: ${why})`}`, () => {
  contract(openCluster);
}, 600_000);
