import type supertest from 'supertest';
import { createAdmin, createNode, createService, createUser } from '../factories/index.js';
import { listOperations, type Operation } from '../helpers/fuzz-requests.js';
import type { OpenApiDoc } from '../helpers/fuzz-schema.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

export const METRICS_TOKEN = 'metrics-token-for-security-tests-0123';

/** The app with metrics enabled, so /metrics is a protected route like the others rather than a 404. */
export function securityContext(env: Record<string, string> = {}): TestContext {
  return createTestContext({ env: { METRICS_TOKEN, ...env } });
}

export const operationsOf = (ctx: TestContext): Operation[] => listOperations(ctx.app.locals.openapi as unknown as OpenApiDoc);
export const nameOf = (op: Operation) => `${op.method.toUpperCase()} ${op.path}`;
export const isAgentReport = (op: Operation) => /\/workers\/\{nodeId\}\/(heartbeat|resources)$/.test(op.path);

/** Real rows every operation can be pointed at. */
export async function createTargets(ctx: TestContext) {
  const [user, service, node, other] = await Promise.all([createUser(ctx.db, ctx.config), createService(ctx.db), createNode(ctx.db), createNode(ctx.db)]);
  return { user, service, node, other };
}
export type Targets = Awaited<ReturnType<typeof createTargets>>;

/** The operation's path with each parameter replaced by a real row of the matching resource. */
export function concretePath(op: Operation, t: Targets, node = t.node.node.id): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (op.path.startsWith('/api/v1/users')) return t.user.user.id;
    if (op.path.startsWith('/api/v1/services')) return t.service.id;
    if (name === 'nodeId') return node;
    throw new Error(`no target for {${name}} in ${op.path}`);
  });
}

/**
 * The credential an operation is called with: the node's agent token for its reports, else the
 * administrator's. DELETE /auth/account deactivates its caller (administrators may not, 403), so it
 * gets a fresh user each time.
 */
export async function credentialFor(ctx: TestContext, op: Operation, t: Targets, admin: string): Promise<string> {
  if (isAgentReport(op)) return t.node.auth;
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
