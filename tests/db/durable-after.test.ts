import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { DURABLE_AFTER, sqlScript } from '../../src/lib/sql-transaction.js';

// A commit made with synchronous_commit off returns before its WAL is on disk; DURABLE_AFTER, sent
// after it in the same message, must not return before it is. Checked from another connection the
// moment the script returns: the WAL flushed so far must reach past the commit.
describe('DURABLE_AFTER', () => {
  const table = `durable_probe_${randomBytes(4).toString('hex')}`;
  let handle: DbHandle;
  let observer: pg.Client;
  beforeAll(async () => {
    handle = createDb({ url: inject('databaseUrl'), poolMax: 2 });
    observer = new pg.Client({ connectionString: inject('databaseUrl') });
    await observer.connect();
    await observer.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL); INSERT INTO ${table} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await observer.query(`DROP TABLE IF EXISTS ${table}`);
    await observer.end();
    await handle.close();
  });

  /** How many of `times` asynchronous commits, each followed by `after`, were on disk when their script returned. */
  const flushedOnReturn = async (after: string, times: number) => {
    let flushed = 0;
    for (let i = 0; i < times; i++) {
      const results = await sqlScript(handle.db, ['BEGIN', 'SET LOCAL synchronous_commit = off', `UPDATE ${table} SET n = n + 1 WHERE id = 1`, 'COMMIT', 'SELECT pg_current_wal_insert_lsn()::text AS lsn', ...(after ? [after] : [])]);
      const lsn = results[4]?.rows[0]?.lsn as string;
      const { rows } = await observer.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [lsn]);
      if (rows[0]?.ok) flushed++;
    }
    return flushed;
  };

  it('returns only once the asynchronous commit before it is on disk', async () => {
    expect(await flushedOnReturn(DURABLE_AFTER, 20)).toBe(20);
  });

  it('is what makes the difference: without it such a commit is usually not on disk yet when its script returns', async () => {
    expect(await flushedOnReturn('', 20)).toBeLessThan(20);
  });
});
