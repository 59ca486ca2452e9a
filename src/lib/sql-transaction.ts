import pg from 'pg';
import { poolOf, type Db } from './db.js';
import { statementName, types } from './sql.js';

/**
 * What the raw-SQL helpers (the ledger, the outbox) need of a transaction: Prisma's interactive
 * transaction client has it, and so has a SqlTransaction.
 */
export interface RawClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/** A transaction on one connection of the pg pool behind Prisma, for a measured hot path. */
export interface SqlTransaction extends RawClient {
  query<T>(text: string, values?: readonly unknown[]): Promise<T[]>;
}

interface Options {
  /**
   * A last statement sent in one message with the COMMIT, so the COMMIT follows it on the server
   * without waiting for this process: what the statement locks (an advisory lock, say) is held
   * only as long as the statement and the commit take. It travels as plain text (the simple
   * protocol is what allows two statements in one message), so every value in it must be
   * escaped with pg.escapeLiteral. If it fails, nothing is committed.
   */
  last?: string;
}

/**
 * Runs `fn` in a transaction on a connection of the pool behind `db`, straight through pg: each
 * statement costs one round trip and no query-engine work, about half of the same statement in a
 * Prisma interactive transaction. Statements are prepared once per connection and read back as
 * Prisma reads them (sql.ts).
 */
export async function sqlTransaction<T>(db: Db, fn: (tx: SqlTransaction) => Promise<T>, options: Options = {}): Promise<T> {
  const pool = poolOf(db);
  if (!pool) throw new Error('sqlTransaction needs a client made by createDb');
  const client = await pool.connect();
  const run = <R extends pg.QueryResultRow>(text: string, values: readonly unknown[] = []) =>
    client.query<R>({ name: statementName(text), text, values: values as unknown[], types });
  const tx: SqlTransaction = {
    query: async <R>(text: string, values?: readonly unknown[]) => (await run(text, values)).rows as R[],
    $queryRawUnsafe: async <R>(text: string, ...values: unknown[]) => (await run(text, values)).rows as R,
    $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await run(text, values)).rowCount ?? 0,
  };
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await fn(tx);
    await client.query(options.last ? `${options.last}; COMMIT` : 'COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
    throw err;
  } finally {
    // A connection whose state is unknown is not handed to the next caller.
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/** `value` as an SQL literal: strings (and dates, as ISO text) escaped by pg, numbers and booleans as written. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new Error(`no SQL literal for ${typeof value}`);
}

/**
 * `text` with each `$n` replaced by the literal of values[n - 1], for a script (sqlScript): the
 * simple protocol that runs several statements in one message takes no parameters. The text's
 * own characters must hold no `$` but its parameters.
 */
export const inlineValues = (text: string, values: readonly unknown[]) =>
  text.replace(/\$(\d+)/g, (_m, n: string) => {
    if (Number(n) > values.length) throw new Error(`no value for $${n}`);
    return literal(values[Number(n) - 1]);
  });

/**
 * Runs `script`, statements separated by semicolons with their values inlined (inlineValues),
 * as one message on a connection of the pool behind `db`: a whole transaction (BEGIN ... COMMIT)
 * in one round trip. PostgreSQL skips the rest of the message after a failing statement and the
 * transaction is rolled back here. Returns each statement's result.
 */
export async function sqlScript(db: Db, script: string): Promise<pg.QueryResult[]> {
  const pool = poolOf(db);
  if (!pool) throw new Error('sqlScript needs a client made by createDb');
  const client = await pool.connect();
  let broken: unknown;
  try {
    const result = (await client.query({ text: script, types })) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(result) ? result : [result];
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
    throw err;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/** One prepared statement on the pool behind `db`, outside any transaction. */
export async function sqlQuery<T>(db: Db, text: string, values: readonly unknown[] = []): Promise<T[]> {
  const pool = poolOf(db);
  if (!pool) throw new Error('sqlQuery needs a client made by createDb');
  return (await pool.query({ name: statementName(text), text, values: values as unknown[], types })).rows as T[];
}
