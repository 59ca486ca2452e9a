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

interface Room {
  cpu: number;
  memoryMb: number;
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
  const tolerations = (Array.isArray(service.tolerations) ? service.tolerations : []) as Toleration[];
  // Instances not on a node yet will take room somewhere: those that could land on these nodes count.
  const [owed] = await tx.$queryRawUnsafe<Room[]>(
    `SELECT coalesce(sum(i."cpuRequestMillis"), 0)::float8 AS cpu, coalesce(sum(i."memoryRequestMb"), 0)::float8 AS "memoryMb"
     FROM service_instances i JOIN subscriptions sub ON sub.id = i."subscriptionId" JOIN service_catalog s ON s.id = sub."serviceId"
     WHERE i.status IN ('PENDING', 'PROVISIONING') AND i."workerNodeId" IS NULL AND s."nodeSelector" @> $1::jsonb`,
    selector,
  );
  const wanted: Room = { cpu: need.cpu + (owed?.cpu ?? 0), memoryMb: need.memoryMb + (owed?.memoryMb ?? 0) };
  const fitting = `FROM worker_nodes WHERE status = 'ACTIVE' AND "isReady" AND "isSchedulable" AND labels @> $1::jsonb
      AND floor(("cpuCores" - "allocatedCPU") * 1000) >= $2 AND "totalMemory" - "allocatedMemory" >= $3`;
  const room = `floor(("cpuCores" - "allocatedCPU") * 1000)::float8 AS cpu, ("totalMemory" - "allocatedMemory")::float8 AS mem`;
  const args = [selector, need.cpu, need.memoryMb] as const;
  const usable = (rows: { cpu: number; mem: number; taints: unknown }[]) =>
    rows.filter((n) => ((Array.isArray(n.taints) ? n.taints : []) as Taint[]).every((t) => t.effect !== 'NoSchedule' || tolerates(tolerations, t)));
  // At least one node fits, and the fitting nodes' room (plus the summed rest) covers what is wanted.
  const covers = (nodes: { cpu: number; mem: number }[], rest: Room & { nodes: number } = { nodes: 0, cpu: 0, memoryMb: 0 }) => {
    const free = nodes.reduce((a, n) => ({ cpu: a.cpu + n.cpu, memoryMb: a.memoryMb + n.mem }), { cpu: rest.cpu, memoryMb: rest.memoryMb });
    return nodes.length + rest.nodes > 0 && free.cpu >= wanted.cpu && free.memoryMb >= wanted.memoryMb;
  };
  // Any few hundred nodes that fit usually cover it: no order, so the scan stops at the first page.
  const first = await tx.$queryRawUnsafe<{ cpu: number; mem: number; taints: unknown }[]>(`SELECT ${room}, taints ${fitting} LIMIT ${PAGE}`, ...args);
  if (covers(usable(first))) return;
  if (first.length === PAGE) {
    // A large fleet short of room: sum all of it, matching only the tainted nodes' taints here.
    const [plain] = await tx.$queryRawUnsafe<(Room & { nodes: number })[]>(
      `SELECT count(*)::int AS nodes, coalesce(sum(cpu), 0)::float8 AS cpu, coalesce(sum(mem), 0)::float8 AS "memoryMb" FROM (SELECT ${room}, taints ${fitting}) n WHERE NOT taints @> '[{"effect": "NoSchedule"}]'::jsonb`,
      ...args,
    );
    const tainted = await tx.$queryRawUnsafe<{ cpu: number; mem: number; taints: unknown }[]>(`SELECT ${room}, taints ${fitting} AND taints @> '[{"effect": "NoSchedule"}]'::jsonb`, ...args);
    if (covers(usable(tainted), plain)) return;
  }
  throw new AppError('NO_CAPACITY', 'No worker node has room for this plan right now; try again later or choose a smaller plan');
}

const PAGE = 500;

/** Serializes admissions (and stock checks) for the rest of the transaction. */
export const lockAdmission = (tx: DbClient) => tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext('minispod:admission'))`);
