import http from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { createAdmin, createNode, unique } from '../factories/index.js';
import { testConfig } from '../helpers/app.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';
import { attempt, sleep, type Call, type Outcome } from './load.js';

// SIGTERM to the real server process while a few hundred requests (reads, administrator writes and
// node heartbeats) are in flight, then more arrive. Runs on a database of its own.
const GRACE_MS = 5000;
const WAVE = 320;
const LATE = 80;
/** Transport errors a client may see from a server that stops: refused or cut, never a hang. */
const CLEAN_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

const adminUrl = inject('adminDatabaseUrl');
let databaseUrl: string;
let handle: DbHandle;
let server: ServerProcess;
let calls: (i: number) => Call;

beforeAll(async () => {
  databaseUrl = await createDatabase(adminUrl, 'minispod_shutdown', inject('templateDatabaseUrl'));
  handle = createDb({ url: databaseUrl, poolMax: 2 });
  const admin = await createAdmin(handle.db, testConfig({ DATABASE_URL: databaseUrl }));
  const nodes = await Promise.all(Array.from({ length: 5 }, () => createNode(handle.db)));
  const service = (i: number) => ({ name: unique(`Shutdown ${i}`), category: 'cms', version: '1', monthlyPrice: 1000, cpuRequest: '250m', memRequest: '256Mi', dockerImage: 'ghost:5-alpine' });
  calls = (i) => {
    const node = nodes[i % nodes.length] as (typeof nodes)[number];
    const kinds: Call[] = [
      { label: 'read', method: 'get', path: '/api/v1/workers?limit=50', headers: { authorization: admin.auth } },
      { label: 'write', method: 'post', path: '/api/v1/services', headers: { authorization: admin.auth }, body: service(i) },
      { label: 'heartbeat', method: 'post', path: `/api/v1/workers/${node.node.id}/heartbeat`, headers: { authorization: node.auth }, body: { isReady: true } },
      { label: 'read', method: 'get', path: '/api/v1/services/admin?limit=20', headers: { authorization: admin.auth } },
    ];
    return kinds[i % kinds.length] as Call;
  };
  // With its job runner: the database is its own, so it may dispatch what it finds there.
  server = await startServerProcess({ DATABASE_URL: databaseUrl, SHUTDOWN_GRACE_MS: String(GRACE_MS), JOBS_ENABLED: 'true' });
}, 120_000);

afterAll(async () => {
  server?.kill();
  await handle?.close();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
});

describe('SIGTERM under load', () => {
  it('lets every request complete or fail cleanly, loses nothing acknowledged and exits 0 within the grace period', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
    const outcomes: Outcome[] = [];
    let settled = 0;
    let inFlightAtSigterm = -1;
    let sigtermAt = 0;
    const send = (i: number) =>
      attempt(server.base, calls(i), GRACE_MS + 10_000, agent).then((o) => {
        outcomes.push(o);
        settled++;
        // SIGTERM as soon as the first answers are back, so most of the wave is still in flight.
        if (settled === 40) {
          inFlightAtSigterm = WAVE - settled;
          sigtermAt = Date.now();
          server.child.kill('SIGTERM');
        }
      });
    const wave = Array.from({ length: WAVE }, (_, i) => send(i));
    await sleep(0);
    // Requests that arrive during the shutdown.
    const late = (async () => {
      while (sigtermAt === 0) await sleep(1);
      await Promise.all(Array.from({ length: LATE }, async (_, i) => (await sleep(i * 5), send(WAVE + i))));
    })();
    await Promise.all([...wave, late]);
    const exit = await server.exited;
    agent.destroy();

    const answered = outcomes.filter((o) => o.status !== undefined);
    const failed = outcomes.filter((o) => o.error !== undefined);
    const refused = failed.filter((o) => o.error === 'ECONNREFUSED').length;
    // Every request completed with a proper answer, or failed with a clean connection error (never a timeout).
    expect(failed.filter((o) => !CLEAN_ERRORS.has(o.error as string))).toEqual([]);
    expect(answered.filter((o) => (o.status as number) >= 300 || o.body?.success !== true)).toEqual([]);
    expect(inFlightAtSigterm).toBeGreaterThanOrEqual(200);
    expect(answered.length).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(0);

    // Nothing acknowledged is lost: every created service is stored, every acknowledged heartbeat recorded.
    const created = answered.filter((o) => o.label === 'write').map((o) => (o.body?.data as { id: string }).id);
    const stored = await handle.db.serviceCatalog.count({ where: { id: { in: created } } });
    expect(stored).toBe(created.length);
    const beats = answered.filter((o) => o.label === 'heartbeat');
    for (const beat of beats) {
      const { lastHeartbeat } = (beat.body?.data ?? {}) as { lastHeartbeat?: string };
      const id = beat.body && (beat.body.data as { id: string }).id;
      const row = await handle.db.workerNode.findUniqueOrThrow({ where: { id } });
      expect(row.lastHeartbeat?.getTime()).toBeGreaterThanOrEqual(new Date(lastHeartbeat as string).getTime());
    }

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sigtermAt).toBeLessThan(GRACE_MS);
    // The job runner ran (its schema is there) and stopped with the server: no job is left held by the dead process.
    const jobs = await handle.pool.query<{ state: string }>(`SELECT state FROM pgboss.job`);
    expect(jobs.rows.filter((j) => j.state === 'active')).toEqual([]);
    // eslint-disable-next-line no-console
    console.log(
      `shutdown under load: ${WAVE + LATE} requests, ${inFlightAtSigterm} in flight at SIGTERM, ${answered.length} completed (${created.length} writes, ${beats.length} heartbeats acknowledged), ${refused} refused, ${failed.length - refused} reset, lost 0; exit ${exit.code} after ${exit.at - sigtermAt} ms (grace ${GRACE_MS} ms)`,
    );
  }, 60_000);
});
