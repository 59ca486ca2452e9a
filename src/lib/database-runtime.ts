import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase, type PostgresExit } from './embedded-postgres.js';
import type { Logger } from './logger.js';

export interface ResolvedDatabase {
  url: string;
  embedded?: EmbeddedDatabase;
}

export interface SupervisionOptions {
  /** Called once the embedded server cannot be brought back: the process should exit non-zero. */
  onLost?: (err: Error) => void;
  /** Waits before each restart attempt; one attempt per entry. */
  restartDelaysMs?: readonly number[];
}

/** DATABASE_URL when set; otherwise a persistent embedded PostgreSQL under the data directory, supervised. */
export async function resolveDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedPgPort'>, logger: Logger, supervision: SupervisionOptions = {}): Promise<ResolvedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port: config.embeddedPgPort,
    onLog: (message) => logger.debug(`postgres: ${message.trim()}`),
  });
  superviseEmbedded(embedded, logger, supervision);
  return { url: embedded.url, embedded };
}

// About 15 s of attempts: long enough for a crashed server's last processes to go away, short
// enough that a process manager soon restarts the whole service when PostgreSQL cannot come back.
const RESTART_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
// A server that stayed up this long starts over with the first delay when it dies again.
const STABLE_MS = 60_000;

const describeExit = (exit: PostgresExit) => `${exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`}${exit.reason ? `: ${exit.reason}` : ''}`;

/**
 * An embedded server that dies while the API runs is restarted with backoff; the pool reconnects
 * by itself once it is back, as it does for an external database. When every attempt fails (or it
 * keeps dying), `onLost` ends the process. Attempts stop once stop() has been called.
 */
export function superviseEmbedded(embedded: EmbeddedDatabase, logger: Logger, { onLost, restartDelaysMs = RESTART_DELAYS_MS }: SupervisionOptions = {}): void {
  let attempts = 0;
  let upSince = Date.now();
  embedded.onUnexpectedExit((exit) => {
    if (Date.now() - upSince > STABLE_MS) attempts = 0;
    logger.error(`Embedded PostgreSQL stopped unexpectedly (${describeExit(exit)}); restarting it, requests get 503 until it is back`);
    void (async () => {
      let lastError: unknown;
      while (attempts < restartDelaysMs.length) {
        await sleep(restartDelaysMs[attempts++] ?? 0);
        try {
          if (!(await embedded.restart())) return; // stopped meanwhile: the process is shutting down
          upSince = Date.now();
          logger.info(`Embedded PostgreSQL restarted (attempt ${attempts})`);
          return;
        } catch (err) {
          lastError = err;
          logger.warn(`Embedded PostgreSQL restart attempt ${attempts} of ${restartDelaysMs.length} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const err = lastError instanceof Error ? lastError : new Error('it kept stopping');
      logger.error(`Embedded PostgreSQL could not be restarted (${err.message}): exiting so that a process manager restarts minispod`);
      onLost?.(err);
    })();
  });
}

/** The URL with its password hidden, for printing. */
export const maskUrl = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:****@');
