import path from 'node:path';
import type { Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import type { Logger } from './logger.js';

export interface ResolvedDatabase {
  url: string;
  embedded?: EmbeddedDatabase;
}

/** DATABASE_URL when set; otherwise a persistent embedded PostgreSQL under the data directory. */
export async function resolveDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedPgPort'>, logger: Logger): Promise<ResolvedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port: config.embeddedPgPort,
    onLog: (message) => logger.debug(`postgres: ${message.trim()}`),
  });
  return { url: embedded.url, embedded };
}

/** The URL with its password hidden, for printing. */
export const maskUrl = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:****@');
