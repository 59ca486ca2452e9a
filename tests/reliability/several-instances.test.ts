import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Options } from 'express-rate-limit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { freePort } from '../../src/lib/embedded-postgres.js';
import { createRedisRateLimits } from '../../src/lib/http/rate-limit-redis.js';
import { createLogger } from '../../src/lib/logger.js';
import { DEFAULT_PASSWORD, createAdmin, createNode, createUser } from '../factories/index.js';
import { testConfig } from '../helpers/app.js';
import { captureLogs } from '../helpers/capture-logs.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

// Several API processes behind one load balancer: one PostgreSQL, and one Redis for the rate limits
// when TEST_REDIS_URL names one (`.ci/run` sets it when Redis answers on 127.0.0.1:6379). Without
// it, the tests that need Redis are skipped and the processes count their limits on their own.
const redisUrl = process.env.TEST_REDIS_URL;
const needsRedis = redisUrl ? '' : ' [skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379]';
// Keys of this run only, so that parallel runs on one Redis never share a counter; deleted afterwards.
const keyPrefix = `minispod-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
const adminUrl = inject('adminDatabaseUrl');

interface LogEntry {
  level: string;
  message: string;
}
/** The JSON log lines (LOG_FORMAT=json) a process wrote so far. */
const logs = (p: ServerProcess): LogEntry[] =>
  p
    .output()
    .split('\n')
    .flatMap((line) => {
      try {
        const e = JSON.parse(line) as Partial<LogEntry>;
        return typeof e.level === 'string' && typeof e.message === 'string' ? [e as LogEntry] : [];
      } catch {
        return [];
      }
    });
const problems = (p: ServerProcess) => logs(p).filter((e) => e.level === 'error' || e.level === 'warn');

interface Reply {
  status: number;
  headers: Headers;
  data: Record<string, unknown>;
  ms: number;
}
/** One API call as a client behind the load balancer at `ip` (TRUST_PROXY=1 reads X-Forwarded-For). */
async function call(p: ServerProcess, method: string, path: string, { ip, token, body }: { ip: string; token?: string; body?: unknown }): Promise<Reply> {
  const t0 = Date.now();
  const res = await fetch(`${p.base}/api/v1${path}`, {
    method,
    headers: { 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5000),
  });
  const json = (await res.json()) as { data?: Record<string, unknown> };
  return { status: res.status, headers: res.headers, data: json.data ?? {}, ms: Date.now() - t0 };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const commonEnv = { TRUST_PROXY: '1', LOG_LEVEL: 'info', LOG_FORMAT: 'json', REDIS_KEY_PREFIX: keyPrefix };

afterAll(async () => {
  if (!redisUrl) return;
  const redis = new Redis(redisUrl);
  try {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

describe(`two API processes on one database${redisUrl ? ' and one Redis' : ''}`, () => {
  let databaseUrl: string;
  let handle: DbHandle;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    // A database of their own: their sweepers must not touch the nodes of other test files.
    databaseUrl = await createDatabase(adminUrl, 'minispod_instances', inject('templateDatabaseUrl'));
    handle = createDb({ url: databaseUrl, poolMax: 2 });
    const env = {
      ...commonEnv,
      DATABASE_URL: databaseUrl,
      RATE_LIMIT_MAX: '10',
      AUTH_RATE_LIMIT_MAX: '4',
      SWEEPER_INTERVAL_SECONDS: '1',
      HEARTBEAT_GRACE_SECONDS: '30',
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    };
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  }, 120_000);

  afterAll(async () => {
    a?.kill();
    b?.kill();
    await handle?.close();
    if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
  });

  it.skipIf(!redisUrl)(`holds one per-IP limit across both: requests alternate between them and their sum is limited${needsRedis}`, async () => {
    const ip = '203.0.113.10';
    const replies: (Reply & { by: string })[] = [];
    for (let i = 0; i < 24; i++) {
      const p = i % 2 === 0 ? a : b;
      replies.push({ ...(await call(p, 'GET', '/services/categories', { ip })), by: p === a ? 'a' : 'b' });
    }
    expect(replies.map((r) => r.status)).toEqual([...Array<number>(10).fill(200), ...Array<number>(14).fill(429)]);
    // Both processes refused requests: each saw only half of the ten it let through.
    expect(new Set(replies.filter((r) => r.status === 429).map((r) => r.by))).toEqual(new Set(['a', 'b']));
    expect(Number(replies[10]?.headers.get('retry-after'))).toBeGreaterThan(0);
    const redis = new Redis(redisUrl as string);
    try {
      expect(await redis.get(`${keyPrefix}rl:global:${ip}`)).toBe('24');
    } finally {
      redis.disconnect();
    }

    // The stricter per-IP limit of the login route is shared the same way.
    const login = (i: number) => call(i % 2 === 0 ? a : b, 'POST', '/auth/login', { ip: '203.0.113.11', body: { email: 'nobody@example.test', password: 'Wrong-pass1!' } });
    const logins: number[] = [];
    for (let i = 0; i < 8; i++) logins.push((await login(i)).status);
    expect(logins).toEqual([401, 401, 401, 401, 429, 429, 429, 429]);
  });

  it('runs the liveness sweeper in both harmlessly: each stale node is marked once, fresh ones are left alone', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const stale = await Promise.all(Array.from({ length: 30 }, () => createNode(handle.db, { status: 'ACTIVE', isReady: true, lastHeartbeat: hourAgo })));
    const fresh = await Promise.all(Array.from({ length: 3 }, () => createNode(handle.db, { status: 'ACTIVE', isReady: true, lastHeartbeat: new Date() })));
    const staleIds = stale.map((n) => n.node.id);
    await until('the stale nodes to be swept', async () => (await handle.db.workerNode.count({ where: { id: { in: staleIds }, status: 'INACTIVE' } })) === stale.length);
    // Let both sweepers run a few more times over the same rows.
    await new Promise((r) => setTimeout(r, 2500));

    const nodes = await handle.db.workerNode.findMany({ where: { id: { in: [...staleIds, ...fresh.map((n) => n.node.id)] } } });
    for (const n of nodes) {
      if (staleIds.includes(n.id)) expect([n.status, n.isReady, n.statusReason]).toEqual(['INACTIVE', false, 'No heartbeat for more than 30s']);
      else expect([n.status, n.isReady]).toEqual(['ACTIVE', true]);
    }
    // Every node was changed by exactly one sweep of one process: the statement is idempotent.
    const swept = [...logs(a), ...logs(b)].map((e) => /^Liveness sweeper: (\d+) worker node/.exec(e.message)?.[1]).filter((n) => n !== undefined);
    expect(swept.reduce((sum, n) => sum + Number(n), 0)).toBe(stale.length);
    expect([a.alive(), b.alive()]).toEqual([true, true]);
    // (A slow Redis answer on a loaded machine is logged too, and is not the sweepers' doing.)
    expect([...problems(a), ...problems(b)].filter((e) => !e.message.startsWith('Redis at '))).toEqual([]);
  });

  it('serves the same sessions: tokens issued by one process work on the other, and a deactivation on one ends them on both', async () => {
    const config = testConfig({ DATABASE_URL: databaseUrl });
    const { user } = await createUser(handle.db, config);
    const admin = await createAdmin(handle.db, config);
    const ip = '203.0.113.12';

    const login = await call(a, 'POST', '/auth/login', { ip, body: { email: user.email, password: DEFAULT_PASSWORD } });
    expect(login.status).toBe(200);
    const first = login.data.tokens as { accessToken: string; refreshToken: string };
    const me = await call(b, 'GET', '/auth/me', { ip, token: first.accessToken });
    expect([me.status, (me.data.user as { email?: string }).email]).toEqual([200, user.email]);

    const refreshed = await call(b, 'POST', '/auth/refresh', { ip, body: { refreshToken: first.refreshToken } });
    expect(refreshed.status).toBe(200);
    const second = refreshed.data.tokens as { accessToken: string; refreshToken: string };
    expect((await call(a, 'GET', '/auth/me', { ip, token: second.accessToken })).status).toBe(200);
    expect((await call(a, 'POST', '/auth/logout', { ip, body: { refreshToken: second.refreshToken } })).status).toBe(200);
    expect((await call(b, 'POST', '/auth/refresh', { ip, body: { refreshToken: second.refreshToken } })).status).toBe(401);

    // Process a has just accepted the access token; deactivating the account on b ends it on a too.
    expect((await call(a, 'GET', '/auth/me', { ip, token: second.accessToken })).status).toBe(200);
    expect((await call(b, 'PATCH', `/users/${user.id}/toggle-status`, { ip, token: admin.token })).status).toBe(200);
    expect((await call(a, 'GET', '/auth/me', { ip, token: second.accessToken })).status).toBe(401);
    expect((await handle.db.user.findUniqueOrThrow({ where: { id: user.id } })).isActive).toBe(false);
  });
});

/**
 * A TCP proxy in front of Redis that the test can cut (connections dropped, port closed), stall
 * (bytes held, as a hung server would) and restore.
 */
async function redisProxy(target: URL) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s)).on('error', () => undefined);
    }
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.pipe(upstream).pipe(client);
  });
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen();
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
    stall: () => clients.forEach((c) => c.pause()),
    unstall: () => clients.forEach((c) => c.resume()),
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise((r) => server.close(r));
    },
  };
}

describe.skipIf(!redisUrl)(`a Redis outage${needsRedis}`, () => {
  let proxy: Awaited<ReturnType<typeof redisProxy>>;
  let api: ServerProcess;
  // The run's shared database: this process runs no sweeper and no jobs, and only reads.
  const env = { ...commonEnv, DATABASE_URL: inject('databaseUrl'), RATE_LIMIT_MAX: '5', SWEEPER_INTERVAL_SECONDS: '0' };
  const outages = () => logs(api).filter((e) => e.level === 'error' && /^Redis at .* unreachable/.test(e.message));
  const recoveries = () => logs(api).filter((e) => /^Redis at \S+ is back: rate limits are enforced again/.test(e.message));
  const get = (ip: string) => call(api, 'GET', '/services/categories', { ip });

  beforeAll(async () => {
    proxy = await redisProxy(new URL(redisUrl as string));
    api = await startServerProcess({ ...env, REDIS_URL: proxy.url });
  }, 120_000);

  afterAll(async () => {
    api?.kill();
    await proxy?.close();
  });

  it('serves every request while Redis is unreachable, logs the outage once, and limits again when Redis is back', async () => {
    const limited = '198.51.100.1';
    for (let i = 0; i < 5; i++) expect((await get(limited)).status).toBe(200);
    expect((await get(limited)).status).toBe(429);

    await proxy.cut();
    await until('the outage to be logged', () => outages().length > 0);
    // Unlimited, and answered at once: nothing waits for a Redis that is not there.
    const during = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 === 0 ? limited : '198.51.100.2')));
    expect(during.map((r) => r.status)).toEqual(Array<number>(20).fill(200));
    expect(Math.max(...during.map((r) => r.ms))).toBeLessThan(2000);
    expect(api.alive()).toBe(true);

    await proxy.restore();
    await until('Redis to answer again', () => recoveries().length > 0);
    // The counter kept in Redis holds again; a new client gets its full allowance.
    expect((await get(limited)).status).toBe(429);
    const fresh = [];
    for (let i = 0; i < 6; i++) fresh.push((await get('198.51.100.3')).status);
    expect(fresh).toEqual([200, 200, 200, 200, 200, 429]);
    expect(outages()).toHaveLength(1);
  });

  it('answers within the command timeout when Redis hangs, and limits again once it answers', async () => {
    const before = outages().length;
    proxy.stall();
    const stalled = await Promise.all(Array.from({ length: 8 }, () => get('198.51.100.4')));
    expect(stalled.map((r) => r.status)).toEqual(Array<number>(8).fill(200));
    expect(Math.max(...stalled.map((r) => r.ms))).toBeLessThan(2000);
    expect(outages()).toHaveLength(before + 1);

    proxy.unstall();
    const recovered = recoveries().length;
    await until('Redis to answer again', async () => (await get('198.51.100.5')).status === 200 && recoveries().length > recovered);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await get('198.51.100.6')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('keeps a limiter working whose first script load failed (in process)', async () => {
    const logged = captureLogs();
    const logger = createLogger(testConfig(), [logged.transport]);
    const shared = createRedisRateLimits({ url: proxy.url, keyPrefix, logger });
    try {
      expect(await shared.connected()).toBe(true);
      const store = shared.store('script-load');
      // The store loads its scripts when its limiter is made: let that time out.
      proxy.stall();
      await store.init?.({ windowMs: 60_000 } as Options);
      await until('the failed load to be logged', () => /unreachable \(Command timed out\)/.test(logged.text()));
      proxy.unstall();
      const hits = [];
      for (let i = 0; i < 3; i++) hits.push((await store.increment('k')).totalHits);
      expect(hits).toEqual([1, 2, 3]);
    } finally {
      await shared.close();
    }
  });

  it('starts and serves with Redis unreachable from the start, logs that once (never its password), and limits once Redis comes', async () => {
    const late = await redisProxy(new URL(redisUrl as string));
    await late.cut();
    // A password the test Redis accepts (its default user has none), so that it is in the URL.
    const url = late.url.replace('redis://', 'redis://default:s3cret-redis-pass@');
    const alone = await startServerProcess({ ...env, RATE_LIMIT_MAX: '2', REDIS_URL: url });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await call(alone, 'GET', '/services/categories', { ip: '198.51.100.7' })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const where = `redis://default:\\*\\*\\*\\*@127\\.0\\.0\\.1:${new URL(late.url).port}`;
      expect(logs(alone).filter((e) => e.level === 'error').map((e) => e.message)).toEqual([expect.stringMatching(new RegExp(`^Redis at ${where} unreachable \\(.*ECONNREFUSED`))]);
      expect(alone.output()).toMatch(new RegExp(`Rate limits: shared through Redis at ${where} .*does not answer yet`));

      await late.restore();
      await until('Redis to answer', () => logs(alone).some((e) => /is back: rate limits are enforced again/.test(e.message)));
      statuses.length = 0;
      for (let i = 0; i < 3; i++) statuses.push((await call(alone, 'GET', '/services/categories', { ip: '198.51.100.8' })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(alone.output()).not.toContain('s3cret-redis-pass');
    } finally {
      alone.kill();
      await late.close();
    }
  });
});
