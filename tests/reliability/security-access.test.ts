import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../../src/lib/jwt.js';
import { createNode, createService } from '../factories/index.js';
import { signature } from '../helpers/midtrans-double.js';
import {
  call,
  concretePath,
  createAdmin,
  createOwned,
  createTargets,
  createUser,
  isAgentReport,
  isOwnedObject,
  METRICS_TOKEN,
  nameOf,
  operationsOf,
  readablePath,
  securityContext,
  targetRows,
  validBodyFor,
  type Owned,
  type Targets,
} from './security-fixtures.js';

// OWASP API Security Top 10 (2023), the access items, checked on every operation of the OpenAPI
// document: routes added later are checked without touching this file.
const ctx = await securityContext();
afterAll(() => ctx.close());
const operations = operationsOf(ctx);
const bearer = operations.filter((op) => op.security === 'bearer');
const byName = (ops: typeof operations) => ops.map((op) => [nameOf(op), op] as const);

let t: Targets;
let adminAuth: string;
beforeAll(async () => {
  t = await createTargets(ctx);
  adminAuth = (await createAdmin(ctx.db, ctx.config)).auth;
});

const expectRefused = (res: { status: number; body: Record<string, unknown> }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ success: false, statusCode: status });
  expect(typeof res.body.message).toBe('string');
};

describe('API1:2023 Broken Object Level Authorization', () => {
  it.each(byName(operations.filter(isAgentReport)))("%s refuses another node's agent token with 403 and changes neither node", async (_n, op) => {
    const before = await ctx.db.workerNode.findMany({ where: { id: { in: [t.node.node.id, t.other.node.id] } }, orderBy: { id: 'asc' } });
    for (const target of [t.node.node.id, t.node.node.name]) expectRefused(await call(ctx, op, concretePath(op, t, target), t.other.auth), 403);
    expect(await ctx.db.workerNode.findMany({ where: { id: { in: [t.node.node.id, t.other.node.id] } }, orderBy: { id: 'asc' } })).toEqual(before);
  });

  it.each(byName(operations.filter(isAgentReport)))("%s accepts the node's own agent token", async (_n, op) => {
    const res = await call(ctx, op, concretePath(op, t), t.node.auth);
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(t.node.node.id);
  });

  it("refuses the agent token of a deleted node, even on what was that node's path", async () => {
    const gone = await createNode(ctx.db);
    await ctx.db.workerNode.delete({ where: { id: gone.node.id } });
    const report = operations.find(isAgentReport);
    expectRefused(await call(ctx, report!, concretePath(report!, t, gone.node.id), gone.auth), 401);
    expectRefused(await call(ctx, report!, concretePath(report!, t), gone.auth), 401);
  });

  describe("another user's objects", () => {
    const owned = operations.filter(isOwnedObject);
    let stranger: Awaited<ReturnType<typeof createUser>>;
    let strangers: Owned;
    beforeAll(async () => {
      stranger = await createUser(ctx.db, ctx.config);
      strangers = await createOwned(ctx, stranger);
    });

    it('finds the routes on objects a user owns', () => {
      expect(owned.map(nameOf)).toEqual(expect.arrayContaining(['GET /api/v1/subscriptions/{id}', 'GET /api/v1/wallet/topups/{id}', 'DELETE /api/v1/webhooks/{id}', 'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/retry']));
    });

    it.each(byName(owned))('%s answers 404 to another user and to an administrator, as if the object did not exist, and changes nothing', async (_n, op) => {
      const before = await targetRows(ctx, t);
      for (const auth of [stranger.auth, adminAuth]) {
        const res = await call(ctx, op, readablePath(op, t), auth, validBodyFor(op, t));
        expectRefused(res, 404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      expect(await targetRows(ctx, t)).toEqual(before);
    });

    it.each(byName(owned.filter((op) => op.method === 'get')))('%s answers its owner', async (_n, op) => {
      const res = await call(ctx, op, readablePath(op, t), t.user.auth);
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
    });

    // Each on rows of its own: the call is meant to act (cancel, delete, rotate...).
    it.each(byName(owned.filter((op) => op.method !== 'get')))('%s acts for its owner (no 401, 403 or 404)', async (_n, op) => {
      const owner = await createUser(ctx.db, ctx.config);
      const mine = await createOwned(ctx, owner);
      const res = await call(ctx, op, readablePath(op, t, mine), owner.auth, validBodyFor(op, mine));
      expect(res.status, res.text).toBeLessThan(500);
      expect([401, 403, 404]).not.toContain(res.status);
    });

    it("answers 404 to a delivery of another user's endpoint named under one's own endpoint", async () => {
      const before = await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: strangers.delivery.id } });
      const res = await ctx.request.post(`/api/v1/webhooks/${t.webhook.id}/deliveries/${strangers.delivery.id}/retry`).set('Authorization', t.user.auth);
      expectRefused(res, 404);
      expect(await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: strangers.delivery.id } })).toEqual(before);
    });
  });

  it('hides inactive services from callers other than administrators', async () => {
    const hidden = await createService(ctx.db, { status: 'INACTIVE' });
    const user = await createUser(ctx.db, ctx.config);
    for (const auth of [undefined, user.auth]) {
      const req = ctx.request.get(`/api/v1/services/${hidden.slug}`);
      expectRefused(await (auth ? req.set('Authorization', auth) : req), 404);
    }
    expect((await ctx.request.get(`/api/v1/services/${hidden.slug}`).set('Authorization', adminAuth)).status).toBe(200);
  });
});

describe('API2:2023 Broken Authentication', () => {
  const { issuer, audience, secret } = ctx.config.jwt;
  const claims = (sub: string) => ({ typ: 'access', sub, iss: issuer, aud: audience });
  const unsigned = (sub: string) =>
    [Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'), Buffer.from(JSON.stringify({ ...claims(sub), exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url'), ''].join('.');
  let badTokens: [string, string][];

  beforeAll(async () => {
    const admin = await createAdmin(ctx.db, ctx.config);
    const deactivated = await createAdmin(ctx.db, ctx.config);
    await ctx.db.user.update({ where: { id: deactivated.user.id }, data: { isActive: false } });
    const deleted = await createAdmin(ctx.db, ctx.config);
    await ctx.db.user.delete({ where: { id: deleted.user.id } });
    const id = admin.user.id;
    badTokens = [
      ['no token', ''],
      ['an empty bearer', 'Bearer '],
      ['another scheme', `Basic ${Buffer.from('admin@paas.com:Admin123!@#').toString('base64')}`],
      ['garbage', 'Bearer not.a.jwt'],
      ['an unsigned token (alg none)', `Bearer ${unsigned(id)}`],
      ['a token signed with another secret', `Bearer ${jwt.sign(claims(id), 'another-secret-of-at-least-32-bytes!!', { expiresIn: 600 })}`],
      ['an expired token', `Bearer ${jwt.sign({ ...claims(id), exp: Math.floor(Date.now() / 1000) - 10 }, secret)}`],
      ['a token without expiry', `Bearer ${jwt.sign(claims(id), secret)}`],
      ['a token for another audience', `Bearer ${jwt.sign({ ...claims(id), aud: 'someone-else' }, secret, { expiresIn: 600 })}`],
      ['a token of another type', `Bearer ${jwt.sign({ ...claims(id), typ: 'refresh' }, secret, { expiresIn: 600 })}`],
      ['a token signed with HS512', `Bearer ${jwt.sign(claims(id), secret, { algorithm: 'HS512', expiresIn: 600 })}`],
      ['the token of a deactivated administrator', deactivated.auth],
      ['the token of a deleted administrator', deleted.auth],
      ['an opaque refresh-style token', 'Bearer 2b1f0c9e4a7d4f1b9c3e8a6d5f2b7c1e'],
      ['an agent token with a forged prefix', `Bearer mpn_${'A'.repeat(43)}`],
    ];
  });

  it.each(byName(bearer))('%s answers 401 to every missing, forged, expired or revoked token', async (_n, op) => {
    const path = concretePath(op, t);
    for (const [what, auth] of badTokens) {
      const res = await call(ctx, op, path, auth || undefined);
      expect({ what, status: res.status, success: res.body.success }).toEqual({ what, status: 401, success: false });
    }
  });

  it('signs access tokens with HS256 and the configured issuer and audience, with an expiry', () => {
    const { accessToken } = signAccessToken(ctx.config.jwt, 'someone');
    const decoded = jwt.decode(accessToken, { complete: true });
    expect(decoded?.header.alg).toBe('HS256');
    expect(decoded?.payload).toMatchObject({ iss: issuer, aud: audience, typ: 'access', sub: 'someone', exp: expect.any(Number) });
  });
});

describe('API5:2023 Broken Function Level Authorization', () => {
  // The complete list of operations anyone may call without a token; any other route must demand one.
  const PUBLIC = [
    'GET /api/v1/health',
    'GET /health',
    'GET /api/v1/openapi.json',
    'POST /api/v1/auth/register',
    'POST /api/v1/auth/login',
    'POST /api/v1/auth/refresh',
    'POST /api/v1/auth/logout',
    'POST /api/v1/auth/verify-email',
    'POST /api/v1/auth/forgot-password',
    'POST /api/v1/auth/reset-password',
    'GET /api/v1/services/categories',
    'GET /api/v1/services',
    'GET /api/v1/services/{idOrSlug}',
    // Called by Midtrans, authenticated by its signature_key (checked below).
    'POST /api/v1/payments/midtrans/notifications',
  ].sort();

  it('documents a token requirement on every operation but a short, known list of public ones', () => {
    expect(operations.filter((op) => op.security !== 'bearer').map(nameOf).sort()).toEqual(PUBLIC);
  });

  it.each(byName(bearer))('%s answers 401 without a token', async (_n, op) => {
    expectRefused(await call(ctx, op, concretePath(op, t)), 401);
  });

  it.each(byName(bearer.filter((op) => op.documents403)))('%s refuses a USER token (403, or 401 where only the metrics token counts)', async (_n, op) => {
    const user = await createUser(ctx.db, ctx.config);
    expectRefused(await call(ctx, op, concretePath(op, t), user.auth), op.path === '/metrics' ? 401 : 403);
  });

  it.each(byName(bearer.filter((op) => !op.documents403)))('%s serves a USER token (a route for every signed-in user)', async (_n, op) => {
    const user = await createUser(ctx.db, ctx.config);
    const res = await call(ctx, op, concretePath(op, t), user.auth);
    expect([401, 403]).not.toContain(res.status);
  });

  it.each(byName(operations.filter((op) => op.security !== 'public' && !isAgentReport(op))))('%s refuses a node agent token with 401', async (_n, op) => {
    expectRefused(await call(ctx, op, concretePath(op, t), t.node.auth), 401);
  });

  it('serves /metrics only to the metrics token', async () => {
    const res = await ctx.request.get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    expectRefused(await ctx.request.get('/metrics').set('Authorization', adminAuth), 401);
  });

  describe("Midtrans' notifications: the signature_key is the credential", () => {
    const NOTIFY = '/api/v1/payments/midtrans/notifications';
    const { midtrans } = ctx;
    const statusCalls = () => midtrans.requests.filter((r) => r.path === `/v2/${t.topup.orderId}/status`).length;

    it('refuses a missing signature (400) and every forged one (403), reading nothing from Midtrans and changing nothing', async () => {
      const valid = midtrans.notification(t.topup.orderId);
      const { status_code: code = '', gross_amount: gross = '' } = valid;
      const forged: [string, Record<string, string>][] = [
        ['no signature', { ...valid, signature_key: '' }],
        ['garbage', { ...valid, signature_key: 'not-a-signature' }],
        ['128 hex digits of nothing', { ...valid, signature_key: 'ab'.repeat(64) }],
        ['a signature made with another server key', { ...valid, signature_key: signature(t.topup.orderId, code, gross, 'SB-Mid-server-not-ours') }],
        ['a signature of another order', { ...valid, signature_key: signature('topup-of-someone-else', code, gross, midtrans.serverKey) }],
        ['a valid signature with the amount changed', { ...valid, gross_amount: '50000000.00' }],
        ['a valid signature with the status code changed', { ...valid, status_code: '201' }],
      ];
      const before = await targetRows(ctx, t);
      const calls = statusCalls();
      for (const [what, body] of forged) {
        // A bearer token is no credential here: an administrator's changes nothing.
        for (const auth of [undefined, adminAuth]) {
          const req = ctx.request.post(NOTIFY);
          const res = await (auth ? req.set('Authorization', auth) : req).send(body);
          expect({ what, status: res.status, code: res.body.code }).toEqual({ what, status: body.signature_key ? 403 : 400, code: body.signature_key ? 'FORBIDDEN' : 'VALIDATION_ERROR' });
        }
      }
      expect(statusCalls()).toBe(calls);
      expect(await targetRows(ctx, t)).toEqual(before);
    });

    it("accepts a notification signed with the server key, and checks it with Midtrans' status API", async () => {
      const calls = statusCalls();
      const res = await ctx.request.post(NOTIFY).send(midtrans.notification(t.topup.orderId));
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ orderId: t.topup.orderId, status: 'PENDING', result: 'unchanged' });
      expect(statusCalls()).toBe(calls + 1);
    });
  });

  it('leaves the targets of refused calls unchanged', async () => {
    const admin = bearer.filter((op) => op.documents403 && op.method !== 'get' && !isAgentReport(op));
    const user = await createUser(ctx.db, ctx.config);
    const rows = () => targetRows(ctx, t);
    const before = await rows();
    const unexpected: string[] = [];
    for (const op of admin) {
      for (const [who, auth] of [['anonymous', undefined], ['a USER', user.auth], ['an agent', t.node.auth]] as const) {
        const { status } = await call(ctx, op, concretePath(op, t), auth);
        if (status !== 401 && status !== 403) unexpected.push(`${nameOf(op)} answered ${status} to ${who}`);
      }
    }
    expect(admin.length).toBeGreaterThan(10);
    expect(unexpected).toEqual([]);
    expect(await rows()).toEqual(before);
  });
});
