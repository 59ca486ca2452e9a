import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { tokenKubeConfig } from '../lib/kubeconfig.js';
import { RESOURCES, resourceByKind, type ResourceDef } from './kube-double.resources.js';
import { clone, type JsonObject } from './kube-double.fields.js';
import { createStore, type StoreEvent } from './kube-double.store.js';
import { createControllers, type ControllerSettings } from './kube-double.controllers.js';
import { createFaults, createRequestLog, type FaultSpec, type RequestRecord } from './kube-double.faults.js';
import { defaultUsage, type UsageFn } from './kube-double.observe.js';
import { nodeObject, type NodeInput } from './kube-double.nodes.js';
import { createHandler } from './kube-double.server.js';

export type { FaultSpec, RequestRecord, NodeInput, UsageFn, JsonObject };

/**
 * A Kubernetes API server double for tests and the `simulated` cluster mode: an HTTP server on
 * loopback that speaks the API as @kubernetes/client-node uses it (discovery, CRUD, server-side
 * apply, Status errors), plays the controllers (deployments, scheduler, kubelet, PV binder, namespace
 * lifecycle) and the metrics API, and lets tests inject faults and read the requests it got.
 * Product code never imports it except to start it.
 */
export interface KubeDoubleOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Bearer token the client must send (random by default). */
  token?: string;
  /** How long a scheduled pod takes to become ready (default 50 ms). */
  readyDelayMs?: number;
  /** How long one second of progressDeadlineSeconds lasts (default 1000: real time). */
  deadlineMsPerSecond?: number;
  /** Delay before a terminating namespace's content is deleted (default 20 ms). */
  namespaceDeletionDelayMs?: number;
  /** Serve metrics.k8s.io (default true). */
  metrics?: boolean;
  /** The cluster's nodes (default: one node, `kube-double-node`). */
  nodes?: NodeInput[];
  /** Write validation with the official schemas (default true). */
  validate?: boolean;
  /** 'manual': pods become ready only through hooks.markDeploymentReady (default 'auto'). */
  readiness?: 'auto' | 'manual';
  /** Images that cannot be pulled; default: an image whose registry host ends in `.invalid`. */
  unpullable?: (image: string) => boolean;
  /** Most requests remembered by the request log (default 10,000). */
  requestLogLimit?: number;
  /** The clock (default: the system clock). */
  now?: () => Date;
  /**
   * Make `kubeConfig` (default true). The simulated cluster passes false: it connects with url and
   * token, so @kubernetes/client-node is not loaded before minispod first talks to the cluster.
   */
  kubeConfig?: boolean;
}

export const DEFAULT_NODE: NodeInput = { name: 'kube-double-node' };
const defaultUnpullable = (image: string) => {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && first.endsWith('.invalid');
};

export async function startKubeDouble(options: KubeDoubleOptions = {}) {
  const now = options.now ?? (() => new Date());
  const token = options.token ?? randomBytes(24).toString('base64url');
  const settings: ControllerSettings = {
    readyDelayMs: options.readyDelayMs ?? 50,
    deadlineMsPerSecond: options.deadlineMsPerSecond ?? 1000,
    namespaceDeletionDelayMs: options.namespaceDeletionDelayMs ?? 20,
    readiness: options.readiness ?? 'auto',
    unpullable: options.unpullable ?? defaultUnpullable,
    holdNamespaces: false,
  };
  let metricsEnabled = options.metrics ?? true;
  let usage: UsageFn = defaultUsage;
  const validate = options.validate ?? true;
  // The store reports to the controllers, which write through the store: tie the knot with a relay.
  const relay = { onEvent: (_e: StoreEvent) => {} };
  const store = createStore({ validate: () => validate, now, onEvent: (e) => relay.onEvent(e) });
  const controllers = createControllers(store, settings, now);
  relay.onEvent = controllers.onEvent;
  const faults = createFaults();
  const requests = createRequestLog(options.requestLogLimit ?? 10_000);
  const NODE = RESOURCES.find((r) => r.kind === 'Node') as ResourceDef;

  function setNodes(nodes: NodeInput[]) {
    const names = new Set(nodes.map((n) => n.name));
    for (const existing of store.list(NODE)) if (!names.has(String((existing.metadata as JsonObject).name))) store.purge(NODE, existing);
    for (const input of nodes) {
      const { object, status } = nodeObject(input);
      const current = store.get(NODE, undefined, input.name);
      const saved = current ? store.update(NODE, { ...object, metadata: { ...(current.metadata as JsonObject), ...(object.metadata as JsonObject) } }, 'kubelet') : store.create(NODE, undefined, object, { manager: 'kubelet' });
      store.update(NODE, { ...saved, status });
    }
  }
  setNodes(options.nodes ?? [DEFAULT_NODE]);

  let address = '';
  const server = createServer(
    createHandler({ store, controllers, faults, requests, token, metricsEnabled: () => metricsEnabled, usage: () => usage, serverAddress: () => address, now }),
  );
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  address = `127.0.0.1:${port}`;
  const url = `http://${address}`;

  const made = options.kubeConfig === false ? undefined : await tokenKubeConfig(url, token);
  const kubeconfigYaml = [
    'apiVersion: v1', 'kind: Config', 'current-context: kube-double',
    'clusters:', '- name: kube-double', '  cluster:', `    server: ${url}`, '    insecure-skip-tls-verify: true',
    'users:', '- name: minispod', '  user:', `    token: ${token}`,
    'contexts:', '- name: kube-double', '  context:', '    cluster: kube-double', '    user: minispod', '    namespace: default', '',
  ].join('\n');

  const lookup = (apiVersion: string, kind: string) => {
    const def = resourceByKind(apiVersion, kind);
    if (!def) throw new Error(`The Kubernetes API double does not serve ${apiVersion} ${kind}`);
    return def;
  };

  return {
    url,
    token,
    /** A KubeConfig for the real client (unless started with kubeConfig: false). */
    get kubeConfig(): KubeConfig {
      if (!made) throw new Error('This Kubernetes API double was started with kubeConfig: false');
      return made;
    },
    kubeconfigYaml,
    /** Direct reads of the stored objects (copies), for assertions. */
    store: {
      get: (apiVersion: string, kind: string, namespace: string | undefined, name: string): JsonObject | undefined => {
        const o = store.get(lookup(apiVersion, kind), namespace, name);
        return o ? clone(o) : undefined;
      },
      list: (apiVersion: string, kind: string, namespace?: string): JsonObject[] => store.list(lookup(apiVersion, kind), namespace).map((o) => clone(o)),
      /** Every stored object, all kinds. */
      all: (): JsonObject[] => store.all().map((o) => clone(o)),
      /** Pods that a Deployment's simulated replica set runs. */
      podsOf: (namespace: string, deployment: string): JsonObject[] => controllers.podsOfDeployment(namespace, deployment).map((o) => clone(o)),
    },
    hooks: {
      setReadyDelay(ms: number) {
        settings.readyDelayMs = ms;
      },
      setDeadlineMsPerSecond(ms: number) {
        settings.deadlineMsPerSecond = ms;
      },
      setReadiness(mode: 'auto' | 'manual') {
        settings.readiness = mode;
        controllers.resync();
      },
      setUnpullable(predicate: (image: string) => boolean) {
        settings.unpullable = predicate;
      },
      /** Pods of the Deployment become ready now (whatever the readiness mode). */
      markDeploymentReady: (namespace: string, name: string) => controllers.markDeploymentReady(namespace, name),
      /** The Deployment's progress deadline passes now. */
      failDeployment: (namespace: string, name: string) => controllers.failDeployment(namespace, name),
      /** Terminating namespaces stay as they are while held. */
      holdNamespaceDeletion(hold: boolean) {
        settings.holdNamespaces = hold;
        if (!hold) controllers.resync();
      },
      appendPodLog: (namespace: string, pod: string, ...lines: string[]) => controllers.appendLog(namespace, pod, lines),
      setPodUsage(fn: UsageFn) {
        usage = fn;
      },
      /** Resolves once the controllers have nothing queued (timers such as the ready delay may still run). */
      idle: () => controllers.idle(),
    },
    faults: { inject: faults.inject, clear: faults.clear, pending: faults.pending },
    requests: { list: requests.list, count: requests.count, clear: requests.clear },
    setNodes,
    setMetricsEnabled(enabled: boolean) {
      metricsEnabled = enabled;
    },
    async close() {
      controllers.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type KubeDouble = Awaited<ReturnType<typeof startKubeDouble>>;
