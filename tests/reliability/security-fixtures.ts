import type supertest from 'supertest';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { recordEvent } from '../../src/lib/events.js';
import { clusterOf } from '../../src/modules/instances/index.js';
import { createAdmin, createNode, createPlan, createPool, createService, createUser, fund, unique } from '../factories/index.js';
import { listOperations, type Operation } from '../helpers/fuzz-requests.js';
import type { OpenApiDoc } from '../helpers/fuzz-schema.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { startMidtransDouble, type MidtransDouble } from '../helpers/midtrans-double.js';

export const METRICS_TOKEN = 'metrics-token-for-security-tests-0123';

export type SecurityContext = TestContext & { midtrans: MidtransDouble; kube: KubeDouble };

/**
 * The app with metrics enabled, so /metrics is a protected route like the others rather than a
 * 404; with Midtrans keys (pointing at the Midtrans double) and a cluster (the Kubernetes API
 * double), so top-ups, Midtrans' notifications and instances are checked as they run in
 * production rather than answering 503.
 */
export async function securityContext(env: Record<string, string> = {}): Promise<SecurityContext> {
  const [midtrans, kube] = await Promise.all([startMidtransDouble(), startKubeDouble()]);
  const ctx = createTestContext({ env: { METRICS_TOKEN, ...midtrans.env, ...env }, cluster: clusterOf('simulated', kube.kubeConfig) });
  return { ...ctx, midtrans, kube, close: () => ctx.close().finally(() => Promise.all([midtrans.close(), kube.close()])) };
}

export const operationsOf = (ctx: TestContext): Operation[] => listOperations(ctx.app.locals.openapi as unknown as OpenApiDoc);
export const nameOf = (op: Operation) => `${op.method.toUpperCase()} ${op.path}`;
export const isAgentReport = (op: Operation) => /\/workers\/\{nodeId\}\/(heartbeat|resources)$/.test(op.path);

const API = '/api/v1';

/**
 * What a user owns, made through the API as a customer makes it: a subscription (its first
 * month charged, its PENDING instance) to a plan that has a dearer sibling in its plan group, an
 * online top-up waiting at Midtrans, a webhook endpoint (with the secret shown once) and a FAILED
 * delivery of it.
 */
export async function createOwned(ctx: SecurityContext, owner: { user: { id: string }; auth: string }) {
  const expectCreated = (res: supertest.Response, what: string) => {
    if (res.status !== 201) throw new Error(`could not create ${what}: ${res.status} ${res.text}`);
    return res.body.data;
  };
  const pool = await createPool(ctx.db);
  const planGroup = unique('group');
  const [plan, upgrade] = await Promise.all([createPlan(ctx.db, pool, { planGroup, monthlyPrice: 15_000 }), createPlan(ctx.db, pool, { planGroup, monthlyPrice: 30_000 })]);
  await fund(ctx.db, owner.user.id, 1_000_000);
  const post = (path: string, body: object) => ctx.request.post(`${API}${path}`).set('Authorization', owner.auth).send(body);
  const subscription = expectCreated(await post('/subscriptions', { serviceId: plan.id }), 'a subscription') as { id: string; instance: { id: string } };
  const topup = expectCreated(await post('/wallet/topups', { amount: 50_000 }), 'a top-up') as { transaction: { id: string }; payment: { orderId: string } };
  const webhook = expectCreated(await post('/webhooks', { url: `https://${unique('hooks')}.example.com/minispod` }), 'a webhook') as { id: string; secret: string };
  const eventId = await recordEvent(ctx.db, { type: 'subscription.renewed', userId: owner.user.id, subjectType: 'subscription', subjectId: subscription.id });
  const delivery = await ctx.db.webhookDelivery.create({
    data: {
      webhookId: webhook.id, eventId, eventType: 'subscription.renewed', status: 'FAILED', attempts: 1, responseStatus: 500, lastError: 'HTTP 500', lastAttemptAt: new Date(),
      attemptLog: { create: { number: 1, startedAt: new Date(), durationMs: 12, responseStatus: 500, responseBody: 'boom', error: 'HTTP 500' } },
    },
  });
  return {
    plan,
    upgrade,
    subscription: { id: subscription.id, instanceId: subscription.instance.id },
    topup: { id: topup.transaction.id, orderId: topup.payment.orderId },
    webhook: { id: webhook.id, secret: webhook.secret },
    delivery: { id: delivery.id },
  };
}
export type Owned = Awaited<ReturnType<typeof createOwned>>;

/** Real rows every operation can be pointed at; `user` owns the subscription, top-up, webhook and delivery. */
export async function createTargets(ctx: SecurityContext) {
  const [user, service, node, other] = await Promise.all([createUser(ctx.db, ctx.config), createService(ctx.db), createNode(ctx.db), createNode(ctx.db)]);
  return { user, service, node, other, ...(await createOwned(ctx, user)) };
}
export type Targets = Awaited<ReturnType<typeof createTargets>>;

/** The row each path parameter names, by the resource its path starts with. */
const TARGETS: [RegExp, (t: Targets) => string][] = [
  [/^\/api\/v1\/(admin\/)?users\/\{id\}/, (t) => t.user.user.id],
  [/^\/api\/v1\/services\//, (t) => t.service.id],
  [/^\/api\/v1\/(admin\/)?subscriptions\/\{id\}/, (t) => t.subscription.id],
  [/^\/api\/v1\/admin\/instances\/\{id\}/, (t) => t.subscription.instanceId],
  [/^\/api\/v1\/wallet\/topups\/\{id\}/, (t) => t.topup.id],
  [/^\/api\/v1\/webhooks\/\{id\}/, (t) => t.webhook.id],
];

/**
 * The operation's path with each parameter replaced by a real row of the matching resource.
 * `owned` points the owner-scoped parameters at another user's rows.
 */
export function concretePath(op: Operation, t: Targets, node = t.node.node.id, owned: Owned = t): string {
  const rows = { ...t, ...owned };
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name === 'nodeId') return node;
    if (name === 'deliveryId') return rows.delivery.id;
    const id = TARGETS.find(([pattern]) => pattern.test(op.path))?.[1](rows);
    if (id === undefined) throw new Error(`no target for {${name}} in ${op.path}`);
    return id;
  });
}

/** The concrete path with the query an operation needs to succeed (a plan change is quoted for a plan). */
export const readablePath = (op: Operation, t: Targets, owned: Owned = t) =>
  op.path.endsWith('/change-plan/preview') ? `${concretePath(op, t, undefined, owned)}?serviceId=${owned.upgrade.id}` : concretePath(op, t, undefined, owned);

/** Routes for any signed-in user that act on the caller's own things (not /auth, which acts on the caller itself). */
export const isUserRoute = (op: Operation) => op.security === 'bearer' && !op.documents403 && !op.path.startsWith(`${API}/auth/`);
/** A user's route that names one of the caller's objects: another caller must get 404, as if it did not exist. */
export const isOwnedObject = (op: Operation) => isUserRoute(op) && op.pathParams.length > 0;

/** Bodies an owner's call succeeds with on its merits, so that a refusal can only come from the ownership check. */
export function validBodyFor(op: Operation, owned: Owned): object | undefined {
  if (!op.body) return undefined;
  if (op.path.endsWith('/subscriptions/{id}/cancel')) return { atPeriodEnd: true, reason: 'Security check' };
  if (op.path.endsWith('/subscriptions/{id}/change-plan')) return { serviceId: owned.upgrade.id };
  if (op.method === 'patch' && op.path.endsWith('/webhooks/{id}')) return { description: 'Renamed by the security check' };
  throw new Error(`no valid body for ${op.method.toUpperCase()} ${op.path}: add one to validBodyFor`);
}

/** The rows the targets stand for, to compare before and after calls that must change nothing. */
export const targetRows = (ctx: TestContext, t: Targets) =>
  Promise.all([
    ctx.db.user.findUnique({ where: { id: t.user.user.id } }),
    ctx.db.serviceCatalog.findUnique({ where: { id: t.service.id } }),
    ctx.db.workerNode.findUnique({ where: { id: t.node.node.id } }),
    ctx.db.subscription.findUnique({ where: { id: t.subscription.id }, include: { instance: true } }),
    ctx.db.transaction.findMany({ where: { userId: t.user.user.id }, orderBy: { id: 'asc' } }),
    ctx.db.wallet.findUnique({ where: { userId: t.user.user.id } }),
    ctx.db.webhook.findUnique({ where: { id: t.webhook.id }, include: { deliveries: true } }),
  ]);

/**
 * The credential an operation is called with: the node's agent token for its reports, the target
 * user's for routes on a user's own things (another caller would get 404 or an empty list), else
 * the administrator's. DELETE /auth/account deactivates its caller (administrators may not, 403),
 * so it gets a fresh user each time.
 */
export async function credentialFor(ctx: TestContext, op: Operation, t: Targets, admin: string): Promise<string> {
  if (isAgentReport(op)) return t.node.auth;
  if (isUserRoute(op)) return t.user.auth;
  if (op.method === 'delete' && op.path === '/api/v1/auth/account') return (await createUser(ctx.db, ctx.config)).auth;
  // One verification email a minute per account: a fresh account each call, so only the limits under test answer.
  if (op.path === '/api/v1/auth/resend-verification') return (await createAdmin(ctx.db, ctx.config)).auth;
  return admin;
}

/** A body the operation accepts or refuses on its merits; access checks must come first either way. */
export const bodyFor = (op: Operation) => (op.body ? (isAgentReport(op) ? { currentPods: 0 } : {}) : undefined);

/** The request of an operation with its credential and no body yet. */
export function open(ctx: TestContext, op: Operation, path: string, auth?: string): supertest.Test {
  const agent = ctx.request as unknown as Record<string, (p: string) => supertest.Test>;
  const req = (agent[op.method] as (p: string) => supertest.Test)(path);
  return auth ? req.set('Authorization', auth) : req;
}

export function call(ctx: TestContext, op: Operation, path: string, auth?: string, body = bodyFor(op)): supertest.Test {
  const req = open(ctx, op, path, auth);
  return body === undefined ? req : req.send(body);
}

export { createAdmin, createUser };
