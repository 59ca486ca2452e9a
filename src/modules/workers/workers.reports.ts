import { Prisma } from '../../generated/prisma/client.js';
import type { WorkerNodeStatus } from '../../generated/prisma/enums.js';
import type { DbClient } from '../../lib/db.js';
import { AppError, badRequest, notFound, type FieldError } from '../../lib/errors/index.js';
import { assertAgentOf, type ReportCaller } from './workers.agent-auth.js';
import { isPlainHeartbeat, type ReportBatchers } from './workers.batch.js';
import type { HeartbeatInput, ResourcesInput } from './workers.schemas.js';
import { resolveNodeId } from './workers.service.js';

/**
 * Heartbeats and resource reports: the hot path. Each is ONE UPDATE that authenticates the agent
 * (its token hash and the node in the path must be the same row), checks capacity, writes and
 * returns what the response needs. Only when it matches no row does a second query find out why
 * (401, 403, 404 or 400). Nothing is read first and written back from JavaScript.
 */

type Report = Omit<HeartbeatInput, 'isReady' | 'reason'>;

interface ReportedRow {
  id: string;
  name: string;
  status: WorkerNodeStatus;
  isReady: boolean;
  lastHeartbeat: Date;
  cpuCores: number;
  allocatedCPU: number;
  totalMemory: bigint;
  allocatedMemory: bigint;
  totalStorage: bigint;
  allocatedStorage: bigint;
  maxPods: number;
  currentPods: number;
}

// Columns a report may write, with the SQL type of their parameter. A closed list: no input names a column.
const COLUMNS = {
  allocatedCPU: 'float8',
  allocatedMemory: 'int8',
  allocatedStorage: 'int8',
  currentPods: 'int4',
  cpuCores: 'int4',
  totalMemory: 'int8',
  totalStorage: 'int8',
  architecture: 'text',
  cpuArchitecture: 'text',
  operatingSystem: 'text',
  kubeletVersion: 'text',
  containerRuntime: 'text',
  kernelVersion: 'text',
  osImage: 'text',
} as const satisfies Record<keyof Report, string>;

// Usage that must stay within a capacity: [used, capacity, unit for messages].
const LIMITS = [
  ['allocatedCPU', 'cpuCores', 'cores'],
  ['allocatedMemory', 'totalMemory', 'MB'],
  ['allocatedStorage', 'totalStorage', 'MB'],
  ['currentPods', 'maxPods', 'pods'],
] as const;

const col = (name: string) => Prisma.raw(`"${name}"`);
const NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;
const RETURNING = Prisma.sql`RETURNING id, name, status, "isReady", "lastHeartbeat", "cpuCores", "allocatedCPU", "totalMemory", "allocatedMemory", "totalStorage", "allocatedStorage", "maxPods", "currentPods"`;

function valueOf(report: Report, name: string): Prisma.Sql | undefined {
  const value = (report as Record<string, unknown>)[name];
  return value === undefined ? undefined : Prisma.sql`${value}::${Prisma.raw(COLUMNS[name as keyof typeof COLUMNS] ?? 'text')}`;
}

/** The reason a heartbeat stores with the status it sets: none for a ready node. */
const nextReason = (isReady: boolean, reason: string | undefined) => (isReady ? null : (reason ?? 'The node agent reported the node not ready'));

/** Heartbeat part of the SET list. MAINTENANCE is operator intent: a heartbeat never changes it. */
function heartbeatSets(isReady: boolean, reason: string | undefined): Prisma.Sql[] {
  const next = Prisma.sql`CASE WHEN status = 'MAINTENANCE' THEN status WHEN ${isReady}::boolean THEN 'ACTIVE'::"WorkerNodeStatus" ELSE 'NOT_READY'::"WorkerNodeStatus" END`;
  return [
    Prisma.sql`"lastHeartbeat" = ${NOW}`,
    Prisma.sql`"isReady" = ${isReady}::boolean`,
    Prisma.sql`status = ${next}`,
    // The reason describes the status: it changes when the status does (and stays with MAINTENANCE).
    Prisma.sql`"statusReason" = CASE WHEN status = 'MAINTENANCE' OR (${next}) = status THEN "statusReason" ELSE ${nextReason(isReady, reason)}::text END`,
  ];
}

function buildUpdate(where: Prisma.Sql, report: Report, heartbeat: { isReady: boolean; reason?: string } | undefined): Prisma.Sql {
  const sets = heartbeat ? heartbeatSets(heartbeat.isReady, heartbeat.reason) : [];
  for (const name of Object.keys(COLUMNS)) {
    const value = valueOf(report, name);
    if (value) sets.push(Prisma.sql`${col(name)} = ${value}`);
  }
  sets.push(Prisma.sql`"updatedAt" = ${NOW}`);
  const limits = LIMITS.flatMap(([used, capacity]) => {
    const u = valueOf(report, used);
    const c = valueOf(report, capacity);
    return u || c ? [Prisma.sql`${u ?? col(used)} <= ${c ?? col(capacity)}`] : [];
  });
  const conditions = [where, ...limits];
  return Prisma.sql`UPDATE worker_nodes SET ${Prisma.join(sets, ', ')} WHERE ${Prisma.join(conditions, ' AND ')} ${RETURNING}`;
}

/** The capacity problems of a report against a node's current values: field-named 400 details. */
function capacityProblems(node: ReportedRow, report: Report): FieldError[] {
  const current = node as unknown as Record<string, number | bigint>;
  const reported = report as Record<string, number | bigint | undefined>;
  return LIMITS.flatMap(([used, capacity, unit]) => {
    const u = reported[used] ?? current[used];
    const c = reported[capacity] ?? current[capacity];
    if (u === undefined || c === undefined || u <= c) return [];
    const field = reported[used] !== undefined ? used : capacity;
    return [{ field, message: `${used} (${u} ${unit}) would exceed the node's ${capacity} (${c} ${unit})` }];
  });
}

async function applyReport(db: DbClient, caller: ReportCaller, ref: string, report: Report, heartbeat?: { isReady: boolean; reason?: string }): Promise<ReportedRow> {
  // An administrator names the node; an agent is matched by token and node together, in the UPDATE.
  const adminNodeId = caller.kind === 'admin' ? await resolveNodeId(db, ref) : undefined;
  const where =
    caller.kind === 'agent' ? Prisma.sql`"agentTokenHash" = ${caller.tokenHash} AND (id = ${ref} OR name = ${ref})` : Prisma.sql`id = ${adminNodeId}`;
  const update = buildUpdate(where, report, heartbeat);

  for (let attempt = 1; ; attempt++) {
    const [row] = await db.$queryRaw<ReportedRow[]>(update);
    if (row) return row;

    // Failure path only: find out why nothing matched.
    const [node] =
      caller.kind === 'agent'
        ? await db.$queryRaw<ReportedRow[]>`SELECT * FROM worker_nodes WHERE "agentTokenHash" = ${caller.tokenHash}`
        : await db.$queryRaw<ReportedRow[]>`SELECT * FROM worker_nodes WHERE id = ${adminNodeId}`;
    if (caller.kind === 'agent') assertAgentOf(node, ref);
    if (!node) throw notFound('worker node', ref);
    const problems = capacityProblems(node, report);
    if (problems.length > 0) throw badRequest(`Report exceeds the node's capacity: ${problems.map((p) => p.message).join('; ')}`, problems);
    // The node changed between the two statements and the report now fits: try again.
    if (attempt === 3) throw new AppError('CONFLICT', 'The node changed while the report was applied; send it again');
  }
}

export interface HeartbeatResult {
  id: string;
  status: WorkerNodeStatus;
  isReady: boolean;
  lastHeartbeat: string;
  heartbeatIntervalSeconds: number;
}

/**
 * How often agents should beat: a quarter of the grace period (Kubernetes renews its node lease
 * every 10 s and marks a node NotReady after 40 s), at most 10 s, so a few lost beats never
 * make a healthy node look dead.
 */
export const heartbeatInterval = (graceSeconds: number) => Math.max(1, Math.min(10, Math.floor(graceSeconds / 4)));

/**
 * A heartbeat without `isReady` means ready: the agent is up and says nothing is wrong. With
 * `batchers`, an agent's plain heartbeat shares a statement with concurrent ones; when its row is
 * not among the results, the single path below applies it or reports why it cannot.
 */
export async function recordHeartbeat(db: DbClient, caller: ReportCaller, ref: string, body: HeartbeatInput, graceSeconds: number, batchers?: ReportBatchers): Promise<HeartbeatResult> {
  const { isReady = true, reason, ...report } = body;
  const batched =
    batchers && caller.kind === 'agent' && isPlainHeartbeat(body)
      ? await batchers.heartbeat.submit({ tokenHash: caller.tokenHash, ref, isReady, reason: nextReason(isReady, reason) })
      : undefined;
  const row = batched ?? (await applyReport(db, caller, ref, report, { isReady, reason }));
  return { id: row.id, status: row.status, isReady: row.isReady, lastHeartbeat: row.lastHeartbeat.toISOString(), heartbeatIntervalSeconds: heartbeatInterval(graceSeconds) };
}

export async function recordResources(db: DbClient, caller: ReportCaller, ref: string, body: ResourcesInput, batchers?: ReportBatchers) {
  const batched = batchers && caller.kind === 'agent' ? await batchers.resources.submit({ tokenHash: caller.tokenHash, ref, report: body }) : undefined;
  if (batched) return batched;
  const row = await applyReport(db, caller, ref, body);
  return {
    id: row.id,
    cpuCores: row.cpuCores,
    allocatedCPU: row.allocatedCPU,
    totalMemory: row.totalMemory.toString(),
    allocatedMemory: row.allocatedMemory.toString(),
    totalStorage: row.totalStorage.toString(),
    allocatedStorage: row.allocatedStorage.toString(),
    maxPods: row.maxPods,
    currentPods: row.currentPods,
  };
}
