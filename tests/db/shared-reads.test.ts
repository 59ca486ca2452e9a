import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createCoalescer, createSharedRuns } from '../../src/lib/batch.js';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { batchOf, sqlFor, type Sql } from '../../src/lib/sql.js';

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

describe('createCoalescer', () => {
  // A run that ends when the test says so, numbered in the order runs started.
  const controlled = () => {
    const ends: ((value: number) => void)[] = [];
    const run = () => new Promise<number>((resolve) => ends.push(resolve));
    return { run, ends, started: () => ends.length };
  };

  it('gives the callers of one turn a single run, started after all of them', async () => {
    const calls: string[] = [];
    const coalesced = createCoalescer(async () => {
      calls.push('run');
      return calls.length;
    });
    const first = coalesced();
    calls.push('call 1');
    const second = coalesced();
    calls.push('call 2');
    expect(await Promise.all([first, second])).toEqual([3, 3]);
    expect(calls).toEqual(['call 1', 'call 2', 'run']);
  });

  it('never hands a caller a run that started before it asked, and queues at most one run', async () => {
    const c = controlled();
    const coalesced = createCoalescer(c.run);
    const first = coalesced();
    await nextTurn();
    expect(c.started()).toBe(1);
    const later = [coalesced(), coalesced()];
    await nextTurn();
    await nextTurn();
    expect(c.started()).toBe(1); // one slot, taken: the later callers wait for the next run
    c.ends[0]?.(1);
    expect(await first).toBe(1);
    await nextTurn();
    expect(c.started()).toBe(2);
    c.ends[1]?.(2);
    expect(await Promise.all(later)).toEqual([2, 2]);
  });

  it('overlaps up to maxInFlight runs, and the callers beyond share the next one', async () => {
    const c = controlled();
    const coalesced = createCoalescer(c.run, { maxInFlight: 2 });
    const a = coalesced();
    await nextTurn();
    const b = coalesced();
    await nextTurn();
    expect(c.started()).toBe(2);
    const waiting = [coalesced(), coalesced()];
    await nextTurn();
    expect(c.started()).toBe(2);
    c.ends[1]?.(20);
    expect(await b).toBe(20);
    await nextTurn();
    expect(c.started()).toBe(3);
    c.ends[2]?.(30);
    c.ends[0]?.(10);
    expect(await a).toBe(10);
    expect(await Promise.all(waiting)).toEqual([30, 30]);
  });

  it('hands a failure to the callers of that run only', async () => {
    let fail = true;
    const coalesced = createCoalescer(async () => {
      if (fail) throw new Error('boom');
      return 'ok';
    });
    const failing = [coalesced(), coalesced()];
    for (const p of failing) await expect(p).rejects.toThrow('boom');
    fail = false;
    expect(await coalesced()).toBe('ok');
    const sync = createCoalescer<string>(() => {
      throw new Error('sync');
    });
    await expect(sync()).rejects.toThrow('sync');
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

  it('runs reads without share as statements of their own', async () => {
    const rows = await Promise.all([probe(false, 1), probe(false, 1)]);
    expect(rows.map((r) => r[0]?.tag)).toEqual([1, 1]);
    expect(new Set(rows.map((r) => r[0]?.n)).size).toBe(2);
  });

  // The transaction id tells statements apart: the sets of one batched statement share its transaction.
  const tx = (tag: unknown, options: { share?: boolean; prepare?: boolean; text?: string } = {}) =>
    sql<{ tx: string; tag: number }>(options.text ?? 'SELECT pg_current_xact_id()::text AS tx, $1::int AS tag', [tag], { share: true, ...options });

  it('runs reads of one turn with other values as one statement, each caller getting its own rows', async () => {
    const rows = await Promise.all([tx(1), tx(2), tx(3), tx(2)]);
    expect(rows.map((r) => r.map((row) => row.tag))).toEqual([[1], [2], [3], [2]]);
    expect(new Set(rows.map((r) => r[0]?.tx)).size).toBe(1);
    // The batch's marker column stays inside: callers see the statement's own columns only.
    expect(Object.keys(rows[0]?.[0] ?? {}).sort()).toEqual(['tag', 'tx']);
    const [later] = await tx(1);
    expect(later?.tx).not.toBe(rows[0]?.[0]?.tx);
  });

  it("keeps each set's rows in the statement's order", async () => {
    const series = (n: number) => sql<{ g: number }>('SELECT g FROM generate_series(1, $1::int) AS g ORDER BY g DESC', [n], { share: true });
    const [three, none, two] = await Promise.all([series(3), series(0), series(2)]);
    expect(three?.map((r) => r.g)).toEqual([3, 2, 1]);
    expect(none).toEqual([]);
    expect(two?.map((r) => r.g)).toEqual([2, 1]);
  });

  it('hands a value that fails its cast to its own callers only', async () => {
    const [ok, bad, alsoOk] = await Promise.allSettled([tx(1), tx('not a number'), tx(3)]);
    expect(ok.status === 'fulfilled' && ok.value[0]?.tag).toBe(1);
    expect(bad.status).toBe('rejected');
    expect(alsoOk.status === 'fulfilled' && alsoOk.value[0]?.tag).toBe(3);
  });

  it('runs statements apart when a parameter has no cast or the plan is made per call', async () => {
    const uncast = await Promise.all([1, 2].map((n) => tx(String(n), { text: 'SELECT pg_current_xact_id()::text AS tx, length($1) AS tag' })));
    expect(new Set(uncast.map((r) => r[0]?.tx)).size).toBe(2);
    const unprepared = await Promise.all([tx(1, { prepare: false }), tx(2, { prepare: false })]);
    expect(unprepared.map((r) => r[0]?.tag)).toEqual([1, 2]);
    expect(new Set(unprepared.map((r) => r[0]?.tx)).size).toBe(2);
  });
});

describe('batchOf', () => {
  it('reads each parameter from its array through its own cast, telling $1 from $10', () => {
    const sets = [Array.from({ length: 10 }, (_, k) => k), Array.from({ length: 10 }, (_, k) => k * 2)];
    const text = `SELECT $1::int + $10::int AS a ${Array.from({ length: 8 }, (_, k) => `, $${k + 2}::int`).join('')}`;
    const batch = batchOf(text, sets);
    expect(batch?.text).toContain('b.p1::int + b.p10::int');
    expect(batch?.values[9]).toEqual(['9', '18']);
  });

  it('carries scalars as text and refuses what it cannot carry', () => {
    expect(batchOf('SELECT $1::timestamptz, $2::boolean, $3::text', [[new Date(0), true, null]])?.values).toEqual([['1970-01-01T00:00:00.000Z'], ['true'], [null]]);
    expect(batchOf('SELECT $1', [[1]])).toBeUndefined();
    expect(batchOf('SELECT $1::int[]', [[[1, 2]]])).toBeUndefined();
    expect(batchOf('SELECT 1', [[]])).toBeUndefined();
  });
});
