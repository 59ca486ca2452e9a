import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { joinParams, sqlScript, type PreparedStep } from '../../src/lib/sql-transaction.js';

// sqlScript's prepared steps: prepared once per connection, EXECUTEd with their values as
// literals of the parameters' types, and still there for the connection's next script after a
// script that failed and was rolled back.
describe('sqlScript prepared steps', () => {
  const table = `script_probe_${randomBytes(4).toString('hex')}`;
  let handle: DbHandle;
  beforeAll(async () => {
    // One connection: every script below meets the statements the ones before it prepared.
    handle = createDb({ url: inject('databaseUrl'), poolMax: 1 });
    await sqlScript(handle.db, [`CREATE TABLE ${table} (id text PRIMARY KEY, n int NOT NULL CHECK (n >= 0), note text, at timestamp(3), data jsonb, flag boolean)`]);
  });
  afterAll(async () => {
    await sqlScript(handle.db, [`DROP TABLE IF EXISTS ${table}`]);
    await handle.close();
  });

  const insert = (values: unknown[]): PreparedStep => {
    const { texts, values: all } = joinParams([
      { text: `ins AS (INSERT INTO ${table} (id, n, note, at, data, flag) VALUES ($1, $2::int, $3, $4::timestamp, $5::jsonb, $6::boolean) RETURNING id, n, note, at, data, flag)`, values: values.slice(0, 6) },
      { text: `extra AS (SELECT $1::int + 1 AS next, $2::text AS echo)`, values: values.slice(6) },
    ]);
    return { text: `WITH ${texts.join(', ')} SELECT ins.*, extra.* FROM ins, extra`, values: all };
  };
  const prepared = `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'script\\_%'`;

  it('runs a prepared step with its values, numbered across its parts', async () => {
    const results = await sqlScript(handle.db, ['BEGIN', insert(['a', 41, "it's \\ \"quoted\"", new Date('2026-01-02T03:04:05.678Z'), '{"k":[1,"two"]}', true, 41, null]), 'COMMIT', prepared]);
    expect(results).toHaveLength(4);
    expect(results[1]?.rows).toEqual([{ id: 'a', n: 41, note: "it's \\ \"quoted\"", at: new Date('2026-01-02T03:04:05.678Z'), data: { k: [1, 'two'] }, flag: true, next: 42, echo: null }]);
    expect(results[3]?.rows).toEqual([{ n: 1 }]);
  });

  it('prepares a statement once per connection, and keeps it after a failed script', async () => {
    // The CHECK refuses n = -1: the script stops there and is rolled back, nothing of it kept.
    await expect(sqlScript(handle.db, ['BEGIN', insert(['b', 1, null, null, null, null, 0, 'x']), insert(['c', -1, null, null, null, null, 0, 'x']), 'COMMIT'])).rejects.toThrow(/check constraint/);
    const results = await sqlScript(handle.db, ['BEGIN', insert(['d', 2, null, null, null, false, 0, 'x']), 'COMMIT', prepared, `SELECT array_agg(id ORDER BY id) AS ids FROM ${table}`]);
    expect(results[1]?.rows[0]).toMatchObject({ id: 'd', n: 2, flag: false, next: 1, echo: 'x' });
    expect(results[3]?.rows).toEqual([{ n: 1 }]);
    expect(results[4]?.rows).toEqual([{ ids: ['a', 'd'] }]);
  });

  it('keeps working when a migration adds a column to the table it writes', async () => {
    await sqlScript(handle.db, ['BEGIN', insert(['e', 3, null, null, null, null, 0, 'x']), 'COMMIT']);
    await sqlScript(handle.db, [`ALTER TABLE ${table} ADD COLUMN added int`]);
    const results = await sqlScript(handle.db, ['BEGIN', insert(['f', 4, null, null, null, null, 0, 'x']), 'COMMIT']);
    expect(results[1]?.rows).toEqual([{ id: 'f', n: 4, note: null, at: null, data: null, flag: null, next: 1, echo: 'x' }]);
  });

  it('refuses a part that names a value it was not given', () => {
    expect(() => joinParams([{ text: 'SELECT $1, $2', values: [1] }])).toThrow(/no value for \$2/);
  });
});
