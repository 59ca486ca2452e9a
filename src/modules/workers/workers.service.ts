import type { Prisma, WorkerNode } from '../../generated/prisma/client.js';
import type { WorkerNodeStatus } from '../../generated/prisma/enums.js';
import type { DbClient } from '../../lib/db.js';
import { AppError, conflict, fieldError, notFound } from '../../lib/errors/index.js';
import { newAgentToken } from './workers.agent-auth.js';
import { toNodeDto, type Clock } from './workers.mapper.js';
import type { CreateNodeInput, UpdateNodeInput } from './workers.schemas.js';

/** Finds a node by id, or else by name (an id wins if a name happens to equal another node's id). */
async function findNode(db: DbClient, ref: string): Promise<WorkerNode> {
  const matches = await db.workerNode.findMany({ where: { OR: [{ id: ref }, { name: ref }] }, take: 2 });
  const node = matches.find((n) => n.id === ref) ?? matches[0];
  if (!node) throw notFound('worker node', ref);
  return node;
}

/**
 * Refuses another node's id as a name: an id wins in findNode, so that name would reach the other
 * node. (A node's own id is harmless. New ids are random, so a later node cannot take a name.)
 */
async function assertNameIsNoOtherId(db: DbClient, name: string | undefined, ownId?: string) {
  if (name === undefined || name === ownId) return;
  if (await db.workerNode.findUnique({ where: { id: name }, select: { id: true } })) {
    throw conflict('name', `'${name}' is the id of another worker node: lookups by id or name could not tell them apart`);
  }
}

export async function resolveNodeId(db: DbClient, ref: string): Promise<string> {
  return (await findNode(db, ref)).id;
}

export async function getNode(db: DbClient, ref: string, clock: Clock) {
  return { node: toNodeDto(await findNode(db, ref), clock) };
}

/** The node and what runs there: instances whose pod Kubernetes placed on it (bounded by its maxPods). */
export async function getNodeDetail(db: DbClient, ref: string, clock: Clock) {
  const node = await findNode(db, ref);
  const instances = await db.serviceInstance.findMany({
    where: { workerNodeId: node.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: 1000,
    select: { id: true, status: true, url: true, subscriptionId: true },
  });
  return { node: toNodeDto(node, clock), instances };
}

export async function createNode(db: DbClient, input: CreateNodeInput, clock: Clock) {
  await assertNameIsNoOtherId(db, input.name);
  const { token, hash } = newAgentToken();
  const node = await db.workerNode.create({ data: { ...input, agentTokenHash: hash } });
  return withAgentToken(node, token, clock);
}

/**
 * Capacity changes are refused when they would fall below what is already allocated. The check
 * is part of the UPDATE's WHERE clause, so a concurrent resource report cannot slip in between.
 */
export async function updateNode(db: DbClient, ref: string, input: UpdateNodeInput, clock: Clock) {
  const id = await resolveNodeId(db, ref);
  await assertNameIsNoOtherId(db, input.name, id);
  const guard: Prisma.WorkerNodeWhereInput = {
    id,
    ...(input.cpuCores !== undefined && { allocatedCPU: { lte: input.cpuCores } }),
    ...(input.totalMemory !== undefined && { allocatedMemory: { lte: input.totalMemory } }),
    ...(input.totalStorage !== undefined && { allocatedStorage: { lte: input.totalStorage } }),
    ...(input.maxPods !== undefined && { currentPods: { lte: input.maxPods } }),
  };
  for (let attempt = 1; ; attempt++) {
    const { count } = await db.workerNode.updateMany({ where: guard, data: input });
    const node = await findNode(db, id);
    if (count === 1) return { node: toNodeDto(node, clock) };
    const problem = belowAllocation(node, input);
    if (problem) throw problem;
    // The allocation changed between the two statements and the change now fits: try again.
    if (attempt === 3) throw new AppError('CONFLICT', 'The node changed while it was being updated; try again');
  }
}

function belowAllocation(node: WorkerNode, input: UpdateNodeInput) {
  if (input.cpuCores !== undefined && node.allocatedCPU > input.cpuCores) return fieldError('cpuCores', `cpuCores cannot go below the ${node.allocatedCPU} cores already allocated`);
  if (input.totalMemory !== undefined && node.allocatedMemory > input.totalMemory) return fieldError('totalMemory', `totalMemory cannot go below the ${node.allocatedMemory} MB already allocated`);
  if (input.totalStorage !== undefined && node.allocatedStorage > input.totalStorage) return fieldError('totalStorage', `totalStorage cannot go below the ${node.allocatedStorage} MB already allocated`);
  if (input.maxPods !== undefined && node.currentPods > input.maxPods) return fieldError('maxPods', `maxPods cannot go below the ${node.currentPods} pods already running`);
  return undefined;
}

export async function deleteNode(db: DbClient, ref: string, clock: Clock) {
  const id = await resolveNodeId(db, ref);
  const node = await db.workerNode.delete({ where: { id } });
  return { node: toNodeDto(node, clock) };
}

/** Sets isSchedulable, or flips it when no value is given (atomically, so two toggles never cancel out unseen). */
export async function setSchedulable(db: DbClient, ref: string, value: boolean | undefined, clock: Clock) {
  const id = await resolveNodeId(db, ref);
  const updated = await db.$queryRaw<{ id: string }[]>`
    UPDATE worker_nodes SET "isSchedulable" = COALESCE(${value ?? null}::boolean, NOT "isSchedulable"), "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE id = ${id} RETURNING id`;
  if (updated.length === 0) throw notFound('worker node', ref);
  return getNode(db, id, clock);
}

/**
 * Operator-set status. MAINTENANCE also cordons the node (isSchedulable false), like `kubectl
 * drain`; leaving MAINTENANCE does not uncordon it, which stays an explicit decision. Observed
 * health (isReady, heartbeats) is never touched here.
 */
export async function setStatus(db: DbClient, ref: string, status: WorkerNodeStatus, reason: string | undefined, clock: Clock) {
  const id = await resolveNodeId(db, ref);
  const node = await db.workerNode.update({
    where: { id },
    data: { status, statusReason: reason ?? null, ...(status === 'MAINTENANCE' && { isSchedulable: false }) },
  });
  return { node: toNodeDto(node, clock) };
}

/** Issues a new agent token; the previous one stops working with this write. */
export async function rotateAgentToken(db: DbClient, ref: string, clock: Clock) {
  const id = await resolveNodeId(db, ref);
  const { token, hash } = newAgentToken();
  const node = await db.workerNode.update({ where: { id }, data: { agentTokenHash: hash } });
  return withAgentToken(node, token, clock);
}

/** The node's own fields at the top of `data`, as the original API and its clients have them, and the token beside them. */
function withAgentToken(node: WorkerNode, agentToken: string, clock: Clock) {
  return { ...toNodeDto(node, clock), agentToken };
}
