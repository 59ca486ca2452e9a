import { createHash } from 'node:crypto';
import { RESOURCES, type ResourceDef } from './kube-double.resources.js';
import { clone, deepEqual, isObject, type JsonObject } from './kube-double.fields.js';
import { matchesSelector } from './kube-double.selectors.js';
import { pickNode, podPendingStatus, podRunningStatus } from './kube-double.nodes.js';
import { timestamp, type Store, type StoreEvent } from './kube-double.store.js';

/** What the simulated controllers do; every field can be changed while the double runs (hooks). */
export interface ControllerSettings {
  /** How long a scheduled pod takes to become ready. */
  readyDelayMs: number;
  /** How long one second of a Deployment's progressDeadlineSeconds lasts (1000 = real time). */
  deadlineMsPerSecond: number;
  namespaceDeletionDelayMs: number;
  /** 'manual': pods become ready only through hooks.markDeploymentReady. */
  readiness: 'auto' | 'manual';
  /** Images the simulated kubelet cannot pull (their pods never become ready). */
  unpullable: (image: string) => boolean;
  /** Keeps terminating namespaces (and their content) as they are until released. */
  holdNamespaces: boolean;
}

const def = (kind: string) => RESOURCES.find((r) => r.kind === kind && !r.metrics) as ResourceDef;
const DEPLOYMENT = def('Deployment');
const POD = def('Pod');
const NODE = def('Node');
const PVC = def('PersistentVolumeClaim');
const NAMESPACE = def('Namespace');
const meta = (o: JsonObject) => o.metadata as JsonObject & { name: string; namespace?: string; uid: string };
const specOf = (o: JsonObject) => (isObject(o.spec) ? o.spec : {});
const statusOf = (o: JsonObject) => (isObject(o.status) ? o.status : {});
const MANAGER = 'kube-controller-manager';

interface Rollout {
  hash: string;
  generation: number;
  deadline?: NodeJS.Timeout;
  deadlineReached: boolean;
}

/** Plays the controllers a real cluster runs: deployment + replica set, scheduler, kubelet, PV binder, namespace lifecycle. */
export function createControllers(store: Store, settings: ControllerSettings, now: () => Date) {
  const timers = new Set<NodeJS.Timeout>();
  const queue = new Map<string, () => void>();
  const rollouts = new Map<string, Rollout>();
  const podTimers = new Map<string, NodeJS.Timeout>();
  const nsTimers = new Map<string, NodeJS.Timeout>();
  const logs = new Map<string, string[]>();
  let idleWaiters: (() => void)[] = [];
  let scheduled = false;
  let closed = false;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const cancel = (t: NodeJS.Timeout | undefined) => {
    if (!t) return;
    clearTimeout(t);
    timers.delete(t);
  };

  function flush() {
    scheduled = false;
    for (let round = 0; queue.size > 0 && round < 100 && !closed; round++) {
      const work = [...queue.values()];
      queue.clear();
      for (const fn of work) fn();
    }
    if (queue.size > 0 && !closed) return kick();
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }
  function kick() {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(flush);
  }
  const enqueue = (key: string, fn: () => void) => {
    queue.set(key, fn);
    kick();
  };
  const reconcileLater = (ns: string, name: string) => enqueue(`deploy:${ns}/${name}`, () => reconcileDeployment(ns, name));

  const hashOf = (template: unknown) => createHash('sha256').update(JSON.stringify(template ?? {})).digest('hex').slice(0, 10).replace(/[0-9]/g, (d) => 'bcdfghjklm'[Number(d)] as string);
  const isReady = (pod: JsonObject) => (Array.isArray(statusOf(pod).conditions) ? (statusOf(pod).conditions as JsonObject[]) : []).some((c) => c.type === 'Ready' && c.status === 'True');
  const imagesOf = (pod: JsonObject) => (Array.isArray(specOf(pod).containers) ? (specOf(pod).containers as JsonObject[]) : []).map((c) => String(c.image ?? ''));

  function podsOf(ns: string, dep: JsonObject | undefined, name: string): JsonObject[] {
    return store.list(POD, ns).filter((p) => {
      const owner = Array.isArray(meta(p).ownerReferences) ? (meta(p).ownerReferences as JsonObject[])[0] : undefined;
      if (!owner || owner.kind !== 'ReplicaSet' || !String(owner.name).startsWith(`${name}-`)) return false;
      return !dep || matchesSelector(specOf(dep).selector, meta(p).labels as Record<string, string>);
    });
  }

  /** Writes a pod's status unless only its timestamps would change (a write triggers another reconcile). */
  function setPodStatus(pod: JsonObject, status: JsonObject) {
    const current = store.get(POD, meta(pod).namespace, meta(pod).name);
    const untimed = (v: unknown) => JSON.stringify(v, (k, x: unknown) => (k === 'lastTransitionTime' || k === 'startTime' || k === 'startedAt' ? undefined : x));
    if (current && untimed(current.status) !== untimed(status)) store.update(POD, { ...current, status });
  }

  function removePod(pod: JsonObject) {
    cancel(podTimers.get(meta(pod).uid));
    podTimers.delete(meta(pod).uid);
    logs.delete(`${meta(pod).namespace}/${meta(pod).name}`);
    store.purge(POD, pod);
  }

  const pendingStatus = (pod: JsonObject, placement: { node: string } | { message: string }) =>
    podPendingStatus(pod, placement, imagesOf(pod).some(settings.unpullable), timestamp(now()));

  function markPodReady(pod: JsonObject) {
    const at = timestamp(now());
    const key = `${meta(pod).namespace}/${meta(pod).name}`;
    logs.set(key, [...(logs.get(key) ?? []), ...imagesOf(pod).map((image, i) => `${at} kube-double: started container ${String((specOf(pod).containers as JsonObject[])[i]?.name)} from image ${image}`)]);
    setPodStatus(pod, podRunningStatus(pod, at));
  }

  function createPod(dep: JsonObject, hash: string): JsonObject | undefined {
    const { name, namespace, uid } = meta(dep);
    const template = specOf(dep).template as JsonObject;
    const tmeta = isObject(template.metadata) ? template.metadata : {};
    const podSpec = clone(isObject(template.spec) ? template.spec : {});
    const placement = pickNode(podSpec, store.list(NODE), store.list(POD));
    if ('node' in placement) podSpec.nodeName = placement.node;
    const body: JsonObject = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: `${name}-${hash}-${Math.random().toString(36).slice(2, 7).padEnd(5, 'x')}`,
        labels: { ...(isObject(tmeta.labels) ? tmeta.labels : {}), 'pod-template-hash': hash },
        ...(isObject(tmeta.annotations) ? { annotations: clone(tmeta.annotations) } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-${hash}`, uid: `${uid.slice(0, 24)}${hash.slice(0, 10).padEnd(12, '0')}`, controller: true, blockOwnerDeletion: true }],
      },
      spec: podSpec,
    };
    try {
      const pod = store.create(POD, namespace, body, { manager: MANAGER });
      setPodStatus(pod, pendingStatus(pod, placement));
      return store.get(POD, namespace, meta(pod).name);
    } catch {
      return undefined; // the namespace is terminating: the replica set controller gives up too
    }
  }

  /** Scheduler and kubelet for one pod: bind it when a node fits, start it after the ready delay. */
  function progressPod(pod: JsonObject) {
    if (isReady(pod) || settings.readiness === 'manual') return;
    if (!specOf(pod).nodeName) {
      const placement = pickNode(specOf(pod), store.list(NODE), store.list(POD));
      if (!('node' in placement)) return setPodStatus(pod, pendingStatus(pod, placement));
      const bound = store.update(POD, { ...pod, spec: { ...specOf(pod), nodeName: placement.node } }, 'default-scheduler');
      setPodStatus(bound, pendingStatus(bound, placement));
      pod = store.get(POD, meta(pod).namespace, meta(pod).name) ?? bound;
    }
    if (imagesOf(pod).some(settings.unpullable) || podTimers.has(meta(pod).uid)) return;
    const { namespace, name, uid } = meta(pod);
    podTimers.set(uid, later(settings.readyDelayMs, () => {
      const current = store.get(POD, namespace, name);
      if (current && meta(current).uid === uid) markPodReady(current);
    }));
  }

  function reconcileDeployment(ns: string, name: string) {
    const dep = store.get(DEPLOYMENT, ns, name);
    const owned = podsOf(ns, dep, name);
    if (!dep || meta(dep).deletionTimestamp) {
      owned.forEach(removePod);
      return;
    }
    const spec = specOf(dep);
    const hash = hashOf(spec.template);
    const desired = Number(spec.replicas ?? 1);
    const generation = Number(meta(dep).generation ?? 1);
    let rollout = rollouts.get(meta(dep).uid);
    if (!rollout || rollout.hash !== hash || rollout.generation !== generation) {
      cancel(rollout?.deadline);
      const fresh: Rollout = { hash, generation, deadlineReached: false };
      const seconds = Number(spec.progressDeadlineSeconds ?? 600);
      if (desired > 0) fresh.deadline = later(seconds * settings.deadlineMsPerSecond, () => {
        fresh.deadlineReached = true;
        reconcileLater(ns, name);
      });
      rollouts.set(meta(dep).uid, (rollout = fresh));
    }
    // Recreate (and, simplified, RollingUpdate): old pods go first, then the new ones start.
    owned.filter((p) => (meta(p).labels as Record<string, string>)['pod-template-hash'] !== hash).forEach(removePod);
    const current = owned.filter((p) => (meta(p).labels as Record<string, string>)['pod-template-hash'] === hash);
    while (current.length > desired) removePod(current.pop() as JsonObject);
    while (current.length < desired) {
      const pod = createPod(dep, hash);
      if (!pod) break;
      current.push(pod);
    }
    current.forEach(progressPod);
    writeDeploymentStatus(dep, rollout, podsOf(ns, dep, name), desired);
  }

  function writeDeploymentStatus(dep: JsonObject, rollout: Rollout, pods: JsonObject[], desired: number) {
    const rs = `${meta(dep).name}-${rollout.hash}`;
    const updated = pods.filter((p) => (meta(p).labels as Record<string, string>)['pod-template-hash'] === rollout.hash);
    const ready = updated.filter(isReady).length;
    const complete = updated.length === desired && ready >= desired && pods.length === desired;
    if (complete) cancel(rollout.deadline);
    const failed = rollout.deadlineReached && !complete;
    const old = (Array.isArray(statusOf(dep).conditions) ? statusOf(dep).conditions : []) as JsonObject[];
    const at = timestamp(now());
    const condition = (type: string, status: string, reason: string, message: string) => {
      const prev = old.find((c) => c.type === type);
      const same = prev?.status === status;
      const unchanged = same && prev?.reason === reason && prev?.message === message;
      return { type, status, lastUpdateTime: unchanged ? prev?.lastUpdateTime ?? at : at, lastTransitionTime: same ? prev?.lastTransitionTime ?? at : at, reason, message };
    };
    const available = ready >= desired;
    const conditions = [
      available ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.') : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
      failed
        ? condition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rs}" has timed out progressing.`)
        : complete
          ? condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rs}" has successfully progressed.`)
          : condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rs}" is progressing.`),
    ];
    const counts = { replicas: pods.length, updatedReplicas: updated.length, readyReplicas: ready, availableReplicas: ready, unavailableReplicas: Math.max(desired - ready, 0) };
    const status: JsonObject = { observedGeneration: Number(meta(dep).generation ?? 1), ...Object.fromEntries(Object.entries(counts).filter(([, v]) => v > 0)), conditions };
    if (!deepEqual(statusOf(dep), status)) store.update(DEPLOYMENT, { ...dep, status });
  }

  function bindClaim(ns: string, name: string) {
    const pvc = store.get(PVC, ns, name);
    if (!pvc || meta(pvc).deletionTimestamp) return;
    const spec = specOf(pvc);
    const storage = isObject(spec.resources) && isObject(spec.resources.requests) ? spec.resources.requests.storage : undefined;
    store.update(PVC, { ...pvc, status: { phase: 'Bound', accessModes: clone(spec.accessModes ?? ['ReadWriteOnce']), capacity: { storage: storage ?? '1Gi' } } });
  }

  /** The namespace controller: deletes what the namespace holds, then the namespace once nothing (and no finalizer) is left. */
  function finalizeNamespace(ns: string) {
    const namespace = store.get(NAMESPACE, undefined, ns);
    if (!namespace || !meta(namespace).deletionTimestamp || settings.holdNamespaces) return;
    const kinds = RESOURCES.filter((r) => r.namespaced && !r.metrics);
    for (const k of kinds) for (const obj of store.list(k, ns)) {
      if (k.kind === 'Pod') removePod(obj);
      else if (!meta(obj).deletionTimestamp) store.remove(k, ns, meta(obj).name);
    }
    const left = kinds.some((k) => store.list(k, ns).length > 0);
    const finalizers = Array.isArray(meta(namespace).finalizers) ? meta(namespace).finalizers as unknown[] : [];
    if (!left && finalizers.length === 0) store.purge(NAMESPACE, namespace);
  }

  function finalizeSoon(ns: string) {
    if (nsTimers.has(ns)) return;
    nsTimers.set(ns, later(settings.namespaceDeletionDelayMs, () => {
      nsTimers.delete(ns);
      enqueue(`ns:${ns}`, () => finalizeNamespace(ns));
    }));
  }

  function onEvent({ type, def: d, object }: StoreEvent) {
    const { name, namespace, uid } = meta(object);
    if (d.kind === 'Deployment') {
      if (type === 'DELETED') {
        cancel(rollouts.get(uid)?.deadline);
        rollouts.delete(uid);
      }
      reconcileLater(String(namespace), name);
    } else if (d.kind === 'Pod') {
      const owner = Array.isArray(meta(object).ownerReferences) ? (meta(object).ownerReferences as JsonObject[])[0] : undefined;
      if (owner) reconcileLater(String(namespace), String(owner.name).replace(/-[^-]+$/, ''));
    } else if (d.kind === 'PersistentVolumeClaim' && type !== 'DELETED') {
      enqueue(`pvc:${namespace}/${name}`, () => bindClaim(String(namespace), name));
    } else if (d.kind === 'Node') {
      for (const dep of store.list(DEPLOYMENT)) reconcileLater(String(meta(dep).namespace), meta(dep).name);
    } else if (d.kind === 'Namespace' && type === 'MODIFIED' && meta(object).deletionTimestamp) {
      finalizeSoon(name);
    }
    if (namespace && type === 'DELETED') {
      const ns = store.get(NAMESPACE, undefined, namespace);
      if (ns && meta(ns).deletionTimestamp) finalizeSoon(namespace);
    }
  }

  return {
    onEvent,
    logsOf: (ns: string, pod: string) => logs.get(`${ns}/${pod}`),
    appendLog: (ns: string, pod: string, lines: string[]) => logs.set(`${ns}/${pod}`, [...(logs.get(`${ns}/${pod}`) ?? []), ...lines]),
    podsOfDeployment: (ns: string, name: string) => podsOf(ns, store.get(DEPLOYMENT, ns, name), name),
    markDeploymentReady(ns: string, name: string) {
      for (const pod of podsOf(ns, store.get(DEPLOYMENT, ns, name), name)) if (!isReady(pod)) markPodReady(pod);
    },
    failDeployment(ns: string, name: string) {
      const dep = store.get(DEPLOYMENT, ns, name);
      const rollout = dep ? rollouts.get(meta(dep).uid) : undefined;
      if (rollout) rollout.deadlineReached = true;
      reconcileLater(ns, name);
    },
    /** Re-runs every controller: after a settings change (readiness, held namespaces). */
    resync() {
      for (const dep of store.list(DEPLOYMENT)) reconcileLater(String(meta(dep).namespace), meta(dep).name);
      for (const ns of store.list(NAMESPACE)) if (meta(ns).deletionTimestamp) finalizeSoon(meta(ns).name);
    },
    idle: () => (queue.size === 0 && !scheduled ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const w of idleWaiters) w();
      idleWaiters = [];
    },
  };
}

export type Controllers = ReturnType<typeof createControllers>;
