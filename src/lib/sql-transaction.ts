import pg from 'pg';
import { poolOf, type Db } from './db.js';
import { statementName, types } from './sql.js';

/**
 * What the raw-SQL helpers (the ledger, the outbox, transition()) need of a transaction: Prisma's
 * interactive transaction client has it, and so has sqlTransaction's.
 */
export interface RawClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/**
 * `fn` with a connection of the pool behind `db`. When it throws, whatever transaction the
 * connection is in is rolled back; a connection whose rollback failed, in an unknown state, is
 * not handed to the next caller.
 */
async function onConnection<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const pool = poolOf(db);
  if (!pool) throw new Error('raw SQL on the pool needs a client made by createDb');
  const client = await pool.connect();
  let broken: unknown;
  try {
    return await fn(client);
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
    throw err;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Runs `fn` in a transaction on a connection of the pool behind `db`, straight through pg: each
 * statement costs one round trip and no query-engine work, about half of the same statement in a
 * Prisma interactive transaction. Statements are prepared once per connection and read back as
 * Prisma reads them (sql.ts).
 */
export function sqlTransaction<T>(db: Db, fn: (tx: RawClient) => Promise<T>): Promise<T> {
  return onConnection(db, async (client) => {
    const run = (text: string, values: unknown[]) => client.query({ name: statementName(text), text, values, types });
    const tx: RawClient = {
      $queryRawUnsafe: async <R>(text: string, ...values: unknown[]) => (await run(text, values)).rows as R,
      $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await run(text, values)).rowCount ?? 0,
    };
    await client.query('BEGIN');
    const result = await fn(tx);
    await client.query('COMMIT');
    return result;
  });
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
export const inlineValues = (text: string, values: readonly unknown[]) => replaceParams(text, values.length, (n) => literal(values[n - 1]));

/** `text` with each `$n` replaced by `by(n)`; a `$n` past the `count` values given is an error. */
const replaceParams = (text: string, count: number, by: (n: number) => string) =>
  text.replace(/\$(\d+)/g, (_m, n: string) => {
    if (Number(n) > count) throw new Error(`no value for $${n}`);
    return by(Number(n));
  });

/**
 * A statement for a script after a COMMIT made with `SET LOCAL synchronous_commit = off`: it
 * returns once the WAL is on disk up to a record of its own, and so up to that commit. Its own
 * transaction writes a WAL record (a transactional logical message, which gives it a transaction
 * id), so it commits with the server's synchronous_commit and waits for the flush; a transaction
 * that only took an id writes no WAL and would not wait. The answer still waits for durability,
 * but whatever was held until the COMMIT (a lock) is released before the fsync, and concurrent
 * flushes share one. A later commit that saw the first one comes later in the WAL: a crash
 * cannot keep it and lose the first.
 */
export const DURABLE_AFTER = "SELECT pg_logical_emit_message(true, 'minispod', '')";

/**
 * A statement of a script (sqlScript) run as a statement prepared on its connection: PostgreSQL
 * parses and plans it once per connection (a generic plan, after its first five runs), where the
 * same text with its values inlined would be parsed and planned on every run. It names the
 * columns it returns: a `*` changes its result when a migration adds a column while the process
 * runs, and PostgreSQL then refuses the prepared statement ("cached plan must not change result
 * type") on every connection that has it.
 */
export interface PreparedStep {
  text: string;
  values: readonly unknown[];
}

/**
 * Statements written with parameters of their own ($1..$n each) as parts of one statement: each
 * part's text renumbered after the parts before it, and all their values in that order.
 */
export function joinParams(parts: readonly PreparedStep[]): { texts: string[]; values: unknown[] } {
  const texts: string[] = [];
  const values: unknown[] = [];
  for (const part of parts) {
    const offset = values.length;
    texts.push(replaceParams(part.text, part.values.length, (n) => `$${n + offset}`));
    values.push(...part.values);
  }
  return { texts, values };
}

/** Which script statements each connection has prepared, by name. */
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();

/** An EXECUTE argument: a quoted literal (or NULL), which PostgreSQL takes as the parameter's type. */
const argument = (value: unknown) => (value === null || value === undefined ? 'NULL' : typeof value === 'string' || value instanceof Date ? literal(value) : pg.escapeLiteral(literal(value)));

/**
 * Runs `steps` as one message on a connection of the pool behind `db`: a whole transaction
 * (BEGIN ... COMMIT) in one round trip. A string step is sent as written (its values inlined:
 * inlineValues); a PreparedStep is prepared on the connection the first time it meets it (a
 * round trip of its own, once per connection) and EXECUTEd with its values. PostgreSQL skips the
 * rest of the message after a failing statement and the transaction is rolled back here. Returns
 * each step's result.
 */
export function sqlScript(db: Db, steps: readonly (string | PreparedStep)[]): Promise<pg.QueryResult[]> {
  return onConnection(db, async (client) => {
    const prepared = preparedOn.get(client) ?? preparedOn.set(client, new Set()).get(client)!;
    const texts: string[] = [];
    for (const step of steps) {
      if (typeof step === 'string') {
        texts.push(step);
        continue;
      }
      const name = `script_${statementName(step.text)}`;
      if (!prepared.has(name)) {
        await client.query(`PREPARE ${name} AS ${step.text}`);
        prepared.add(name);
      }
      texts.push(`EXECUTE ${name}(${step.values.map(argument).join(', ')})`);
    }
    const result = (await client.query({ text: texts.join('; '), types })) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(result) ? result : [result];
  });
}

/** One prepared statement on the pool behind `db`, outside any transaction. */
export async function sqlQuery<T>(db: Db, text: string, values: readonly unknown[] = []): Promise<T[]> {
  const pool = poolOf(db);
  if (!pool) throw new Error('sqlQuery needs a client made by createDb');
  return (await pool.query({ name: statementName(text), text, values: values as unknown[], types })).rows as T[];
}
