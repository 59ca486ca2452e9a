import { createHash } from 'node:crypto';
import pg from 'pg';
import { createTurnGroups } from './batch.js';
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
   * false: plan with this call's values instead of a cached generic plan, for a statement whose
   * best plan depends on the values (see prepareSearch).
   */
  prepare?: boolean;
  /**
   * true for a read whose rows do not depend on who asks. The calls of one turn of the event loop
   * (the requests read from the sockets together) with the same text run as one statement right
   * after that turn, so after every caller called: coalescing, not caching. Calls with the same
   * values share its rows, which are read-only; calls with other values get rows of their own
   * from the same round trip (batchOf), when the text casts every parameter and is prepared.
   */
  share?: boolean;
}

const INT8 = 20;
const TIMESTAMP = 1114;
// Columns are `timestamp(3)` holding UTC wall time; pg would read them in the process's zone.
const parseUtcTimestamp = (value: string) => new Date(`${value.replace(' ', 'T')}Z`);

/** pg's type parsers as Prisma types rows: int8 as bigint, `timestamp` columns (UTC wall time) as Date. */
export const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== 'binary' && oid === INT8) return (value: string) => BigInt(value);
    if (format !== 'binary' && oid === TIMESTAMP) return parseUtcTimestamp;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

// Each distinct text is prepared once per connection under a name derived from it: parsing and
// planning are paid once, and the set of texts is bounded (filters and sort orders are closed lists).
const names = new Map<string, string>();
export function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `q_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

// Statement values are strings, numbers, booleans, null or arrays of those (bigints as text).
const keyOf = (values: readonly unknown[]) => JSON.stringify(values, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

/** A value as a batch carries it (text, cast back by the statement); undefined for arrays and objects. */
function asText(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

/**
 * The statement that runs `text` once for each of several value sets, in one round trip. The sets
 * arrive as one text array per parameter; `text` runs as a LATERAL subquery per set, each of its
 * `$k::type` reading the set's k-th value through the same cast, and every row says which set it
 * belongs to (`__batch`, from 1). Within a set the rows keep the subquery's order: a subquery that
 * reads the set's values is joined by a nested loop, which emits each set's rows as they come.
 * Undefined when the text has no parameters or one without a cast, or a value is not a scalar.
 */
export function batchOf(text: string, sets: readonly (readonly unknown[])[]): { text: string; values: (string | null)[][] } | undefined {
  const n = sets[0]?.length ?? 0;
  if (n === 0 || sets.some((s) => s.length !== n)) return undefined;
  let uncast = false;
  const body = text.replace(/\$(\d+)(?!\d)(::)?/g, (_m, k: string, cast: string | undefined) => {
    if (!cast) uncast = true;
    return `b.p${k}${cast ?? ''}`;
  });
  if (uncast) return undefined;
  const values: (string | null)[][] = Array.from({ length: n }, () => []);
  for (const set of sets) {
    for (let k = 0; k < n; k++) {
      const v = asText(set[k]);
      if (v === undefined) return undefined;
      values[k]?.push(v);
    }
  }
  const params = values.map((_, k) => `$${k + 1}::text[]`).join(', ');
  const columns = values.map((_, k) => `p${k + 1}`).join(', ');
  return { text: `SELECT b.i::int AS "__batch", r.* FROM unnest(${params}) WITH ORDINALITY AS b(${columns}, i) CROSS JOIN LATERAL (${body}) r`, values };
}

/** Value sets one batched statement carries at most. */
const MAX_BATCH = 64;

export function sqlFor(db: Db): Sql {
  const pool = poolOf(db);
  const query = pool
    ? async <T>(text: string, values: readonly unknown[], prepare: boolean) =>
        (await pool.query({ name: prepare ? statementName(text) : undefined, text, values: values as unknown[], types })).rows as T[]
    : <T>(text: string, values: readonly unknown[]) => db.$queryRawUnsafe<T[]>(text, ...values);

  /** Distinct value sets of one prepared statement in one round trip; each set its own rows. */
  const runBatch = (text: string, sets: (readonly unknown[])[]): Promise<unknown[]>[] => {
    const batch = batchOf(text, sets);
    if (!batch) return sets.map((values) => query(text, values, true));
    const bySet = query<{ __batch: number }>(batch.text, batch.values, true).then(
      (rows) => {
        const out: unknown[][] = sets.map(() => []);
        for (const { __batch, ...row } of rows) out[__batch - 1]?.push(row);
        return out;
      },
      () => undefined,
    );
    // One set's value may fail its cast: then each set runs alone, so the error reaches its callers only.
    return sets.map((values, i) => bySet.then((out) => out?.[i] ?? query(text, values, true)));
  };

  // Shared reads of one turn, grouped by statement (and whether it is prepared): identical value
  // sets share one result; distinct ones of a prepared statement share one round trip.
  const shared = createTurnGroups<readonly unknown[], unknown[]>((key, all) => {
    const prepare = key.startsWith('p');
    const text = key.slice(1);
    const index = new Map<string, number>();
    const sets: (readonly unknown[])[] = [];
    const slots = all.map((values) => {
      const k = keyOf(values);
      let i = index.get(k);
      if (i === undefined) index.set(k, (i = sets.push(values) - 1));
      return i;
    });
    let results: Promise<unknown[]>[] = [];
    if (!prepare || sets.length === 1) results = sets.map((values) => query(text, values, prepare));
    else for (let i = 0; i < sets.length; i += MAX_BATCH) results.push(...runBatch(text, sets.slice(i, i + MAX_BATCH)));
    return slots.map((i) => results[i] as Promise<unknown[]>);
  });

  return async <T>(text: string, values: readonly unknown[] = [], { prepare = true, share = false }: SqlOptions = {}) =>
    (share ? shared(`${prepare ? 'p' : 'u'}${text}`, values) : query<T>(text, values, prepare)) as Promise<T[]>;
}

/**
 * `prepare` for a list that may search. The cached generic plan of a search (pageWithTotal keeps
 * its matches in a subquery of their own) reads the trigram indexes, and saves a planning of
 * about 0.4 ms per call. That plan is right for a pattern with three letters or digits in a row,
 * which always gives pg_trgm trigrams to look up. A shorter one may give it none (the index would
 * then return every row to recheck), so it is planned with its value, and the planner chooses
 * between index and scan.
 */
export const prepareSearch = (search: string | undefined) => search === undefined || /[\p{L}\p{N}]{3}/u.test(search);

/** Text with LIKE's wildcards (and its escape character) escaped, for a match of the text itself. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** An ILIKE pattern that finds `text` anywhere, its wildcards escaped so that "%" searches for "%". */
export const containsPattern = (text: string) => `%${escapeLike(text)}%`;

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
  /**
   * A query over the page, which it reads as the CTE `page`: it adds what is computed for the
   * page's rows only, after the LIMIT (counts from another table, say), and must keep the order
   * and the `__total` column.
   */
  outer?: string;
  /**
   * The list's search text, when `where` matches it. Without one the total is an uncorrelated
   * subquery, while the page still stops after `limit` rows of its sort index: right for filters
   * that match many rows. A search counts the rows the page has to find and sort anyway
   * (`count(*) OVER ()`), since its few matches come from an index lookup it need not repeat,
   * and keeps the cached plan only when prepareSearch says it fits.
   */
  search?: string;
  share?: boolean;
}

/**
 * A page of rows and the number of all rows matching the same filter, in one round trip: the
 * count is an uncorrelated subquery or, for a search, a window count. Only an empty page
 * (past the end, or no match) takes a second statement for the total.
 */
export async function pageWithTotal<T>(sql: Sql, q: PageQuery): Promise<{ rows: T[]; total: number }> {
  const n = q.values.length;
  const count = `SELECT count(*)::int AS total FROM ${q.from} ${q.where}`;
  const search = q.search || undefined;
  const totalExpr = search ? 'count(*) OVER ()::int' : `(${count})`;
  const options = { prepare: prepareSearch(search), share: q.share };
  // A search's matches come from a subquery kept whole by OFFSET 0, so it is planned for all of its
  // rows, as the window total reads them. Flattened, the planner costed count(*) OVER () as if the
  // LIMIT stopped it early, and chose to walk the sort index filtering every row whenever it did
  // not know the pattern: in the generic plan of a prepared search (17 ms against 1.8 ms for 10,000
  // users) and for each pattern of a batch (batchOf), and even for some known ones (43 ms against
  // 0.5 ms for 20,000). The subquery's unused columns are dropped by the planner.
  // tests/db/search-plans.test.ts checks the plans PostgreSQL really runs.
  const source = search ? `(SELECT * FROM ${q.from} ${q.where} OFFSET 0) AS ${q.from}` : `${q.from} ${q.where}`;
  const inner = `SELECT ${q.columns}, ${totalExpr} AS "__total" FROM ${source} ORDER BY ${q.orderBy} LIMIT $${n + 1}::int OFFSET $${n + 2}::int`;
  const page = await sql<T & { __total: number }>(
    q.outer ? `WITH page AS MATERIALIZED (${inner}) ${q.outer}` : inner,
    [...q.values, q.limit, q.offset],
    options,
  );
  if (page.length === 0) {
    const [row] = await sql<{ total: number }>(count, q.values, options);
    return { rows: [], total: row?.total ?? 0 };
  }
  // The rows keep their __total column: not copied without it, since every list maps its rows
  // through an allow-list, which drops it.
  return { rows: page, total: (page[0] as { __total: number }).__total };
}
