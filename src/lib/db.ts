import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';

export { Prisma, PrismaClient } from '../generated/prisma/client.js';
export type Db = PrismaClient;
/** A client or an interactive-transaction client: what services accept. */
export type DbClient = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

export interface DbHandle {
  db: PrismaClient;
  pool: pg.Pool;
  close: () => Promise<void>;
}

export interface DbOptions {
  url: string;
  poolMax?: number;
  connectTimeoutMs?: number;
  /** Called for errors of idle pool connections (e.g. the server went away); they must not crash the process. */
  onPoolError?: (err: Error) => void;
}

// The pool behind each client made by createDb: the hottest statements use it directly (a pg
// round trip costs about half of Prisma's), on the same connections Prisma uses.
const pools = new WeakMap<PrismaClient, pg.Pool>();

/** The pg pool behind a client made by createDb; undefined for any other client. */
export const poolOf = (db: PrismaClient): pg.Pool | undefined => pools.get(db);

const CLOSE_WAIT_MS = 5000;

/**
 * One pg pool behind the Prisma driver adapter. The connect timeout bounds how long a request
 * waits while the database is unreachable, so callers fail fast instead of hanging.
 */
export function createDb({ url, poolMax = 10, connectTimeoutMs = 2000, onPoolError }: DbOptions): DbHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Bounds a query stuck on a dead TCP connection; far above any real query here.
    query_timeout: 30_000,
    keepAlive: true,
  });
  pool.on('error', (err) => onPoolError?.(err));
  // pg's Pool.end() resolves once it has asked each connection to close, not once they have.
  // close() waits for them: a shutdown stops the embedded server next, which would otherwise
  // terminate backends that had not read their Terminate yet, and the pool would report it.
  const open = new Set<pg.PoolClient>();
  pool.on('connect', (client) => {
    open.add(client);
    client.once('end', () => open.delete(client));
  });
  const db = new PrismaClient({ adapter: new PrismaPg(pool) });
  pools.set(db, pool);
  let closed = false;
  return {
    db,
    pool,
    close: async () => {
      if (closed) return;
      closed = true;
      await db.$disconnect().catch(() => undefined);
      const ended = Promise.all([...open].map((client) => new Promise((resolve) => client.once('end', resolve))));
      // Bounded: a server that vanished without closing the sockets, or a connection still checked
      // out (pool.end() waits for its release), must not hold up the shutdown.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([pool.end().catch(() => undefined), ended]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}

/** Resolves true when `ping` (a `SELECT 1`) answers within the timeout; never hangs. */
export async function pingDatabase(ping: () => Promise<unknown>, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const answered = ping().then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answered, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
