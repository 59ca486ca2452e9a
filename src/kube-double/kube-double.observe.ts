import { RESOURCES, type ResourceDef } from './kube-double.resources.js';
import { badRequest, notFound } from './kube-double.status.js';
import { isObject, type JsonObject } from './kube-double.fields.js';
import { quantityValue } from './kube-double.quantity.js';
import { timestamp, type Store } from './kube-double.store.js';
import type { Controllers } from './kube-double.controllers.js';

/** What the simulated metrics-server reports for one container. */
export type UsageFn = (pod: JsonObject, container: JsonObject) => { cpu: string; memory: string };

const POD = RESOURCES.find((r) => r.kind === 'Pod') as ResourceDef;
const NODE = RESOURCES.find((r) => r.kind === 'Node') as ResourceDef;
const meta = (o: JsonObject) => o.metadata as JsonObject;
const running = (p: JsonObject) => isObject(p.status) && p.status.phase === 'Running';

/** A tenth of the CPU request and half the memory request, in the units metrics-server uses (n, Ki). */
export const defaultUsage: UsageFn = (_pod, container) => {
  const requests = isObject(container.resources) && isObject(container.resources.requests) ? container.resources.requests : {};
  const cpu = Math.round((quantityValue(requests.cpu) ?? 0.1) * 0.1 * 1e9);
  const memory = Math.round(((quantityValue(requests.memory) ?? 64 * 2 ** 20) * 0.5) / 1024);
  return { cpu: `${cpu}n`, memory: `${memory}Ki` };
};

/** GET .../pods/<name>/log: the kubelet's answer, text/plain, honouring tailLines and container. */
export function podLog(store: Store, controllers: Controllers, ns: string, name: string, query: URLSearchParams): string {
  const pod = store.get(POD, ns, name);
  if (!pod) throw notFound(POD, name);
  const containers = (isObject(pod.spec) && Array.isArray(pod.spec.containers) ? pod.spec.containers : []).filter(isObject).map((c) => String(c.name));
  const container = query.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
  if (container === undefined) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
  if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  if (query.get('previous') === 'true') throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
  if (!running(pod)) throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  const lines = controllers.logsOf(ns, name) ?? [];
  const tail = query.get('tailLines');
  const picked = tail === null ? lines : Number(tail) <= 0 ? [] : lines.slice(-Number(tail));
  return picked.map((l) => `${l}\n`).join('');
}

/** metrics.k8s.io lists, from the running pods (and the nodes they run on). */
export function metricsList(store: Store, usage: UsageFn, kind: 'PodMetrics' | 'NodeMetrics', ns: string | undefined, now: Date): JsonObject {
  const at = timestamp(now);
  const pods = store.list(POD, ns).filter(running);
  const podUsage = (p: JsonObject) => (isObject(p.spec) && Array.isArray(p.spec.containers) ? p.spec.containers.filter(isObject) : []).map((c) => ({ name: String(c.name), usage: usage(p, c) }));
  const items =
    kind === 'PodMetrics'
      ? pods.map((p) => ({ metadata: { name: meta(p).name, namespace: meta(p).namespace, creationTimestamp: at, labels: meta(p).labels ?? {} }, timestamp: at, window: '30s', containers: podUsage(p) }))
      : store.list(NODE).map((n) => {
          const on = pods.filter((p) => isObject(p.spec) && p.spec.nodeName === meta(n).name).flatMap(podUsage);
          const cpu = on.reduce((s, c) => s + (quantityValue(c.usage.cpu) ?? 0), 0.05);
          const memory = on.reduce((s, c) => s + (quantityValue(c.usage.memory) ?? 0), 256 * 2 ** 20);
          return { metadata: { name: meta(n).name, creationTimestamp: at, labels: meta(n).labels ?? {} }, timestamp: at, window: '20s', usage: { cpu: `${Math.round(cpu * 1e9)}n`, memory: `${Math.round(memory / 1024)}Ki` } };
        });
  return { kind: `${kind}List`, apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items } as unknown as JsonObject;
}
