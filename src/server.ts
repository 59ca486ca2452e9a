import type { Server } from 'node:http';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './lib/config.js';
import { maskUrl, resolveDatabase } from './lib/database-runtime.js';
import { createDb, type DbHandle } from './lib/db.js';
import { EmbeddedPostgresError, PortInUseError } from './lib/embedded-postgres.js';
import { countRequests, createHttpServer, reportError } from './lib/http/index.js';
import { createLogger, type Logger } from './lib/logger.js';
import { migrateDeploy } from './lib/migrate.js';
import { createJobRunner, noJobs } from './lib/jobs.js';
import { lowerHelperThreadPriority } from './lib/thread-priority.js';
import { createMailer } from './modules/notifications/index.js';
import { connectCluster, startSimulatedAgents, startSimulatedCluster, type InstanceCluster } from './modules/instances/index.js';
import { startBackgroundJobs } from './modules/workers/index.js';
import { declareQueues } from './queues.js';
import { SEED_ACCOUNTS, seed } from '../prisma/seed.js';

/** Requests in flight from which the process counts as busy and background jobs wait their turn (jobs.ts). */
const BUSY_REQUESTS = 8;

interface Running {
  stop: (reason: string) => Promise<void>;
}

type Stoppable = { name: string; stop: () => Promise<void> | void };

async function listen(app: ReturnType<typeof buildApp>, config: Config): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createHttpServer(app);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(config.port, config.host);
  });
}

/** Starts database, migrations, seed, HTTP server and background loops. Returns a stopper. */
export async function start(config: Config, logger: Logger, onDatabaseLost?: (err: Error) => void): Promise<Running> {
  const t0 = Date.now();
  const stoppables: Stoppable[] = [];
  const stopAll = async () => {
    for (const s of stoppables.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        reportError(logger, err, { during: `stopping ${s.name}` });
      }
    }
    stoppables.length = 0;
  };

  try {
    const database = await resolveDatabase(config, logger, { onLost: onDatabaseLost });
    if (database.embedded) stoppables.push({ name: 'embedded PostgreSQL', stop: database.embedded.stop });
    const applied = await migrateDeploy(database.url);
    if (applied.length > 0) logger.info(`Applied ${applied.length} migration(s): ${applied.join(', ')}`);

    const handle: DbHandle = createDb({
      url: database.url,
      poolMax: config.databasePoolMax,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      onPoolError: (err) => logger.warn(`Database connection error: ${err.message}`),
    });
    stoppables.push({ name: 'database pool', stop: handle.close });

    let seeded = false;
    if (config.seedOnFirstRun && (await handle.db.user.count()) === 0) {
      const result = await seed(handle.db, { bcryptCost: config.bcryptCost, billing: { timezone: config.billing.timezone, appsDomain: config.appsDomain, currency: config.currency } });
      seeded = true;
      logger.info(`Seeded ${result.users} users, ${result.services} services, ${result.workers} worker nodes, ${result.wallets} funded wallets, ${result.subscriptions} subscription`);
    }

    const mailer = createMailer({ config, logger });
    stoppables.push({ name: 'mailer', stop: mailer.close });
    // The cluster comes before the job runner, whose instance jobs call it.
    let cluster: InstanceCluster;
    if (config.kubernetes.mode === 'simulated') {
      const simulated = await startSimulatedCluster(handle.db, config);
      stoppables.push({ name: 'simulated cluster', stop: simulated.stop });
      cluster = simulated;
    } else cluster = await connectCluster(config);
    // Jobs stop after the HTTP server (stoppables run in reverse), so requests in flight can still queue work.
    // The requests the HTTP server is answering, once it listens: jobs yield to a busy API.
    let inFlight = () => 0;
    const runner = config.jobs.enabled
      ? createJobRunner({
          url: database.url,
          schema: config.jobs.schema,
          queues: (jobs) => declareQueues({ db: handle.db, config, logger, mailer, cluster }, jobs),
          logger,
          timezone: config.jobs.timezone,
          pollIntervalSeconds: config.jobs.pollIntervalSeconds,
          graceMs: config.shutdownGraceMs,
          busy: () => inFlight() >= BUSY_REQUESTS,
        })
      : undefined;
    if (runner) {
      await runner.start();
      stoppables.push({ name: 'job queues', stop: runner.stop });
    }

    // Without REDIS_URL each process keeps its own counters in memory.
    // ioredis (about 20 MB of memory) is loaded only when there is a Redis to talk to.
    const rateLimits = config.redis.url ? (await import('./lib/http/rate-limit-redis.js')).createRedisRateLimits({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger }) : undefined;
    if (rateLimits) {
      stoppables.push({ name: 'Redis rate-limit store', stop: rateLimits.close });
      // A Redis that is down does not hold the start: the limits resume when it answers.
      await rateLimits.connected();
    }
    const app = buildApp({ db: handle.db, pool: handle.pool, config, logger, jobs: runner ?? noJobs, rateLimitStore: rateLimits?.store, cluster });
    // buildApp started the dummy hash, so libuv's pool threads exist now.
    lowerHelperThreadPriority(config.threadPoolNice);
    const server = await listen(app, config);
    inFlight = countRequests(server);
    if (config.kubernetes.mode === 'simulated') {
      const local = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`;
      const agents = await startSimulatedAgents(handle.db, local, (line) => logger.debug(`Simulated node ${line}`));
      stoppables.push({ name: 'simulated node agents', stop: agents.stop });
    }
    const sweeper = startBackgroundJobs({ db: handle.db, config, logger });
    stoppables.push({ name: 'liveness sweeper', stop: sweeper.stop });
    stoppables.push({ name: 'HTTP server', stop: () => closeServer(server, config.shutdownGraceMs, logger) });

    const base = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${(server.address() as { port: number }).port}`;
    const lines = [
      `minispod API ready in ${((Date.now() - t0) / 1000).toFixed(1)}s at ${base}/api/v1 (health: ${base}/health, docs: ${base}/api/docs)`,
      `Database: ${maskUrl(database.url)}${database.embedded ? ' (embedded PostgreSQL, data in ' + database.embedded.dataDir + ')' : ''}`,
      `Jobs: ${runner ? `pg-boss in schema "${config.jobs.schema}" of that database (cron in ${config.jobs.timezone})` : 'disabled (JOBS_ENABLED=false): this process runs no background jobs'}`,
      `Email: ${mailer.describe()}`,
      `Kubernetes: ${cluster.description}`,
      `Rate limits: ${rateLimits ? rateLimits.describe() : 'counted in this process (set REDIS_URL to share them between instances)'}`,
      `Payments: ${config.midtrans.serverKey ? `Midtrans ${config.midtrans.environment} (${new URL(config.midtrans.snapUrl).host}), notifications at /api/v1/payments/midtrans/notifications` : 'online top-ups off (set MIDTRANS_SERVER_KEY and MIDTRANS_CLIENT_KEY)'}`,
    ];
    if (config.env !== 'production' || seeded) {
      lines.push('Seeded accounts:', ...SEED_ACCOUNTS.map((a) => `  ${a.role.padEnd(13)} ${a.email} / ${a.password}`));
    }
    logger.info(lines.join('\n'));
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    stop: async (reason) => {
      logger.info(`Shutting down (${reason})`);
      await stopAll();
      logger.info('Shutdown complete');
    },
  };
}

/** Stops accepting, lets in-flight requests finish within the grace period, then cuts the rest. */
function closeServer(server: Server, graceMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      logger.warn(`Shutdown grace of ${graceMs} ms elapsed: closing remaining connections`);
      server.closeAllConnections();
    }, graceMs);
    timer.unref();
    // A kept-alive connection would otherwise hold the shutdown for the whole grace period: requests
    // still arriving on one are answered with `Connection: close`, and connections are closed as
    // soon as their last response is sent.
    server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    sweep.unref();
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config);
  process.on('unhandledRejection', (reason) => reportError(logger, reason, { source: 'unhandledRejection' }));

  // The signals are handled from the start: start() answers /health before it is done (the simulated
  // cluster's agents, the sweeper), and a SIGTERM in between would otherwise end the process at once,
  // by the signal, leaving the embedded PostgreSQL running. One received while starting is acted on
  // as soon as the start is done; a second one ends the process right away.
  let running: Running | undefined;
  let stopping = false;
  let pending: { signal: string; exitCode: number } | undefined;
  const shutdown = (signal: string, exitCode = 0) => {
    if (!running) {
      if (pending) process.exit(exitCode || 1);
      pending = { signal, exitCode };
      logger.info(`${signal} received while starting: shutting down once started`);
      return;
    }
    if (stopping) return;
    stopping = true;
    running
      .stop(signal)
      .then(() => process.exit(exitCode))
      .catch((err: unknown) => {
        reportError(logger, err, { during: 'shutdown' });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // An embedded PostgreSQL that cannot be brought back ends the process, so that a process manager restarts it all.
  let lostDuringStart: Error | undefined;
  let databaseLost: (err: Error) => void = (err) => {
    lostDuringStart = err;
  };
  try {
    running = await start(config, logger, (err) => databaseLost(err));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') logger.error(`Port ${config.port} is already in use. Stop the other process or set PORT to a free port.`);
    else if (err instanceof PortInUseError) logger.error(`${err.message}: set EMBEDDED_PG_PORT to a free port (or 0 to pick one).`);
    else if (err instanceof EmbeddedPostgresError) logger.error(err.message);
    else reportError(logger, err, { during: 'startup' });
    await new Promise((r) => logger.on('finish', r).end());
    process.exit(1);
  }

  process.on('uncaughtException', (err) => {
    reportError(logger, err, { source: 'uncaughtException' });
    shutdown('uncaughtException', 1);
  });
  databaseLost = () => shutdown('embedded PostgreSQL lost', 1);
  if (lostDuringStart) databaseLost(lostDuringStart);
  if (pending) shutdown(pending.signal, pending.exitCode);
}

await main();
