import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../../src/lib/config.js';
import { createSecretBox } from '../../src/lib/crypto.js';
import type { Db } from '../../src/lib/db.js';
import { recordEvent } from '../../src/lib/events.js';
import { createPending, ensureWallet } from '../../src/modules/wallet/index.js';
import { generateSecret, sealSecret } from '../../src/modules/webhooks/webhooks.secrets.js';
import { hashAgentToken, newAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { createAdmin, createNode, createService, createUser, fund } from '../factories/index.js';
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
  pools: { users: string[]; services: string[]; nodes: string[]; subscriptions: string[]; instances: string[]; topups: string[]; webhooks: string[]; deliveries: string[] };
  secrets: string[];
  snapshot: Record<string, string>;
}

export async function seedWorld(db: Db, config: Readonly<Config>): Promise<FuzzWorld> {
  const admin = await createAdmin(db, config);
  const user = await createUser(db, config);
  const agent = await createNode(db);
  await Promise.all([createService(db), createService(db, { status: 'INACTIVE' }), createService(db, { status: 'DEPRECATED' })]);
  await Promise.all([createNode(db), createNode(db, { status: 'ACTIVE', isReady: true, isSchedulable: true }), createUser(db, config), createUser(db, config, { isActive: false })]);
  const world: FuzzWorld = {
    admin: { id: admin.user.id, auth: admin.auth },
    user: { id: user.user.id, auth: user.auth },
    agent: { nodeId: agent.node.id, token: agent.agentToken },
    pools: { users: [], services: [], nodes: [], subscriptions: [], instances: [], topups: [], webhooks: [], deliveries: [] },
    secrets: [],
    snapshot: {},
  };
  await refreshWorld(db, config, world);
  return world;
}

/**
 * What a customer owns, as direct rows: a subscription with its instance, a funded wallet, a
 * PENDING Midtrans top-up, and a webhook with a FAILED delivery. Both callers own one of each, so
 * fuzzed requests on those routes reach the service layer (another's would be 404 at once);
 * whatever a successful request deleted is made again.
 */
async function ensureOwned(db: Db, config: Readonly<Config>, userId: string) {
  const [subscriptions, topups, webhook] = await Promise.all([
    db.subscription.count({ where: { userId } }),
    db.transaction.count({ where: { userId, type: 'TOPUP', provider: 'MIDTRANS' } }),
    db.webhook.findFirst({ where: { userId }, select: { id: true, _count: { select: { deliveries: true } } } }),
  ]);
  if (subscriptions === 0) {
    const service = await createService(db);
    await fund(db, userId, 100_000);
    const shortId = randomBytes(5).toString('hex');
    const host = `fuzz-${shortId}.${config.appsDomain}`;
    await db.subscription.create({
      data: { userId, serviceId: service.id, status: 'ACTIVE', priceAmount: service.monthlyPrice, currentPeriodEnd: new Date(Date.now() + 30 * 86_400_000), instance: { create: { shortId, namespace: `msp-${shortId}`, host, url: `https://${host}` } } },
    });
  }
  if (topups === 0) {
    await ensureWallet(db, userId, config.currency);
    const orderId = `topup-${randomUUID()}`;
    const now = new Date();
    await createPending(db, { userId, type: 'TOPUP', amount: 50_000, description: 'Online top-up (Midtrans)', idempotencyKey: `midtrans:${orderId}`, provider: 'MIDTRANS', providerRef: orderId, paymentDetails: { orderId }, expiresAt: new Date(now.getTime() + 3_600_000), now });
  }
  if (webhook?._count.deliveries) return;
  const webhookId =
    webhook?.id ?? (await db.webhook.create({ data: { userId, url: `https://fuzz-${randomBytes(4).toString('hex')}.example.com/hook`, secretSealed: sealSecret(createSecretBox(config.encryptionKey), userId, generateSecret()) } })).id;
  const eventId = await recordEvent(db, { type: 'subscription.renewed', userId, subjectType: 'subscription', subjectId: 'fuzz' });
  await db.webhookDelivery.create({ data: { webhookId, eventId, eventType: 'subscription.renewed', status: 'FAILED', attempts: 1, responseStatus: 500, lastError: 'HTTP 500', lastAttemptAt: new Date() } });
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
  for (const caller of [world.admin, world.user]) await ensureOwned(db, config, caller.id);

  const take = 50;
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
  const [users, services, nodes, subscriptions, instances, topups, webhooks, deliveries] = await Promise.all([
    db.user.findMany({ select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
    db.serviceCatalog.findMany({ select: { id: true, slug: true }, take, orderBy: { createdAt: 'asc' } }),
    db.workerNode.findMany({ select: { id: true, name: true }, take, orderBy: { createdAt: 'asc' } }),
    db.subscription.findMany({ select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
    db.serviceInstance.findMany({ select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
    db.transaction.findMany({ where: { type: 'TOPUP' }, select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
    db.webhook.findMany({ select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
    db.webhookDelivery.findMany({ select: { id: true }, take, orderBy: { createdAt: 'asc' } }),
  ]);
  world.pools = {
    users: ids(users),
    services: services.flatMap((s) => [s.id, s.slug]),
    nodes: nodes.flatMap((n) => [n.id, n.name]),
    subscriptions: ids(subscriptions),
    instances: ids(instances),
    topups: ids(topups),
    webhooks: ids(webhooks),
    deliveries: ids(deliveries),
  };
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

function poolFor(world: FuzzWorld, path: string, param: string): string[] {
  const { pools } = world;
  if (param === 'deliveryId') return pools.deliveries;
  if (/^\/api\/v1\/(admin\/)?users/.test(path)) return pools.users;
  if (path.startsWith('/api/v1/services')) return pools.services;
  if (path.startsWith('/api/v1/workers')) return [...pools.nodes, world.agent.nodeId];
  if (/^\/api\/v1\/(admin\/)?subscriptions/.test(path)) return pools.subscriptions;
  if (path.startsWith('/api/v1/admin/instances')) return pools.instances;
  if (path.startsWith('/api/v1/wallet/topups')) return pools.topups;
  if (path.startsWith('/api/v1/webhooks')) return pools.webhooks;
  return Object.values(pools).flat();
}

function pathSegment(world: FuzzWorld, op: Operation, param: string, value: PathValue): string {
  if ('real' in value) {
    const pool = poolFor(world, op.path, param);
    return percentEncode(pool[value.real % pool.length] ?? 'none');
  }
  return value.encoded ? percentEncode(value.hostile).slice(0, 3000).replace(/%[0-9A-F]?$/, '') : value.hostile;
}

/** Turns a plan into a concrete HTTP request against the world as it is now. */
export function resolvePlan(world: FuzzWorld, op: Operation, plan: RequestPlan) {
  let i = 0;
  const path = op.path.replace(/\{([^}]+)\}/g, (_, param: string) => pathSegment(world, op, param, plan.pathValues[i++] as PathValue));
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
