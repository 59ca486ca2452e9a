import type pg from 'pg';
import type { WorkerNodeStatus } from '../../generated/prisma/enums.js';
import { createBatcher, type Batcher } from '../../lib/batch.js';
import type { HeartbeatInput, ResourcesInput } from './workers.schemas.js';

/**
 * Agent heartbeats and resource reports, coalesced: the reports that arrive while earlier ones
 * are being written leave together as ONE `UPDATE … FROM unnest(…)`, which authenticates every
 * agent (token hash and node in the path on the same row), applies each report to its own row
 * and returns each row. One round trip and one commit serve many nodes. Each caller waits for
 * its own statement to commit, so an acknowledged report is durable, and gets its own row; a
 * report whose row is not returned (unknown token, another node's token, over capacity) goes
 * back through the single-statement path, which finds out why. The statements are the same
 * conditional updates as the single path, so status transitions are unchanged.
 */

// Enough rows to amortise a round trip; small enough that one statement stays well under a millisecond of locks.
const MAX_BATCH = 256;
// Two statements in flight keep PostgreSQL busy while the previous results are sent out.
const MAX_IN_FLIGHT = 2;
const NOW = `(now() AT TIME ZONE 'UTC')`;
const NEXT_STATUS = `(CASE WHEN w.status = 'MAINTENANCE' THEN w.status WHEN b.ready THEN 'ACTIVE'::"WorkerNodeStatus" ELSE 'NOT_READY'::"WorkerNodeStatus" END)`;

const HEARTBEAT_SQL = `
  UPDATE worker_nodes AS w SET
    "lastHeartbeat" = ${NOW},
    "isReady" = b.ready,
    status = ${NEXT_STATUS},
    "statusReason" = CASE WHEN w.status = 'MAINTENANCE' OR ${NEXT_STATUS} = w.status THEN w."statusReason" ELSE b.reason END,
    "updatedAt" = ${NOW}
  FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]) AS b(hash, ref, ready, reason)
  WHERE w."agentTokenHash" = b.hash AND (w.id = b.ref OR w.name = b.ref)
  RETURNING b.hash AS hash, w.id, w.status, w."isReady" AS "isReady", w."lastHeartbeat" AT TIME ZONE 'UTC' AS "lastHeartbeat"`;

// A usage value only replaces the column when sent, and must fit the node's capacity, as in the single path.
const RESOURCES_SQL = `
  UPDATE worker_nodes AS w SET
    "allocatedCPU" = COALESCE(b.cpu, w."allocatedCPU"),
    "allocatedMemory" = COALESCE(b.mem, w."allocatedMemory"),
    "allocatedStorage" = COALESCE(b.sto, w."allocatedStorage"),
    "currentPods" = COALESCE(b.pods, w."currentPods"),
    "updatedAt" = ${NOW}
  FROM unnest($1::text[], $2::text[], $3::float8[], $4::int8[], $5::int8[], $6::int4[]) AS b(hash, ref, cpu, mem, sto, pods)
  WHERE w."agentTokenHash" = b.hash AND (w.id = b.ref OR w.name = b.ref)
    AND (b.cpu IS NULL OR b.cpu <= w."cpuCores") AND (b.mem IS NULL OR b.mem <= w."totalMemory")
    AND (b.sto IS NULL OR b.sto <= w."totalStorage") AND (b.pods IS NULL OR b.pods <= w."maxPods")
  RETURNING b.hash AS hash, w.id, w."cpuCores" AS "cpuCores", w."allocatedCPU" AS "allocatedCPU", w."totalMemory"::text AS "totalMemory",
    w."allocatedMemory"::text AS "allocatedMemory", w."totalStorage"::text AS "totalStorage", w."allocatedStorage"::text AS "allocatedStorage",
    w."maxPods" AS "maxPods", w."currentPods" AS "currentPods"`;

interface Addressed {
  tokenHash: string;
  ref: string;
}

export interface HeartbeatItem extends Addressed {
  isReady: boolean;
  /** The reason stored when the status changes: null for a ready node. */
  reason: string | null;
}

export interface HeartbeatRow {
  id: string;
  status: WorkerNodeStatus;
  isReady: boolean;
  lastHeartbeat: Date;
}

export interface ResourcesItem extends Addressed {
  report: ResourcesInput;
}

export interface ResourcesRow {
  id: string;
  cpuCores: number;
  allocatedCPU: number;
  totalMemory: string;
  allocatedMemory: string;
  totalStorage: string;
  allocatedStorage: string;
  maxPods: number;
  currentPods: number;
}

export interface ReportBatchers {
  heartbeat: Batcher<HeartbeatItem, HeartbeatRow>;
  resources: Batcher<ResourcesItem, ResourcesRow>;
}

/** A heartbeat that only renews liveness (and readiness) can share a statement; one that also reports facts takes the single path. */
export const isPlainHeartbeat = (body: HeartbeatInput) => Object.keys(body).every((k) => k === 'isReady' || k === 'reason');

// One statement locks many rows in the order of its join, so it can deadlock with the liveness
// sweeper or with the other batcher's statement. PostgreSQL then aborts one of them (40P01): the
// aborted statement changed nothing and is simply run again.
const DEADLOCK = '40P01';
async function queryRetryingDeadlocks<R extends pg.QueryResultRow>(pool: pg.Pool, query: pg.QueryConfig): Promise<pg.QueryResult<R>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query<R>(query);
    } catch (err) {
      if ((err as { code?: unknown }).code !== DEADLOCK || attempt === 3) throw err;
    }
  }
}

const text = (v: bigint | number | undefined) => (v === undefined ? null : v.toString());

export function reportBatchers(pool: pg.Pool): ReportBatchers {
  // Named statements are parsed and planned once per connection. The token hash keys the results
  // and is dropped from them, so it can never reach a response.
  const run = async <R>(name: string, sql: string, values: unknown[]) => {
    const { rows } = await queryRetryingDeadlocks<R & { hash: string }>(pool, { name, text: sql, values });
    const results = new Map<string, R>();
    for (const { hash, ...row } of rows) results.set(hash, row as R);
    return results;
  };
  const keyOf = (item: Addressed) => item.tokenHash;
  return {
    heartbeat: createBatcher<HeartbeatItem, HeartbeatRow>({
      maxBatch: MAX_BATCH,
      maxInFlight: MAX_IN_FLIGHT,
      keyOf,
      run: (items) =>
        run<HeartbeatRow>('workers_heartbeat_batch', HEARTBEAT_SQL, [
          items.map((i) => i.tokenHash),
          items.map((i) => i.ref),
          items.map((i) => i.isReady),
          items.map((i) => i.reason),
        ]),
    }),
    resources: createBatcher<ResourcesItem, ResourcesRow>({
      maxBatch: MAX_BATCH,
      maxInFlight: MAX_IN_FLIGHT,
      keyOf,
      run: (items) =>
        run<ResourcesRow>('workers_resources_batch', RESOURCES_SQL, [
          items.map((i) => i.tokenHash),
          items.map((i) => i.ref),
          items.map((i) => i.report.allocatedCPU ?? null),
          items.map((i) => text(i.report.allocatedMemory)),
          items.map((i) => text(i.report.allocatedStorage)),
          items.map((i) => i.report.currentPods ?? null),
        ]),
    }),
  };
}
