import { createHash } from 'node:crypto';
import pg from 'pg';
import { poolOf, type Db } from './db.js';

/**
 * Parameterised SQL for the hottest reads and writes, straight on the pg pool behind Prisma: a
 * round trip there costs about half of the same statement through Prisma's query engine. Rows
 * come back typed as Prisma types them (int8 as bigint, timestamps stored in UTC as Date), so
 * mappers written for Prisma rows work unchanged. Without a pool (a client not made by
 * createDb) the same statement runs through Prisma.
 */
export type Sql = <T>(text: string, values?: readonly unknown[], options?: SqlOptions) => Promise<T[]>;

export interface SqlOptions {
  /**
   * false: plan with this call's values instead of a cached generic plan. For a search
   * (`ILIKE $1`) the generic plan cannot see how selective the pattern is and walks the sort
   * index row by row; planned with the pattern, the trigram index answers in a fraction of that.
   */
  prepare?: boolean;
}

const INT8 = 20;
const TIMESTAMP = 1114;
// Columns are `timestamp(3)` holding UTC wall time; pg would read them in the process's zone.
const parseUtcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);

const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== 'binary' && oid === INT8) return (value: string) => BigInt(value);
    if (format !== 'binary' && oid === TIMESTAMP) return parseUtcTimestamp;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

// Each distinct text is prepared once per connection under a name derived from it: parsing and
// planning are paid once, and the set of texts is bounded (filters and sort orders are closed lists).
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `q_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

export function sqlFor(db: Db): Sql {
  const pool = poolOf(db);
  if (!pool) return <T>(text: string, values: readonly unknown[] = []) => db.$queryRawUnsafe<T[]>(text, ...values);
  return async <T>(text: string, values: readonly unknown[] = [], { prepare = true }: SqlOptions = {}) => {
    const result = await pool.query({ name: prepare ? statementName(text) : undefined, text, values: values as unknown[], types });
    return result.rows as T[];
  };
}

/** An ILIKE pattern that finds `text` anywhere, its wildcards escaped so that "%" searches for "%". */
export const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export interface PageQuery {
  /** Table to read from. */
  from: string;
  /** `WHERE …` or '' */
  where: string;
  /** Parameters of `where`, $1 onwards. */
  values: readonly unknown[];
  /** Columns of the page. */
  columns: string;
  /** `ORDER BY` list. */
  orderBy: string;
  limit: number;
  offset: number;
  prepare?: boolean;
}

/**
 * A page of rows and the number of all rows matching the same filter, in one round trip: the
 * count is an uncorrelated subquery, computed once, while the page still stops after `limit` rows
 * of its index. Only an empty page (past the end, or no match) takes a second statement for the total.
 */
export async function pageWithTotal<T>(sql: Sql, q: PageQuery): Promise<{ rows: T[]; total: number }> {
  const n = q.values.length;
  const count = `SELECT count(*)::int AS total FROM ${q.from} ${q.where}`;
  const page = await sql<T & { __total: number }>(
    `SELECT ${q.columns}, (${count}) AS "__total" FROM ${q.from} ${q.where} ORDER BY ${q.orderBy} LIMIT $${n + 1}::int OFFSET $${n + 2}::int`,
    [...q.values, q.limit, q.offset],
    { prepare: q.prepare },
  );
  if (page.length === 0) {
    const [row] = await sql<{ total: number }>(count, q.values, { prepare: q.prepare });
    return { rows: [], total: row?.total ?? 0 };
  }
  const total = (page[0] as { __total: number }).__total;
  return { rows: page.map(({ __total: _, ...row }) => row as unknown as T), total };
}
