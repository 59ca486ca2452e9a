/** The simulated nodes: the Node objects their kubelets register, a trivial scheduler, the kubelet's pod statuses. */
import { isObject, type JsonObject } from './kube-double.fields.js';
import { quantityValue } from './kube-double.quantity.js';

/** A node of the simulated cluster, as tests and the simulated mode describe it. */
export interface NodeInput {
  name: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  unschedulable?: boolean;
  ready?: boolean;
  /** Allocatable resources; defaults: 4 cores, 8Gi, 110 pods. */
  allocatable?: { cpu?: string; memory?: string; pods?: string };
}

/** The Node object the kubelet of such a node would register (spec) and report (status). */
export function nodeObject(input: NodeInput): { object: JsonObject; status: JsonObject } {
  const allocatable = { cpu: input.allocatable?.cpu ?? '4', memory: input.allocatable?.memory ?? '8Gi', pods: input.allocatable?.pods ?? '110' };
  const object: JsonObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: input.name, labels: { 'kubernetes.io/hostname': input.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...input.labels } },
    spec: { ...(input.taints?.length ? { taints: input.taints.map((t) => ({ ...t })) } : {}), ...(input.unschedulable ? { unschedulable: true } : {}) },
  };
  const ready = input.ready ?? true;
  const status: JsonObject = {
    capacity: allocatable,
    allocatable,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: ready ? 'kubelet is posting ready status' : 'kubelet stopped posting node status' }],
    nodeInfo: { kubeletVersion: 'v1.31.0', containerRuntimeVersion: 'containerd://1.7.0', operatingSystem: 'linux', architecture: 'amd64', osImage: 'kube-double', kernelVersion: '6.1.0', machineID: '', systemUUID: '', bootID: '', kubeProxyVersion: 'v1.31.0' },
  };
  return { object, status };
}

type Toleration = { key?: string; operator?: string; value?: string; effect?: string };

function tolerates(tolerations: Toleration[], taint: { key?: unknown; value?: unknown; effect?: unknown }): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

const requestsOf = (podSpec: JsonObject) => {
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObject) : [];
  let cpu = 0;
  let memory = 0;
  for (const c of containers) {
    const req = isObject(c.resources) && isObject(c.resources.requests) ? c.resources.requests : {};
    cpu += quantityValue(req.cpu) ?? 0;
    memory += quantityValue(req.memory) ?? 0;
  }
  return { cpu, memory };
};

/**
 * A trivial scheduler: the nodes that are ready, schedulable, match the pod's nodeSelector, tolerate
 * its NoSchedule/NoExecute taints and still have room for its requests; the least busy wins.
 * Answers the node name, or the scheduler's "0/N nodes are available" message.
 */
export function pickNode(podSpec: JsonObject, nodes: JsonObject[], pods: JsonObject[]): { node: string } | { message: string } {
  const selector = isObject(podSpec.nodeSelector) ? (podSpec.nodeSelector as Record<string, string>) : {};
  const tolerations = (Array.isArray(podSpec.tolerations) ? podSpec.tolerations.filter(isObject) : []) as Toleration[];
  const want = requestsOf(podSpec);
  const reasons = new Map<string, number>();
  const count = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const fits: { name: string; load: number }[] = [];
  for (const node of nodes) {
    const meta = node.metadata as JsonObject;
    const spec = isObject(node.spec) ? node.spec : {};
    const status = isObject(node.status) ? node.status : {};
    const labels = isObject(meta.labels) ? meta.labels : {};
    const ready = (Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []).some((c) => c.type === 'Ready' && c.status === 'True');
    const taints = (Array.isArray(spec.taints) ? spec.taints.filter(isObject) : []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    const onNode = pods.filter((p) => isObject(p.spec) && p.spec.nodeName === meta.name);
    const used = onNode.map((p) => requestsOf(p.spec as JsonObject)).reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
    const allocatable = isObject(status.allocatable) ? status.allocatable : {};
    if (!ready) count("node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
    else if (spec.unschedulable === true) count('node(s) were unschedulable');
    else if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) count("node(s) didn't match Pod's node affinity/selector");
    else if (!taints.every((t) => tolerates(tolerations, t))) {
      const t = taints.find((x) => !tolerates(tolerations, x)) as JsonObject;
      count(`node(s) had untolerated taint {${String(t.key)}: ${String(t.value ?? '')}}`);
    } else if (used.cpu + want.cpu > (quantityValue(allocatable.cpu) ?? Infinity)) count('Insufficient cpu');
    else if (used.memory + want.memory > (quantityValue(allocatable.memory) ?? Infinity)) count('Insufficient memory');
    else if (onNode.length + 1 > (quantityValue(allocatable.pods) ?? Infinity)) count('Too many pods');
    else fits.push({ name: String(meta.name), load: onNode.length });
  }
  fits.sort((a, b) => a.load - b.load || a.name.localeCompare(b.name));
  if (fits[0]) return { node: fits[0].name };
  const detail = [...reasons].map(([r, n]) => `${n} ${r}`).join(', ');
  return { message: `0/${nodes.length} nodes are available${detail ? `: ${detail}` : ''}.` };
}

const containersOf = (pod: JsonObject) => (isObject(pod.spec) && Array.isArray(pod.spec.containers) ? pod.spec.containers.filter(isObject) : []);

/** The kubelet's status of a pod not (yet) running: unschedulable, pulling, or unable to pull its image. */
export function podPendingStatus(pod: JsonObject, placement: { node: string } | { message: string }, unpullable: boolean, at: string): JsonObject {
  if ('message' in placement) return { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: placement.message, lastTransitionTime: at }] };
  const containerStatuses = containersOf(pod).map((c) => ({
    name: c.name ?? null, image: c.image ?? null, imageID: '', ready: false, restartCount: 0, started: false,
    state: { waiting: unpullable ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${String(c.image)}"` } : { reason: 'ContainerCreating' } },
  }));
  const conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: at }, { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at }];
  return { phase: 'Pending', hostIP: '10.0.0.1', startTime: at, conditions, containerStatuses };
}

/** The kubelet's status of a running, ready pod. */
export function podRunningStatus(pod: JsonObject, at: string): JsonObject {
  const meta = pod.metadata as JsonObject;
  const started = isObject(pod.status) && typeof pod.status.startTime === 'string' ? pod.status.startTime : at;
  return {
    phase: 'Running', hostIP: '10.0.0.1', podIP: `10.244.0.${(Number.parseInt(String(meta.uid).slice(0, 2), 16) % 250) + 2}`, startTime: started,
    conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: at })),
    containerStatuses: containersOf(pod).map((c) => ({ name: c.name ?? null, image: c.image ?? null, imageID: `${String(c.image)}@sha256:0`, ready: true, restartCount: 0, started: true, state: { running: { startedAt: at } } })),
  };
}
