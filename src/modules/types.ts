import type { Config } from '../lib/config.js';
import type { Db } from '../lib/db.js';
import type { Guards, RateLimitStoreFactory } from '../lib/http/index.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';

/** What every module factory receives. Modules never read process.env. */
export interface ModuleDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  guards: Guards;
  rateLimitStore?: RateLimitStoreFactory;
  metrics?: Metrics;
}
