import express from 'express';
import supertest from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDb } from '../../src/lib/db.js';
import { errorMiddleware } from '../../src/lib/http/error-middleware.js';
import { requestContext } from '../../src/lib/http/request-context.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTestContext, testConfig } from '../helpers/app.js';
import { captureLogs } from '../helpers/capture-logs.js';
import { createUser } from '../factories/index.js';

const ctx = createTestContext();
afterAll(() => ctx.close());

const expectErrorEnvelope = (body: Record<string, unknown>, statusCode: number, code: string) => {
  expect(body).toMatchObject({ success: false, statusCode, code });
  expect(typeof body.message).toBe('string');
  expect(typeof body.timestamp).toBe('string');
  expect(typeof body.requestId).toBe('string');
  expect(body).not.toHaveProperty('stack');
};

describe('GET /health', () => {
  it.each(['/health', '/api/v1/health'])('answers 200 with the database check at %s', async (path) => {
    const res = await ctx.request.get(path).expect(200);
    expect(res.body).toMatchObject({ success: true, statusCode: 200, data: { status: 'ok', checks: { database: { status: 'up' } } } });
  });

  it('answers 503 within 2 s when the database is unreachable', async () => {
    const dead = createDb({ url: 'postgresql://postgres@127.0.0.1:1/none', connectTimeoutMs: 500 });
    const app = buildApp({ db: dead.db, config: ctx.config, logger: ctx.logger });
    const started = Date.now();
    const res = await supertest(app).get('/health').expect(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expectErrorEnvelope(res.body, 503, 'SERVICE_UNAVAILABLE');
    expect(res.body.data.checks.database.status).toBe('down');
    await dead.close();
  });
});

describe('error envelope', () => {
  it('answers unknown routes with 404 ROUTE_NOT_FOUND', async () => {
    const res = await ctx.request.get('/api/v1/does-not-exist').expect(404);
    expectErrorEnvelope(res.body, 404, 'ROUTE_NOT_FOUND');
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const res = await ctx.request.delete('/api/v1/health').expect(405);
    expectErrorEnvelope(res.body, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toContain('GET');
  });

  it('answers OPTIONS on a known path with its methods, as Express does, and on an unknown one with 404', async () => {
    const users = await ctx.request.options('/api/v1/users').expect(200);
    expect(users.headers.allow).toBe('GET, HEAD, POST');
    expect(users.text).toBe('GET, HEAD, POST');
    const report = await ctx.request.options('/api/v1/workers/any-node/heartbeat').expect(200);
    expect(report.headers.allow).toBe('PATCH, POST');
    expect((await ctx.request.options('/health').expect(200)).headers.allow).toBe('GET, HEAD');
    expectErrorEnvelope((await ctx.request.options('/api/v1/does-not-exist').expect(404)).body, 404, 'ROUTE_NOT_FOUND');
  });

  it('answers malformed JSON with 400 INVALID_JSON without echoing the body', async () => {
    const res = await ctx.request.post('/api/v1/health').set('content-type', 'application/json').send('{"secret": "s3cr3t-value",').expect(400);
    expectErrorEnvelope(res.body, 400, 'INVALID_JSON');
    expect(JSON.stringify(res.body)).not.toContain('s3cr3t-value');
  });

  it('answers a body over the limit with 413', async () => {
    const res = await ctx.request.post('/api/v1/health').set('content-type', 'application/json').send({ blob: 'x'.repeat(200 * 1024) }).expect(413);
    expectErrorEnvelope(res.body, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('masks unexpected errors as 500 and logs them with the request id', async () => {
    const logs = captureLogs();
    const logger = createLogger(testConfig(), [logs.transport]);
    const app = express();
    app.use(requestContext());
    app.get('/boom', () => {
      throw new Error('database password is hunter2 at internal.host');
    });
    app.use(errorMiddleware(logger));
    const res = await supertest(app).get('/boom').expect(500);
    expectErrorEnvelope(res.body, 500, 'INTERNAL_ERROR');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(logs.text()).toContain(res.body.requestId);
    expect(logs.text()).toContain('stack');
  });
});

describe('request id', () => {
  it("puts each request's own id on the lines its service logs, also for requests served at the same time", async () => {
    const logs = captureLogs();
    const logged = createTestContext({ transports: [logs.transport] });
    try {
      const accounts = await Promise.all([createUser(logged.db, logged.config), createUser(logged.db, logged.config), createUser(logged.db, logged.config)]);
      const responses = await Promise.all(
        accounts.map(({ user, password }, i) => logged.request.post('/api/v1/auth/login').set('x-request-id', `login-${i}`).send({ email: user.email, password }).expect(200)),
      );
      const lines = logs.lines.map((l) => JSON.parse(l) as { message: string; userId?: string; requestId?: string }).filter((l) => l.message === 'User logged in');
      expect(lines).toHaveLength(3);
      accounts.forEach(({ user }, i) => {
        expect(responses[i]?.headers['x-request-id']).toBe(`login-${i}`);
        expect(lines.find((l) => l.userId === user.id)?.requestId).toBe(`login-${i}`);
      });
    } finally {
      await logged.close();
    }
  });

  it('echoes a safe client request id', async () => {
    const res = await ctx.request.get('/health').set('x-request-id', 'abc-123').expect(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('replaces an unsafe client request id with its own', async () => {
    const res = await ctx.request.get('/health').set('x-request-id', 'bad id\twith spaces').expect(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('security headers and CORS', () => {
  it('sends helmet headers and no x-powered-by', async () => {
    const res = await ctx.request.get('/health');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
  });

  it('sends no ETag: every envelope carries its own timestamp, so none could match', async () => {
    const res = await ctx.request.get('/api/v1/services');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBeUndefined();
  });

  it('answers a preflight from an allowed origin for Authorization and Content-Type', async () => {
    const res = await ctx.request
      .options('/api/v1/auth/login')
      .set('Origin', 'http://localhost:3100')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3100');
    expect(res.headers['access-control-allow-headers']?.toLowerCase()).toContain('authorization');
  });

  it('gives no CORS grant to an origin outside the allow-list', async () => {
    const res = await ctx.request.get('/health').set('Origin', 'https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('global rate limit', () => {
  it('answers 429 with Retry-After and the error envelope once the limit is spent', async () => {
    const limited = createTestContext({ env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' } });
    await limited.request.get('/api/v1/nothing-here').expect(404);
    await limited.request.get('/api/v1/nothing-here').expect(404);
    const res = await limited.request.get('/api/v1/nothing-here').expect(429);
    expectErrorEnvelope(res.body, 429, 'RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await limited.close();
  });
});

describe('logging', () => {
  it('writes one access line per request with id, method, full path (no query), status and duration', async () => {
    const logs = captureLogs();
    const logged = createTestContext({ env: { LOG_LEVEL: 'http' }, transports: [logs.transport] });
    const res = await logged.request.get('/api/v1/services/categories?secret=hidden-query-value');
    const access = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.level === 'http');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ requestId: res.body.requestId ?? res.headers['x-request-id'], method: 'GET', path: '/api/v1/services/categories', status: res.status, durationMs: expect.any(Number) });
    expect(logs.text()).not.toContain('hidden-query-value');
    await logged.close();
  });

  it('never writes passwords, tokens or Authorization headers to the log', async () => {
    const logs = captureLogs();
    const logged = createTestContext({ env: { LOG_LEVEL: 'debug' }, transports: [logs.transport] });
    const jwtLike = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl';
    await logged.request
      .post('/api/v1/auth/login')
      .set('Authorization', `Bearer ${jwtLike}`)
      .send({ email: 'nobody@example.test', password: 'Sup3r$ecretPassw0rd' });
    await logged.request.post('/api/v1/auth/refresh').send({ refreshToken: 'opaque-refresh-token-value-123' });
    logged.logger.info('context', { password: 'Sup3r$ecretPassw0rd', headers: { authorization: `Bearer ${jwtLike}` }, refreshToken: 'opaque-refresh-token-value-123' });
    const text = logs.text();
    expect(logs.lines.length).toBeGreaterThan(2);
    expect(text).toContain('/api/v1/auth/login');
    for (const secret of ['Sup3r$ecretPassw0rd', jwtLike, 'opaque-refresh-token-value-123']) expect(text).not.toContain(secret);
    await logged.close();
  });
});
