import supertest from 'supertest';
import { inject } from 'vitest';
import { buildApp, type BuiltApp } from '../../src/app.js';
import { loadConfig, type Config, type Env } from '../../src/lib/config.js';
import { createDb, type Db } from '../../src/lib/db.js';
import type { RateLimitStoreFactory } from '../../src/lib/http/index.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import type { InstanceCluster } from '../../src/modules/instances/index.js';
import type winston from 'winston';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

export interface TestContext {
  app: BuiltApp;
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  request: ReturnType<typeof supertest>;
  close: () => Promise<void>;
}

export interface TestContextOptions {
  env?: Partial<Record<keyof Env, string>>;
  transports?: winston.transport[];
  rateLimitStore?: RateLimitStoreFactory;
  /** The cluster instances run on (e.g. a Kubernetes API double the test started); none by default. */
  cluster?: InstanceCluster;
}

/** Test configuration: fast bcrypt, rate limits off unless a test turns them on, no log files. */
export function testConfig(env: Partial<Record<keyof Env, string>> = {}): Readonly<Config> {
  return loadConfig(
    {},
    {
      NODE_ENV: 'test',
      DATABASE_URL: inject('databaseUrl'),
      JWT_SECRET: TEST_JWT_SECRET,
      BCRYPT_COST: '4',
      RATE_LIMIT_MAX: '0',
      AUTH_RATE_LIMIT_MAX: '0',
      AUTH_RATE_LIMIT_ACCOUNT_MAX: '0',
      AUTH_RATE_LIMIT_ACCOUNT_CEILING: '0',
      // Fleet statistics computed for every request, so a test reads what it just wrote.
      WORKER_STATS_MAX_AGE_MS: '0',
      LOG_FILES: 'false',
      DATA_DIR: '.data/test',
      ...env,
    },
  );
}

/** The real app on the run's real database. Call `close()` in afterAll. */
export function createTestContext(options: TestContextOptions = {}): TestContext {
  const config = testConfig(options.env);
  const handle = createDb({ url: config.databaseUrl as string, poolMax: 5 });
  const logger = createLogger(config, options.transports);
  const app = buildApp({ db: handle.db, config, logger, rateLimitStore: options.rateLimitStore, cluster: options.cluster });
  return { app, db: handle.db, config, logger, request: supertest(app), close: handle.close };
}
