import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext } from '../helpers/app.js';
import { call, concretePath, credentialFor, createAdmin, createTargets, nameOf, operationsOf, securityContext, type Targets } from './security-fixtures.js';

// OWASP API Security Top 10 (2023): configuration and inventory, on every documented operation.
// Covered elsewhere: API7 Server Side Request Forgery (webhook URLs, the only URLs a client gives:
// refused at creation in tests/api/webhooks.test.ts, at connect time in
// tests/jobs/webhooks-ssrf.test.ts) and API10 Unsafe Consumption of APIs (Midtrans' answers are
// checked, never trusted alone, in tests/api/wallet-topups.test.ts; what node agents report is
// validated like any client input, see tests/reliability/bad-input.test.ts).
const ctx = await securityContext();
afterAll(() => ctx.close());
const operations = operationsOf(ctx);
const byName = (ops: typeof operations) => ops.map((op) => [nameOf(op), op] as const);

let t: Targets;
let admin: string;
beforeAll(async () => {
  t = await createTargets(ctx);
  admin = (await createAdmin(ctx.db, ctx.config)).auth;
});
const authFor = (op: (typeof operations)[number]) => credentialFor(ctx, op, t, admin);

/** No stack, no source path, no echo of what the client sent. */
const expectNothingLeaked = (text: string, sent?: string) => {
  expect(text).not.toMatch(/"stack"|node_modules|\/src\/|\.ts:\d+|at \w+ \(/);
  if (sent) expect(text).not.toContain(sent);
};

describe('API8:2023 Security Misconfiguration', () => {
  const expectHardened = (headers: Record<string, string | undefined>) => {
    expect(headers['x-powered-by']).toBeUndefined();
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(headers['access-control-allow-origin']).toBeUndefined();
  };

  it.each(byName(operations))('%s answers with the hardening headers, on success and on refusal', async (_n, op) => {
    expectHardened((await call(ctx, op, concretePath(op, t), await authFor(op))).headers);
    expectHardened((await call(ctx, op, concretePath(op, t), 'Bearer forged')).headers);
  });

  it.each(ctx.config.corsOrigins.map((o) => [o]))('grants CORS to the allowed origin %s, with a preflight for Authorization and Content-Type', async (origin) => {
    const res = await ctx.request.options('/api/v1/users').set('Origin', origin).set('Access-Control-Request-Method', 'PUT').set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(origin);
    expect(res.headers['access-control-allow-headers']?.toLowerCase()).toMatch(/authorization.*content-type|content-type.*authorization/);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers.vary).toMatch(/Origin/i);
  });

  const [allowed] = ctx.config.corsOrigins as [string];
  it.each([['https://evil.example'], ['null'], [`${allowed}.evil.example`], [`${allowed}@evil.example`], [allowed.replace('http:', 'https:')], [allowed.toUpperCase()]])(
    'grants nothing to the origin %s, neither on a preflight nor on a request',
    async (origin) => {
      const preflight = await ctx.request.options('/api/v1/users').set('Origin', origin).set('Access-Control-Request-Method', 'DELETE');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const res = await ctx.request.get('/api/v1/services').set('Origin', origin);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    },
  );

  it('answers errors in the envelope with no stack, no source path and no echo of the request', async () => {
    const secret = 'S3cr3t-Sentinel-Value';
    const probes = [
      await ctx.request.get(`/api/v1/${secret}`),
      await ctx.request.delete('/api/v1/health'),
      await ctx.request.post('/api/v1/auth/login').set('Content-Type', 'application/json').send(`{"password":"${secret}",`),
      await ctx.request.post('/api/v1/auth/login').set('Content-Type', 'application/json').send({ password: secret.repeat(10_000) }),
      await ctx.request.post('/api/v1/auth/login').set('Content-Type', 'application/json; charset=latin1').send('{}'),
      await ctx.request.get('/api/v1/users/%E0%A4%A').set('Authorization', admin),
      await ctx.request.get(`/api/v1/users?search=${secret}%00`).set('Authorization', admin),
    ];
    expect(probes.map((r) => r.status)).toEqual([404, 405, 400, 413, 415, 400, 400]);
    for (const res of probes) {
      expect(res.body).toMatchObject({ success: false, statusCode: res.status, code: expect.any(String), requestId: expect.any(String) });
      expectNothingLeaked(res.text, res.status === 404 ? undefined : secret);
    }
  });

  it('does not echo a TRACE request (cross-site tracing)', async () => {
    const res = await ctx.request.trace('/api/v1/health').set('Authorization', admin);
    expect([404, 405]).toContain(res.status);
    expect(res.text).not.toContain(admin);
  });
});

describe('API9:2023 Improper Inventory Management', () => {
  // Every mounted route is documented, and every route needing a token says so: tests/api/openapi.test.ts.
  it.each(byName(operations))('%s is documented and actually served', async (_n, op) => {
    const res = await call(ctx, op, concretePath(op, t), await authFor(op));
    expect(res.body.code).not.toBe('ROUTE_NOT_FOUND');
    expect(res.status).not.toBe(405);
  });

  it('serves one version of the API: no unversioned or other-version aliases', async () => {
    // GET /health answers at the root too, by contract (load balancers probe it there).
    const documented = new Set(operations.filter((op) => op.path.startsWith('/api/v1/')).map((op) => op.path.split('/')[3] as string).filter((r) => r !== 'health'));
    expect(documented.size).toBeGreaterThan(2);
    for (const resource of documented) {
      for (const path of [`/api/${resource}`, `/api/v2/${resource}`, `/api/v0/${resource}`, `/v1/${resource}`, `/${resource}`]) {
        const res = await ctx.request.get(path).set('Authorization', admin);
        expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 404, code: 'ROUTE_NOT_FOUND' });
      }
    }
  });

  it('keeps /metrics off unless a token is configured', async () => {
    const plain = createTestContext();
    expect((await plain.request.get('/metrics').set('Authorization', admin)).status).toBe(404);
    await plain.close();
  });
});
