import type { Sql } from '../../lib/sql.js';
import { heartbeatCutoff, type Clock } from './workers.mapper.js';

interface StatsRow {
  total: number;
  active: number;
  inactive: number;
  maintenance: number;
  pending: number;
  not_ready: number;
  ready: number;
  schedulable: number;
  online: number;
  cpu_capacity: number;
  cpu_allocated: number;
  memory_capacity: bigint;
  memory_allocated: bigint;
  storage_capacity: bigint;
  storage_allocated: bigint;
  pods_capacity: number;
  pods_allocated: number;
  cpu_pct: number;
  memory_pct: number;
  storage_pct: number;
  pods_pct: number;
}

/**
 * Fleet statistics in one aggregate query: a single pass over worker_nodes, a few milliseconds
 * for 20,000 nodes. Utilisation is allocation over capacity of all registered nodes, in percent
 * with two decimals (0 when there is no capacity).
 */
export async function nodeStats(sql: Sql, clock: Clock) {
  const cutoff = heartbeatCutoff(clock);
  const [row] = await sql<StatsRow>(`
    SELECT
      count(*)::int AS total,
      count(*) FILTER (WHERE status = 'ACTIVE')::int AS active,
      count(*) FILTER (WHERE status = 'INACTIVE')::int AS inactive,
      count(*) FILTER (WHERE status = 'MAINTENANCE')::int AS maintenance,
      count(*) FILTER (WHERE status = 'PENDING')::int AS pending,
      count(*) FILTER (WHERE status = 'NOT_READY')::int AS not_ready,
      count(*) FILTER (WHERE "isReady")::int AS ready,
      count(*) FILTER (WHERE "isSchedulable")::int AS schedulable,
      count(*) FILTER (WHERE "lastHeartbeat" >= ($1::timestamptz AT TIME ZONE 'UTC'))::int AS online,
      coalesce(sum("cpuCores"), 0)::float8 AS cpu_capacity,
      round(coalesce(sum("allocatedCPU"), 0)::numeric, 3)::float8 AS cpu_allocated,
      coalesce(sum("totalMemory"), 0)::int8 AS memory_capacity,
      coalesce(sum("allocatedMemory"), 0)::int8 AS memory_allocated,
      coalesce(sum("totalStorage"), 0)::int8 AS storage_capacity,
      coalesce(sum("allocatedStorage"), 0)::int8 AS storage_allocated,
      coalesce(sum("maxPods"), 0)::float8 AS pods_capacity,
      coalesce(sum("currentPods"), 0)::float8 AS pods_allocated,
      coalesce(round(100 * sum("allocatedCPU")::numeric / nullif(sum("cpuCores"), 0), 2), 0)::float8 AS cpu_pct,
      coalesce(round(100 * sum("allocatedMemory")::numeric / nullif(sum("totalMemory"), 0), 2), 0)::float8 AS memory_pct,
      coalesce(round(100 * sum("allocatedStorage")::numeric / nullif(sum("totalStorage"), 0), 2), 0)::float8 AS storage_pct,
      coalesce(round(100 * sum("currentPods")::numeric / nullif(sum("maxPods"), 0), 2), 0)::float8 AS pods_pct
    FROM worker_nodes`,
    [cutoff.toISOString()],
  );
  if (!row) throw new Error('aggregate query returned no row');
  return {
    total: row.total,
    byStatus: { ACTIVE: row.active, INACTIVE: row.inactive, MAINTENANCE: row.maintenance, PENDING: row.pending, NOT_READY: row.not_ready },
    ready: row.ready,
    notReady: row.total - row.ready,
    schedulable: row.schedulable,
    unschedulable: row.total - row.schedulable,
    online: row.online,
    offline: row.total - row.online,
    heartbeatGraceSeconds: clock.graceSeconds,
    capacity: { cpuCores: row.cpu_capacity, memoryMB: row.memory_capacity.toString(), storageMB: row.storage_capacity.toString(), pods: row.pods_capacity },
    allocated: { cpuCores: row.cpu_allocated, memoryMB: row.memory_allocated.toString(), storageMB: row.storage_allocated.toString(), pods: row.pods_allocated },
    utilization: { cpu: row.cpu_pct, memory: row.memory_pct, storage: row.storage_pct, pods: row.pods_pct },
  };
}
