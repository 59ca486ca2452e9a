import supertest from 'supertest';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp, type BuiltApp } from '../../src/app.js';
import type { Config, Env } from '../../src/lib/config.js';
import { createDb, type Db } from '../../src/lib/db.js';
import { createJobRunner, type Clock, type JobQueue, type JobRunner, type QueueSpec } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { createMailer, type Mailer } from '../../src/modules/notifications/index.js';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { clusterOf, type InstanceCluster } from '../../src/modules/instances/index.js';
import { declareQueues, QUEUE_INFO, type QueueDeps } from '../../src/queues.js';
import { testConfig } from './app.js';
import { createDatabase, dropDatabase } from './test-database.js';

export interface JobsContext {
  app: BuiltApp;
  db: Db;
  config: Readonly<Config>;
  request: ReturnType<typeof supertest>;
  runner: JobRunner;
  mailer: Mailer;
  databaseUrl: string;
  /** Another runner on the same database, as a second API process would have. */
  startRunner: (options?: StartRunnerOptions) => Promise<JobRunner>;
  close: () => Promise<void>;
}

export interface StartRunnerOptions {
  work?: boolean;
  graceMs?: number;
  /** The runner's busy(): its jobs yield while it says true. */
  busy?: () => boolean;
  /** Queues of this runner only, instead of the context's. */
  only?: (deps: QueueDeps, jobs: JobQueue) => QueueSpec[];
}

export interface JobsContextOptions {
  env?: Partial<Record<keyof Env, string>>;
  /** The queues; the project's own by default. */
  queues?: (deps: QueueDeps, jobs: JobQueue) => QueueSpec[];
  clock?: Clock;
  /** The cluster instances run on (e.g. a Kubernetes API double the test started); none by default. */
  cluster?: InstanceCluster;
}

/**
 * The app with a real pg-boss runner, on a database of its own (a copy of the run's migrated
 * template): the outbox dispatches every event of its database, so files that run jobs must not
 * share one.
 */
export async function createJobsContext(options: JobsContextOptions = {}): Promise<JobsContext> {
  const admin = inject('adminDatabaseUrl');
  const databaseUrl = await createDatabase(admin, 'minispod_jobs', inject('templateDatabaseUrl'));
  const config = testConfig({ DATABASE_URL: databaseUrl, JOBS_POLL_INTERVAL_SECONDS: '0.5', ...options.env });
  const handle = createDb({ url: databaseUrl, poolMax: 5 });
  const logger = createLogger(config);
  const mailer = createMailer({ config, logger });
  const queues = options.queues ?? declareQueues;
  const runners: JobRunner[] = [];
  const startRunner = async ({ work = true, graceMs = 2000, busy, only }: StartRunnerOptions = {}) => {
    const runner = createJobRunner({
      url: databaseUrl,
      schema: config.jobs.schema,
      queues: (jobs) => (only ?? queues)({ db: handle.db, config, logger, mailer, cluster: options.cluster }, jobs),
      logger,
      clock: options.clock,
      timezone: config.jobs.timezone,
      pollIntervalSeconds: config.jobs.pollIntervalSeconds,
      graceMs,
      work,
      busy,
    });
    await runner.start();
    runners.push(runner);
    return runner;
  };
  const runner = await startRunner();
  const app = buildApp({ db: handle.db, config, logger, jobs: runner, queues: options.queues ? runnerInfo(runner) : QUEUE_INFO, cluster: options.cluster });
  return {
    app,
    db: handle.db,
    config,
    request: supertest(app),
    runner,
    mailer,
    databaseUrl,
    startRunner,
    close: async () => {
      for (const r of runners) await r.stop().catch(() => undefined);
      mailer.close();
      await handle.close();
      await dropDatabase(admin, databaseUrl).catch(() => undefined);
    },
  };
}

const runnerInfo = (runner: JobRunner) => runner.queues.map((q) => ({ name: q.name, deadLetter: q.deadLetter }));

/**
 * For a file that runs the instance jobs: a jobs context on a simulated cluster (the Kubernetes
 * API double, pods ready 20 ms after they start), made before the file's tests and closed after
 * them; `ready` receives both.
 */
export function useKubeJobsContext(clock: Clock, ready: (made: { ctx: JobsContext; kube: KubeDouble }) => void): void {
  let kube: KubeDouble | undefined;
  let ctx: JobsContext | undefined;
  beforeAll(async () => {
    kube = await startKubeDouble({ readyDelayMs: 20 });
    ctx = await createJobsContext({ env: { LOG_LEVEL: 'silent' }, clock, cluster: clusterOf('simulated', kube.kubeConfig) });
    ready({ ctx, kube });
  });
  afterAll(async () => {
    await ctx?.close();
    await kube?.close();
  });
}

/** Runs the handler of queue `name` once, as `runner` would (its first attempt, unless `lastAttempt`). */
export function runHandler(runner: JobRunner, config: Readonly<Config>, clock: Clock, name: string, data: object = {}, lastAttempt = false): Promise<unknown> {
  const spec = runner.queues.find((q) => q.name === name);
  if (!spec) throw new Error(`no queue ${name}`);
  return spec.handler(data, { clock, logger: createLogger(config), jobId: `test-${name}`, retryCount: 0, lastAttempt });
}
