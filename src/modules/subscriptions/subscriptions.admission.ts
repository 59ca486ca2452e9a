import type { DbClient } from '../../lib/db.js';
import { AppError } from '../../lib/errors/index.js';
import { quantityAmount } from '../catalog/quantities.js';

/**
 * Admission, not scheduling: before charging, is there room in the fleet for the plan's requests?
 * Kubernetes places the pod later; minispod only refuses what could not run anywhere. A node
 * counts when it is ACTIVE, ready, schedulable, has every label of the service's nodeSelector, and
 * the service tolerates each of its NoSchedule taints.
 */

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}
interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/** Kubernetes' rule: a toleration with no effect matches every effect; Exists with no key matches every taint. */
export const tolerates = (tolerations: readonly Toleration[], taint: Taint) =>
  tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });

export interface PlanRequests {
  /** Millicores. */
  cpu: number;
  /** MB. */
  memoryMb: number;
}

export const planRequests = (service: { cpuRequest: string; memRequest: string }): PlanRequests => ({
  cpu: Number(quantityAmount('cpu', service.cpuRequest)),
  memoryMb: Math.ceil(Number(quantityAmount('memory', service.memRequest)) / 2 ** 20),
});

interface NodeRow {
  cpuCores: number;
  allocatedCPU: number;
  totalMemory: bigint;
  allocatedMemory: bigint;
  taints: unknown;
}

/**
 * Throws 409 NO_CAPACITY unless a node that may run the service has room for its requests, with
 * the requests of instances still waiting for a node set against the fleet. Call it inside the
 * subscribing transaction after taking the admission lock (lockAdmission), so two concurrent
 * subscribes cannot both take the last room.
 */
export async function assertCapacity(tx: DbClient, service: { cpuRequest: string; memRequest: string; nodeSelector: unknown; tolerations: unknown }): Promise<void> {
  const need = planRequests(service);
  const selector = JSON.stringify(service.nodeSelector ?? {});
  const nodes = await tx.$queryRawUnsafe<NodeRow[]>(
    `SELECT "cpuCores", "allocatedCPU", "totalMemory", "allocatedMemory", taints FROM worker_nodes
     WHERE status = 'ACTIVE' AND "isReady" AND "isSchedulable" AND labels @> $1::jsonb`,
    selector,
  );
  const tolerations = (Array.isArray(service.tolerations) ? service.tolerations : []) as Toleration[];
  const free = nodes
    .filter((n) => ((Array.isArray(n.taints) ? n.taints : []) as Taint[]).every((t) => t.effect !== 'NoSchedule' || tolerates(tolerations, t)))
    .map((n) => ({ cpu: Math.floor((n.cpuCores - n.allocatedCPU) * 1000), memoryMb: Number(n.totalMemory - n.allocatedMemory) }))
    .filter((f) => f.cpu >= need.cpu && f.memoryMb >= need.memoryMb);
  // Instances not yet on a node will take room somewhere (summed in code: the catalog stores
  // Kubernetes quantities). Counted are those that could land on the same nodes.
  const pending = await tx.$queryRawUnsafe<{ cpuRequest: string; memRequest: string }[]>(
    `SELECT s."cpuRequest", s."memRequest" FROM service_instances i
     JOIN subscriptions sub ON sub.id = i."subscriptionId" JOIN service_catalog s ON s.id = sub."serviceId"
     WHERE i.status IN ('PENDING', 'PROVISIONING') AND i."workerNodeId" IS NULL AND s."nodeSelector" @> $1::jsonb`,
    selector,
  );
  const owed = pending.map(planRequests).reduce((a, b) => ({ cpu: a.cpu + b.cpu, memoryMb: a.memoryMb + b.memoryMb }), { cpu: 0, memoryMb: 0 });
  const total = free.reduce((a, b) => ({ cpu: a.cpu + b.cpu, memoryMb: a.memoryMb + b.memoryMb }), { cpu: 0, memoryMb: 0 });
  if (free.length === 0 || total.cpu - owed.cpu < need.cpu || total.memoryMb - owed.memoryMb < need.memoryMb) {
    throw new AppError('NO_CAPACITY', 'No worker node has room for this plan right now; try again later or choose a smaller plan');
  }
}

/** Serializes admissions (and stock checks) for the rest of the transaction. */
export const lockAdmission = (tx: DbClient) => tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext('minispod:admission'))`);
