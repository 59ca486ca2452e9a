import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb } from '../../src/lib/db.js';
import { isDatabaseUnavailable, normalizeError } from '../../src/lib/errors/index.js';

// The errors come from a real server: a backend terminated by the administrator (57P01) is what a
// fast shutdown of PostgreSQL does to every open connection.
describe('normalizeError on a connection the server terminates', () => {
  const handle = createDb({ url: inject('databaseUrl'), poolMax: 2 });
  const admin = new pg.Client({ connectionString: inject('databaseUrl') });
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await handle.close();
    await admin.end();
  });

  /** Runs a query that sleeps under a unique tag, terminates its backend, and returns what it threw. */
  async function errorOfTerminated(run: (tag: string) => Promise<unknown>): Promise<unknown> {
    const tag = `t${randomUUID().replaceAll('-', '')}`;
    const outcome = run(tag).then(
      () => new Error('the query was not terminated'),
      (err: unknown) => err,
    );
    for (let i = 0; i < 200; i++) {
      const { rowCount } = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%${tag}%`]);
      if (rowCount) return outcome;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the tagged query never started');
  }

  it('maps a raw query that fails with 57P01 (P2010 over the driver adapter) to SERVICE_UNAVAILABLE', async () => {
    const err = await errorOfTerminated((tag) => handle.db.$queryRawUnsafe(`SELECT pg_sleep(5) AS "${tag}"`));
    expect((err as { code?: string }).code).toBe('P2010');
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(normalizeError(err).code).toBe('SERVICE_UNAVAILABLE');
  });

  it('maps the same failure inside an interactive transaction to SERVICE_UNAVAILABLE and gives its connection back', async () => {
    const err = await errorOfTerminated((tag) =>
      handle.db.$transaction(async (tx) => {
        await tx.$queryRawUnsafe(`SELECT pg_sleep(5) AS "${tag}"`);
      }),
    );
    expect(err).toBeInstanceOf(Error);
    expect(normalizeError(err).code).toBe('SERVICE_UNAVAILABLE');
    // Its ROLLBACK failed on the dead connection: the adapter must still release the client (the
    // patch in patches/), or every transaction cut off by a database outage shrinks the pool for good.
    expect(handle.pool.totalCount - handle.pool.idleCount).toBe(0);
    await expect(handle.db.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1 AS ok'))).resolves.toEqual([{ ok: 1 }]);
  });

  it('maps the failure of a direct pool query (the hot paths) to SERVICE_UNAVAILABLE', async () => {
    const err = await errorOfTerminated((tag) => handle.pool.query(`SELECT pg_sleep(5) AS "${tag}"`));
    expect(normalizeError(err).code).toBe('SERVICE_UNAVAILABLE');
  });

  it('still masks an ordinary SQL error as INTERNAL_ERROR', async () => {
    const err = await handle.db.$queryRawUnsafe('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(normalizeError(err).code).toBe('INTERNAL_ERROR');
  });
});
