import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/lib/embedded-postgres.js';
import { runPrisma } from '../../src/lib/migrate.js';
import { createAdmin, createNode } from '../factories/index.js';
import { testConfig } from '../helpers/app.js';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { attempt, flow, sleep, waitFor, type Call, type Outcome } from './load.js';

// The real server process against a PostgreSQL of its own, which the test stops while requests
// flow (a fast shutdown, then an immediate one as after a crash) and restarts on the same data
// directory and port. The server is never restarted or rebuilt.
const FAIL_FAST_MS = 2000;
let dir: string;
let dataDir: string;
let pg: EmbeddedDatabase;
let handle: DbHandle;
let server: ServerProcess;
let calls: Call[];
const figures = { faults: 0, requests: 0, unavailable: 0, slowest503: 0, recoveryMs: [] as number[] };

const startPg = (port?: number) => startEmbeddedPostgres({ dataDir, port, persistent: true, database: 'minispod' });
const portRefuses = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => socket.destroy() && resolve(false));
    socket.once('error', () => resolve(true));
  });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-dbloss-'));
  fs.chmodSync(dir, 0o755);
  dataDir = path.join(dir, 'data');
  pg = await startPg();
  await runPrisma(['migrate', 'deploy'], pg.url);
  handle = createDb({ url: pg.url, poolMax: 2 });
  const config = testConfig({ DATABASE_URL: pg.url });
  const admin = await createAdmin(handle.db, config);
  const { node, auth } = await createNode(handle.db);
  await handle.close();
  calls = [
    { label: 'list workers', method: 'get', path: '/api/v1/workers', headers: { authorization: admin.auth } },
    { label: 'heartbeat', method: 'post', path: `/api/v1/workers/${node.id}/heartbeat`, headers: { authorization: auth }, body: {} },
    // An administrator's report runs a raw Prisma query, whose failures Prisma wraps differently (P2010).
    { label: 'resources', method: 'post', path: `/api/v1/workers/${node.id}/resources`, headers: { authorization: admin.auth }, body: { currentPods: 1 } },
    { label: 'health', method: 'get', path: '/health' },
    { label: 'services', method: 'get', path: '/api/v1/services' },
  ];
  // The sweeper runs every second, so the background job also meets the outage.
  server = await startServerProcess({ DATABASE_URL: pg.url, SWEEPER_INTERVAL_SECONDS: '1' });
}, 120_000);

afterAll(async () => {
  server?.kill();
  await pg?.stop().catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  // eslint-disable-next-line no-console
  console.log(
    `database loss: ${figures.faults} faults injected, ${figures.requests} requests, ${figures.unavailable} answered 503 (slowest ${figures.slowest503} ms), recovered ${figures.recoveryMs.join(' ms, ')} ms after restart`,
  );
});

/** An immediate shutdown: the postmaster drops every connection at once, as in a crash. */
async function killImmediately(port: number) {
  const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGQUIT');
  await waitFor('PostgreSQL to go away', () => portRefuses(port));
}

const faults: [string, (port: number) => Promise<void>][] = [
  ['a fast shutdown', () => pg.stop()],
  ['an immediate shutdown (as after a crash)', killImmediately],
];

describe('losing the database while requests flow', () => {
  it.each(faults)('answers 503 fast during %s, stays up, and recovers by itself when PostgreSQL returns', async (_name, inject) => {
    const port = pg.port;
    const load = flow(server.base, calls, { concurrency: 8, timeoutMs: 10_000 });
    await sleep(500);
    await inject(port);
    const downAt = Date.now();
    figures.faults++;
    await sleep(2500);
    const health = await attempt(server.base, { label: 'health', method: 'get', path: '/health' }, 5000);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE', statusCode: 503, data: { checks: { database: { status: 'down' } } } });
    expect(server.alive()).toBe(true);

    const restartingAt = Date.now();
    pg = await startPg(port);
    const restartedAt = Date.now();
    const recovery = await waitFor('the API to answer 200 again', async () => (await attempt(server.base, calls[0] as Call, 5000)).status === 200);
    figures.recoveryMs.push(recovery);
    await sleep(1000);
    const outcomes: Outcome[] = await load.stop();
    figures.requests += outcomes.length;

    // No hanging sockets and no dropped connections: every request got an HTTP answer in time.
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    const serverErrors = server.output().split('\n').filter((line) => /\berror\b/.test(line)).slice(0, 5).join('\n');
    expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503), serverErrors).toEqual([]);
    const unavailable = outcomes.filter((o) => o.status === 503);
    figures.unavailable += unavailable.length;
    figures.slowest503 = Math.max(figures.slowest503, ...unavailable.map((o) => o.ms));
    expect(unavailable.length).toBeGreaterThan(8);
    for (const o of unavailable) {
      expect(o.body).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE', statusCode: 503 });
      expect(typeof o.body?.requestId).toBe('string');
      expect(o.ms, `${o.label} took ${o.ms} ms to fail`).toBeLessThan(FAIL_FAST_MS + 500);
    }
    // While the database was certainly gone, nothing claimed success (the answer cannot be made up).
    const whileDown = outcomes.filter((o) => o.startedAt > downAt + 100 && o.startedAt + o.ms < restartingAt);
    expect(whileDown.length).toBeGreaterThan(0);
    expect(whileDown.filter((o) => o.status === 200)).toEqual([]);
    // Once recovered, every kind of request succeeds again, without a restart of the server.
    const after = outcomes.filter((o) => o.startedAt > restartedAt + recovery);
    expect(after.length).toBeGreaterThan(8);
    expect(after.filter((o) => o.status !== 200)).toEqual([]);
    expect(server.alive()).toBe(true);
  }, 90_000);
});
