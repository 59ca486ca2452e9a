import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/lib/db.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/lib/embedded-postgres.js';

// A clean shutdown closes the pool, then stops the embedded PostgreSQL (a fast shutdown). pg's
// Pool.end() resolves once it has asked each connection to close, not once they have: a backend
// that had not read its Terminate yet was then terminated by the shutdown, and the pool reported
// "terminating connection due to administrator command", a warning in the log of every SIGTERM
// that raced. A stopped backend (SIGSTOP) makes the race certain.
describe('closing the database handle, then stopping PostgreSQL', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-close-'));
  fs.chmodSync(dir, 0o755);
  let pg: EmbeddedDatabase;
  beforeAll(async () => {
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), persistent: false, database: 'postgres' });
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('waits until every connection has ended, so the shutdown terminates none', async () => {
    const errors: string[] = [];
    const handle = createDb({ url: pg.url, poolMax: 4, onPoolError: (err) => errors.push(err.message) });
    const clients = await Promise.all(Array.from({ length: 4 }, () => handle.pool.connect()));
    const pids = await Promise.all(clients.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number));
    for (const client of clients) client.release();

    const slow = pids[0] as number;
    process.kill(slow, 'SIGSTOP');
    const resumed = sleep(500).then(() => process.kill(slow, 'SIGCONT'));
    const started = Date.now();
    await handle.close();
    const closedAfter = Date.now() - started;
    await pg.stop();
    await resumed;

    expect(errors).toEqual([]);
    expect(closedAfter).toBeGreaterThanOrEqual(400);
  }, 30_000);

  it('does not wait for ever on a connection that is still checked out', async () => {
    // pg's Pool.end() waits for every checked-out connection to come back: one held by work that
    // never finishes held the whole shutdown (a test's afterAll timed out on it once).
    const other = await startEmbeddedPostgres({ dataDir: path.join(dir, 'other'), persistent: false, database: 'postgres' });
    try {
      const handle = createDb({ url: other.url, poolMax: 2 });
      const held = await handle.pool.connect();
      await held.query('SELECT 1');
      const started = Date.now();
      await handle.close();
      expect(Date.now() - started).toBeLessThan(15_000);
      held.release();
    } finally {
      await other.stop();
    }
  }, 60_000);
});

