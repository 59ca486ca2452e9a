import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createSharedRuns } from '../../src/lib/batch.js';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { sqlFor, type Sql } from '../../src/lib/sql.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('createSharedRuns', () => {
  it('gives the calls of one turn with one key a single run, started after all of them', async () => {
    const shared = createSharedRuns<number>();
    const calls: string[] = [];
    let runs = 0;
    const run = async () => {
      calls.push('run');
      return ++runs;
    };
    const first = shared('k', run);
    calls.push('call 1');
    const second = shared('k', run);
    calls.push('call 2');
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(calls).toEqual(['call 1', 'call 2', 'run']);
  });

  it('never hands a later call a run that had already started', async () => {
    const shared = createSharedRuns<string>();
    const started: ((value: string) => void)[] = [];
    const run = () => new Promise<string>((resolve) => started.push(resolve));
    const first = shared('k', run);
    await nextTurn(); // the first run is now in flight
    const second = shared('k', run);
    await nextTurn();
    expect(started).toHaveLength(2);
    started[1]?.('second run');
    started[0]?.('first run');
    expect(await first).toBe('first run');
    expect(await second).toBe('second run');
  });

  it('keeps keys apart and hands a failure to every caller of that run only', async () => {
    const shared = createSharedRuns<string>();
    const ok = shared('a', async () => 'a');
    const failing = [shared('b', () => Promise.reject(new Error('boom'))), shared('b', () => Promise.reject(new Error('unused')))];
    const thrown = shared('c', () => {
      throw new Error('sync');
    });
    expect(await ok).toBe('a');
    for (const p of failing) await expect(p).rejects.toThrow('boom');
    await expect(thrown).rejects.toThrow('sync');
    // A key that failed runs again for the next caller.
    expect(await shared('b', async () => 'b again')).toBe('b again');
  });
});

describe('sqlFor with share', () => {
  let handle: DbHandle;
  let sql: Sql;

  beforeAll(async () => {
    handle = createDb({ url: inject('databaseUrl'), poolMax: 4 });
    sql = sqlFor(handle.db);
    await sql('CREATE SEQUENCE IF NOT EXISTS shared_reads_probe');
  });

  afterAll(async () => {
    await sql('DROP SEQUENCE IF EXISTS shared_reads_probe');
    await handle.close();
  });

  // nextval() has an effect, so the value each caller sees tells how many statements ran.
  const probe = (share: boolean, tag = 1) => sql<{ n: string; tag: number }>('SELECT nextval($1::regclass)::text AS n, $2::int AS tag', ['shared_reads_probe', tag], { share });

  it('runs identical reads of one turn as one statement on the real database', async () => {
    const rows = await Promise.all([probe(true), probe(true), probe(true)]);
    expect(new Set(rows.map((r) => r[0]?.n)).size).toBe(1);
    // The same statement in a later turn runs again.
    const [later] = await probe(true);
    expect(Number(later?.n)).toBe(Number(rows[0]?.[0]?.n) + 1);
  });

  it('runs reads with other values, and reads without share, as statements of their own', async () => {
    const rows = await Promise.all([probe(true, 1), probe(true, 2), probe(false, 1), probe(false, 1)]);
    expect(rows.map((r) => r[0]?.tag)).toEqual([1, 2, 1, 1]);
    expect(new Set(rows.map((r) => r[0]?.n)).size).toBe(4);
  });
});
