import type { Server } from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sensitiveLeaks, storedSecrets } from '../helpers/fuzz-oracle.js';
import { sendRaw } from '../helpers/fuzz-requests.js';
import { schemaArbitraries, type OpenApiDoc } from '../helpers/fuzz-schema.js';
import {
  call,
  concretePath,
  credentialFor,
  createAdmin,
  open,
  createTargets,
  isAgentReport,
  nameOf,
  operationsOf,
  readablePath,
  securityContext,
  targetRows as rowsOf,
  type SecurityContext,
  type Targets,
} from './security-fixtures.js';

// OWASP API Security Top 10 (2023): what the API exposes and consumes, on every documented operation.
const ctx = await securityContext();
afterAll(() => ctx.close());
const operations = operationsOf(ctx);
const schemas = schemaArbitraries(ctx.app.locals.openapi as unknown as OpenApiDoc);
const byName = (ops: typeof operations) => ops.map((op) => [nameOf(op), op] as const);

let t: Targets;
let admin: string;
let server: Server;
let base: string;
beforeAll(async () => {
  t = await createTargets(ctx);
  admin = (await createAdmin(ctx.db, ctx.config)).auth;
  server = ctx.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
/** The credential that gets an operation past its access check. */
const authFor = (op: (typeof operations)[number]) => credentialFor(ctx, op, t, admin);
const targetRows = () => rowsOf(ctx, t);
/** Called by Midtrans with a body of Midtrans' making, authenticated by its signature_key. */
const NOTIFICATION = '/api/v1/payments/midtrans/notifications';
const isNotification = (op: (typeof operations)[number]) => op.path === NOTIFICATION;

describe('API3:2023 Broken Object Property Level Authorization', () => {
  // Properties no client may set through a body that does not document them.
  const PRIVILEGED: Record<string, unknown> = {
    id: 'c0ffee',
    role: 'ADMINISTRATOR',
    isActive: true,
    password: 'Hijack3d!pass',
    passwordHash: '$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234',
    tokenHash: 'f'.repeat(64),
    agentTokenHash: '0'.repeat(64),
    createdAt: '2000-01-01T00:00:00.000Z',
    lastLoginAt: '2000-01-01T00:00:00.000Z',
    status: 'ACTIVE',
    statusReason: 'mine',
    isReady: true,
    allocatedCPU: 1,
    currentPods: 1,
    lastHeartbeat: '2100-01-01T00:00:00.000Z',
    _count: { subscriptions: 99 },
  };

  // Midtrans' notification is the one body that keeps unknown fields: Midtrans adds fields over
  // time, and a refusal would have Midtrans retry it forever. It is checked just below instead:
  // whatever it carries, it acts on nothing but what Midtrans' status API says.
  it.each(byName(operations.filter((op) => op.body && !isNotification(op))))('%s refuses privileged properties it does not document (400 naming them) and changes nothing', async (_n, op) => {
    const documented = Object.keys(schemas.resolve(op.body ?? {}).properties ?? {});
    const extra = Object.fromEntries(Object.entries(PRIVILEGED).filter(([k]) => !documented.includes(k)));
    const before = await targetRows();
    const res = await call(ctx, op, concretePath(op, t), await authFor(op), extra);
    expect(res.status).toBe(400);
    for (const key of Object.keys(extra)) expect(res.body.message).toContain(key);
    expect(await targetRows()).toEqual(before);
  });

  it(`POST ${NOTIFICATION} keeps privileged properties as inert data: they change nothing`, async () => {
    const before = await targetRows();
    const body = { ...PRIVILEGED, amount: 100_000_000, balance: 100_000_000, ...ctx.midtrans.notification(t.topup.orderId) };
    const res = await ctx.request.post(NOTIFICATION).send(body);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ orderId: t.topup.orderId, status: 'PENDING', result: 'unchanged' });
    expect(await targetRows()).toEqual(before);
  });

  it(`POST ${NOTIFICATION} refuses __proto__ even in a signed notification, and keeps constructor and prototype as inert data`, async () => {
    const before = await targetRows();
    const signed = JSON.stringify(ctx.midtrans.notification(t.topup.orderId)).slice(1, -1);
    const polluted = await ctx.request.post(NOTIFICATION).set('Content-Type', 'application/json').send(`{"__proto__":{"polluted":"yes","status":"SUCCEEDED"},${signed}}`);
    expect(polluted.status).toBe(400);
    expect(polluted.body.message).toMatch(/__proto__/);
    for (const raw of [`{"constructor":{"prototype":{"polluted":"yes"}},${signed}}`, `{"prototype":{"polluted":"yes"},${signed}}`]) {
      const res = await ctx.request.post(NOTIFICATION).set('Content-Type', 'application/json').send(raw);
      expect(res.status).toBe(200);
      expect(res.body.data.result).toBe('unchanged');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await targetRows()).toEqual(before);
  });

  // The notification keeps unknown keys, so its own check is the one above.
  it.each(byName(operations.filter((op) => op.body && !isNotification(op))))('%s refuses prototype-polluting keys and pollutes nothing', async (_n, op) => {
    for (const raw of ['{"__proto__":{"polluted":"yes","role":"ADMINISTRATOR"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', '{"prototype":{"polluted":"yes"}}']) {
      const res = await open(ctx, op, concretePath(op, t), await authFor(op)).set('Content-Type', 'application/json').send(raw);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/__proto__|constructor|prototype/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });

  it('never answers with a password hash, a token hash or a stack, on any readable operation', async () => {
    await ctx.request.post('/api/v1/auth/register').send({ name: 'Leak Probe', email: `leak-${Date.now()}@example.test`, password: 'Str0ng!Pass', confirmPassword: 'Str0ng!Pass' });
    // The webhook's signing secret is stored sealed: only its creation's answer may carry it.
    const secrets = [...(await storedSecrets(ctx.db)), t.webhook.secret];
    const found: string[] = [];
    for (const op of operations.filter((o) => o.method === 'get' && o.path !== '/metrics')) {
      const res = await call(ctx, op, readablePath(op, t), await authFor(op));
      // Collected rather than asserted here, so one route's answer does not hide another's leak.
      if (res.status >= 300) found.push(`${nameOf(op)}: answered ${res.status} ${res.body.code}`);
      found.push(...sensitiveLeaks(res.text, secrets).map((leak) => `${nameOf(op)}: ${leak}`));
    }
    const writes = [
      await ctx.request.post('/api/v1/users').set('Authorization', admin).send({ name: 'New One', email: `new-${Date.now()}@example.test`, password: 'Str0ng!Pass', role: 'USER' }),
      await ctx.request.post(`/api/v1/workers/${t.other.node.id}/token`).set('Authorization', admin),
      await ctx.request.put(`/api/v1/users/${t.user.user.id}`).set('Authorization', admin).send({ name: 'Renamed' }),
    ];
    for (const res of writes) {
      expect(res.status).toBeLessThan(300);
      found.push(...sensitiveLeaks(res.text, await storedSecrets(ctx.db)));
    }
    expect(found).toEqual([]);
  });
});

describe('API4:2023 Unrestricted Resource Consumption', () => {
  const lists = operations.filter((op) => op.query.some((q) => q.name === 'limit'));

  it.each(byName(lists))('%s caps the page size at 100', async (_n, op) => {
    const auth = await authFor(op);
    const res = await call(ctx, op, `${concretePath(op, t)}?limit=100000`, auth);
    expect(res.status).toBe(200);
    const pagination = Object.values(res.body.data as Record<string, unknown>).find((v) => v && typeof v === 'object' && 'limit' in v) as { limit: number };
    expect(pagination.limit).toBe(100);
    for (const bad of ['0', '-1', 'NaN', '1e309']) expect((await call(ctx, op, `${concretePath(op, t)}?limit=${bad}`, auth)).status).toBe(400);
  });

  it.each(byName(operations))('%s answers 413 in the envelope to a body over the limit, even compressed', async (_n, op) => {
    const big = JSON.stringify({ name: 'x'.repeat(200 * 1024) });
    const bomb = zlib.gzipSync(Buffer.from(JSON.stringify({ name: '0'.repeat(20 * 1024 * 1024) })));
    // Raw HTTP: supertest would re-encode a Buffer body as JSON.
    for (const [body, encoding] of [[big, 'identity'], [bomb, 'gzip']] as const) {
      const headers = { authorization: await authFor(op), 'content-type': 'application/json', 'content-encoding': encoding };
      const res = await sendRaw(base, { method: op.method, path: concretePath(op, t), headers, body });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.text)).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE', statusCode: 413 });
    }
  });

  it('refuses a bulk request for more than 100 users', async () => {
    const res = await ctx.request.post('/api/v1/users/bulk').set('Authorization', admin).send({ action: 'deactivate', userIds: Array.from({ length: 101 }, (_, i) => `id${i}`) });
    expect(res.status).toBe(400);
  });

  describe('rate limits (one client address per operation)', () => {
    let limited: SecurityContext;
    beforeAll(async () => {
      limited = await securityContext({ RATE_LIMIT_MAX: '2', TRUST_PROXY: 'true' });
    });
    afterAll(() => limited.close());
    // The global per-address limit spares liveness probes, the scraper and node agents (many nodes share one NAT address).
    const spared = (op: (typeof operations)[number]) => isAgentReport(op) || op.path === '/health' || op.path === '/api/v1/health' || op.path === '/metrics';
    // Midtrans sends every notification from a few addresses: its route is outside the global limit,
    // with a budget of its own of 10 x RATE_LIMIT_MAX (wallet.topups.routes.ts).
    const budgetOf = (op: (typeof operations)[number]) => (isNotification(op) ? 10 : 1) * limited.config.rateLimit.max;

    it.each(byName(operations.filter((op) => !spared(op))).map(([n, op], i) => [n, op, i] as const))('%s answers 429 with Retry-After once an address spends its budget', async (_n, op, i) => {
      const address = `198.51.100.${i + 1}`;
      for (let k = 0; k < budgetOf(op); k++) expect((await call(limited, op, concretePath(op, t), await authFor(op)).set('X-Forwarded-For', address)).status).not.toBe(429);
      const res = await call(limited, op, concretePath(op, t), await authFor(op)).set('X-Forwarded-For', address);
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ success: false, code: 'RATE_LIMITED', statusCode: 429 });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    });
  });
});

describe('API6:2023 Unrestricted Access to Sensitive Business Flows', () => {
  // Mass sign-up and password guessing; per-account limits are in tests/api/auth-rate-limit.test.ts.
  let limited: SecurityContext;
  beforeAll(async () => {
    limited = await securityContext({ AUTH_RATE_LIMIT_MAX: '2', TRUST_PROXY: 'true' });
  });
  afterAll(() => limited.close());

  it.each([['register'], ['login'], ['refresh'], ['forgot-password'], ['reset-password'], ['verify-email']])('limits POST /api/v1/auth/%s per client address', async (route) => {
    const address = `203.0.113.${route.length}`;
    const send = () => limited.request.post(`/api/v1/auth/${route}`).set('X-Forwarded-For', address).send({});
    for (let k = 0; k < 2; k++) expect((await send()).status).toBe(400);
    const res = await send();
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});
