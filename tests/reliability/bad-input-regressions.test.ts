import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceOf, createAdmin, createNode, createService, createUser, fund } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';
import { sendRaw } from '../helpers/fuzz-requests.js';

// Inputs the bad-input suite found answered with 500; each now gets a 4xx in the envelope.
const ctx = createTestContext();
let server: Server;
let base: string;
let admin: Awaited<ReturnType<typeof createAdmin>>;
let node: Awaited<ReturnType<typeof createNode>>;
let service: Awaited<ReturnType<typeof createService>>;

beforeAll(async () => {
  [admin, node, service] = await Promise.all([createAdmin(ctx.db, ctx.config), createNode(ctx.db), createService(ctx.db)]);
  server = ctx.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await ctx.close();
});

/** Raw HTTP, so the test controls every byte (a lone surrogate survives in JSON's \u escape). */
async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await sendRaw(base, { method, path, body, headers: { authorization: admin.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } });
  return { status: res.status, body: JSON.parse(res.text) as { success: boolean; code: string; statusCode: number; errors?: { field: string }[] } };
}
const fields = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((e) => e.field);

describe('text PostgreSQL cannot store (NUL) or Prisma cannot pass (unpaired surrogates)', () => {
  it.each([
    ['a user name', 'put', () => `/api/v1/users/${admin.user.id}`, '{"name":"a\\u0000b"}', 'name'],
    ['a registration', 'post', () => '/api/v1/auth/register', '{"name":"x\\u0000","email":"n@example.test","password":"Str0ng!Pass","confirmPassword":"Str0ng!Pass"}', 'name'],
    ['a service description', 'put', () => `/api/v1/services/${service.id}`, '{"description":"x\\u0000"}', 'description'],
    ['an environment variable value', 'put', () => `/api/v1/services/${service.id}`, '{"environmentVars":{"A":"b\\u0000"}}', 'environmentVars.A'],
    ['a node operating system', 'put', () => `/api/v1/workers/${node.node.id}`, '{"operatingSystem":"x\\u0000"}', 'operatingSystem'],
    ['a heartbeat os image (unpaired high surrogate)', 'post', () => `/api/v1/workers/${node.node.id}/heartbeat`, '{"osImage":"x\\ud800"}', 'osImage'],
    ['a heartbeat kernel (unpaired low surrogate)', 'post', () => `/api/v1/workers/${node.node.id}/heartbeat`, '{"kernelVersion":"\\udc00x"}', 'kernelVersion'],
    ['a bulk id', 'post', () => '/api/v1/users/bulk', '{"action":"deactivate","userIds":["\\u0000"]}', 'userIds.0'],
  ])('refuses %s with 400 naming the field, and changes nothing', async (_what, method, path, body, field) => {
    const before = await ctx.db.workerNode.findUnique({ where: { id: node.node.id } });
    const res = await send(method, path(), body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR', statusCode: 400 });
    expect(fields(res.body)).toContain(field);
    expect(await ctx.db.workerNode.findUnique({ where: { id: node.node.id } })).toEqual(before);
  });

  it.each([
    ['a user id', () => '/api/v1/users/%00', 'params.id'],
    ['a node id', () => '/api/v1/workers/%00', 'params.nodeId'],
    ['a service slug', () => '/api/v1/services/a%00b', 'params.idOrSlug'],
    ['a user search', () => '/api/v1/users?search=%00', 'query.search'],
    ['a node search', () => '/api/v1/workers?search=x%00', 'query.search'],
    ['a service search', () => '/api/v1/services/admin?search=%00', 'query.search'],
  ])('refuses NUL in %s with 400 naming it', async (_what, path, field) => {
    const res = await send('get', path());
    expect(res.status).toBe(400);
    expect(fields(res.body)).toContain(field);
  });

  // A zero-width space is well-formed too, but names refuse it (input-hardening.test.ts): a hidden character lets one name pass for another.
  it('still accepts every well-formed visible character: emoji joined by zero-width joiners, right-to-left text', async () => {
    const name = '𝕳𝖊𝖑𝖑𝖔 👩‍👩‍👧‍👦 שלום ';
    const res = await send('put', `/api/v1/users/${admin.user.id}`, JSON.stringify({ name }));
    expect(res.status).toBe(200);
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: admin.user.id } })).name).toBe(name.trim());
  });
});

// wallets.balance is a PostgreSQL integer: a credit past its maximum failed in the database ("integer out of range", 500).
describe('credits a wallet cannot hold', () => {
  const MAX_BALANCE = 2_147_483_647;

  it.each([
    ['an administrator top-up', 'topup', { amount: 1_000_000_000, reference: 'past-the-maximum' }],
    ['an adjustment', 'adjust', { amount: 1_000_000_000, reason: 'Past the maximum' }],
  ])('refuses %s that would take the balance past the maximum with 409 naming the amount, and changes nothing', async (_what, route, body) => {
    const { user } = await createUser(ctx.db, ctx.config);
    await fund(ctx.db, user.id, 1_500_000_000);
    const ledger = () => ctx.db.transaction.findMany({ where: { userId: user.id }, orderBy: { id: 'asc' } });
    const before = await ledger();
    const res = await send('post', `/api/v1/admin/users/${user.id}/wallet/${route}`, JSON.stringify(body));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ success: false, code: 'CONFLICT', statusCode: 409 });
    expect(fields(res.body)).toEqual(['amount']);
    expect(await balanceOf(ctx.db, user.id)).toBe(1_500_000_000);
    expect(await ledger()).toEqual(before);
  });

  it('still credits up to the maximum itself', async () => {
    const { user } = await createUser(ctx.db, ctx.config);
    await fund(ctx.db, user.id, MAX_BALANCE - 1000);
    const res = await send('post', `/api/v1/admin/users/${user.id}/wallet/topup`, JSON.stringify({ amount: 1000, reference: 'up-to-the-maximum' }));
    expect(res.status).toBe(201);
    expect(await balanceOf(ctx.db, user.id)).toBe(MAX_BALANCE);
  });
});

describe('requests the HTTP layer cannot decode', () => {
  it.each(['/api/v1/users/%E0%A4%A', '/api/v1/services/%', '/api/v1/workers/%zz/heartbeat'])('answers the undecodable path %s with 400', async (path) => {
    const res = await send('get', path);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR', statusCode: 400 });
  });

  it.each(['gzip', 'deflate', 'br'])('answers a corrupt %s body with 400', async (encoding) => {
    const res = await send('post', '/api/v1/auth/login', 'not compressed at all', { 'content-encoding': encoding });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR', statusCode: 400 });
  });
});
