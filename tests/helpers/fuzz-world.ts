import type { Config } from '../../src/lib/config.js';
import type { Db } from '../../src/lib/db.js';
import { hashAgentToken, newAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { createAdmin, createNode, createService, createUser } from '../factories/index.js';
import { snapshotTables, storedSecrets } from './fuzz-oracle.js';
import type { AuthKind, Operation, PathValue, RequestPlan } from './fuzz-requests.js';
import { percentEncode } from './fuzz-requests.js';

/**
 * The rows a fuzzed request can hit, and the callers it can send as. Requests that succeed may
 * delete rows, deactivate the callers or rotate the agent token; `refresh` repairs all of that
 * and takes a new snapshot, so the next rejected request is compared with the current state.
 */
export interface FuzzWorld {
  admin: { id: string; auth: string };
  user: { id: string; auth: string };
  agent: { nodeId: string; token: string };
  pools: { users: string[]; services: string[]; nodes: string[] };
  secrets: string[];
  snapshot: Record<string, string>;
}

export async function seedWorld(db: Db, config: Readonly<Config>): Promise<FuzzWorld> {
  const admin = await createAdmin(db, config);
  const user = await createUser(db, config);
  const agent = await createNode(db);
  const services = await Promise.all([createService(db), createService(db, { status: 'INACTIVE' }), createService(db, { status: 'DEPRECATED' })]);
  await Promise.all([createNode(db), createNode(db, { status: 'ACTIVE', isReady: true, isSchedulable: true }), createUser(db, config), createUser(db, config, { isActive: false })]);
  await db.subscription.create({ data: { userId: user.user.id, serviceId: services[0].id } });
  const world: FuzzWorld = {
    admin: { id: admin.user.id, auth: admin.auth },
    user: { id: user.user.id, auth: user.auth },
    agent: { nodeId: agent.node.id, token: agent.agentToken },
    pools: { users: [], services: [], nodes: [] },
    secrets: [],
    snapshot: {},
  };
  await refreshWorld(db, config, world);
  return world;
}

async function repairCaller(db: Db, config: Readonly<Config>, caller: { id: string; auth: string }, role: 'ADMINISTRATOR' | 'USER') {
  const row = await db.user.findUnique({ where: { id: caller.id } });
  if (!row) {
    const fresh = role === 'ADMINISTRATOR' ? await createAdmin(db, config) : await createUser(db, config);
    Object.assign(caller, { id: fresh.user.id, auth: fresh.auth });
  } else if (!row.isActive || row.role !== role) {
    await db.user.update({ where: { id: row.id }, data: { isActive: true, role } });
  }
}

export async function refreshWorld(db: Db, config: Readonly<Config>, world: FuzzWorld): Promise<void> {
  await repairCaller(db, config, world.admin, 'ADMINISTRATOR');
  await repairCaller(db, config, world.user, 'USER');
  const node = await db.workerNode.findUnique({ where: { id: world.agent.nodeId } });
  if (!node) {
    const fresh = await createNode(db);
    world.agent = { nodeId: fresh.node.id, token: fresh.agentToken };
  } else if (node.agentTokenHash !== hashAgentToken(world.agent.token)) {
    const { token, hash } = newAgentToken();
    await db.workerNode.update({ where: { id: node.id }, data: { agentTokenHash: hash } });
    world.agent.token = token;
  }
  if ((await db.serviceCatalog.count()) < 3) await createService(db);
  if ((await db.workerNode.count()) < 3) await createNode(db);
  if ((await db.user.count()) < 4) await createUser(db, config);

  const [users, services, nodes] = await Promise.all([
    db.user.findMany({ select: { id: true }, take: 50, orderBy: { createdAt: 'asc' } }),
    db.serviceCatalog.findMany({ select: { id: true, slug: true }, take: 50, orderBy: { createdAt: 'asc' } }),
    db.workerNode.findMany({ select: { id: true, name: true }, take: 50, orderBy: { createdAt: 'asc' } }),
  ]);
  world.pools = { users: users.map((u) => u.id), services: services.flatMap((s) => [s.id, s.slug]), nodes: nodes.flatMap((n) => [n.id, n.name]) };
  world.secrets = await storedSecrets(db);
  world.snapshot = await snapshotTables(db);
}

function authHeader(world: FuzzWorld, kind: AuthKind, garbage: string): string | undefined {
  switch (kind) {
    case 'admin':
      return world.admin.auth;
    case 'user':
      return world.user.auth;
    case 'agent':
      return `Bearer ${world.agent.token}`;
    case 'garbage':
      return `Bearer ${garbage}`;
    default:
      return undefined;
  }
}

function poolFor(world: FuzzWorld, path: string): string[] {
  if (path.startsWith('/api/v1/users')) return world.pools.users;
  if (path.startsWith('/api/v1/services')) return world.pools.services;
  if (path.startsWith('/api/v1/workers')) return [...world.pools.nodes, world.agent.nodeId];
  return [...world.pools.users, ...world.pools.services, ...world.pools.nodes];
}

function pathSegment(world: FuzzWorld, op: Operation, value: PathValue): string {
  if ('real' in value) {
    const pool = poolFor(world, op.path);
    return percentEncode(pool[value.real % pool.length] ?? 'none');
  }
  return value.encoded ? percentEncode(value.hostile).slice(0, 3000).replace(/%[0-9A-F]?$/, '') : value.hostile;
}

/** Turns a plan into a concrete HTTP request against the world as it is now. */
export function resolvePlan(world: FuzzWorld, op: Operation, plan: RequestPlan) {
  let i = 0;
  const path = op.path.replace(/\{[^}]+\}/g, () => pathSegment(world, op, plan.pathValues[i++] as PathValue));
  // Node answers a request line over 16 kB with a bare 431 before the app sees it: stay well below.
  const query = plan.query
    .map(([k, v, encode]) => (encode ? `${percentEncode(k)}=${percentEncode(v)}` : `${k}=${v}`).slice(0, 2000))
    .join('&')
    .slice(0, 6000)
    .replace(/%[0-9A-F]?$/, '');
  const headers: Record<string, string> = {};
  const auth = authHeader(world, plan.auth, plan.garbageToken);
  if (auth) headers.authorization = auth;
  if (plan.body !== undefined) headers['content-type'] = plan.contentType;
  if (plan.body !== undefined && plan.contentEncoding) headers['content-encoding'] = plan.contentEncoding;
  return { method: op.method, path: query ? `${path}?${query}` : path, headers, body: plan.body };
}
