import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import type pg from 'pg';
import { match } from 'path-to-regexp';
import type { Config } from './lib/config.js';
import type { Db } from './lib/db.js';
import { AppError } from './lib/errors/index.js';
import { accessLog } from './lib/http/access-log.js';
import { compose } from './lib/http/compose.js';
import { errorMiddleware, notFoundHandler } from './lib/http/error-middleware.js';
import { jsonBody } from './lib/http/json-body.js';
import { addRoutes, createGuards, createLimiter, listRoutes, ok, registerModule, sendError, type ApiModule, type MountedRoute, type RateLimitStoreFactory } from './lib/http/index.js';
import { requestContext } from './lib/http/request-context.js';
import { securityHeaders } from './lib/http/security-headers.js';
import type { Logger } from './lib/logger.js';
import { buildOpenApiDocument } from './lib/openapi.js';
import { healthRoutes } from './lib/health.js';
import { createMetrics, metricsRoutes } from './lib/metrics.js';
import { noJobs, type JobQueue, type QueueInfo } from './lib/jobs.js';
import { authModule } from './modules/auth/index.js';
import { catalogModule } from './modules/catalog/index.js';
import { instanceEffects, instancesModule, noCluster, type InstanceCluster } from './modules/instances/index.js';
import { notificationsModule } from './modules/notifications/index.js';
import { operationsModule } from './modules/operations/index.js';
import { subscriptionsModule } from './modules/subscriptions/index.js';
import type { ModuleDeps } from './modules/types.js';
import { usersModule } from './modules/users/index.js';
import { walletModule } from './modules/wallet/index.js';
import { webhooksModule } from './modules/webhooks/index.js';
import { workersModule } from './modules/workers/index.js';
import { QUEUE_INFO } from './queues.js';

export const API_PREFIX = '/api/v1';

export interface AppDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  /** The pool behind `db`, for pool metrics. */
  pool?: pg.Pool;
  /** Shared store for rate limits (e.g. Redis) when several instances serve one API. */
  rateLimitStore?: RateLimitStoreFactory;
  /** The job runner's queue; without one, work waits for a process that runs jobs. */
  jobs?: JobQueue;
  queues?: readonly QueueInfo[];
  /** Where instances run; without one they wait as PENDING (K8S_MODE=off). */
  cluster?: InstanceCluster;
}

export interface BuiltApp extends Express {
  locals: Express['locals'] & { routes: MountedRoute[]; openapi: ReturnType<typeof buildOpenApiDocument> };
}

/** Builds the Express app without listening, so tests and the server share it. */
export function buildApp({ db, config, logger, pool, rateLimitStore, jobs = noJobs, queues = QUEUE_INFO, cluster = noCluster() }: AppDeps): BuiltApp {
  const app = express() as unknown as BuiltApp;
  app.disable('x-powered-by');
  // Every envelope carries its own timestamp, so no ETag could ever match a later response: hashing
  // each body for one is work for nothing (only the OpenAPI document, fetched rarely, would keep one).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  const guards = createGuards({ db, config });
  const metrics = createMetrics({ db, pool, jobs: { schema: config.jobs.schema, queues } });
  const deps: ModuleDeps = { db, config, logger, guards, rateLimitStore, metrics, jobs, queues, cluster, instanceEffects: instanceEffects({ db, jobs, logger }) };
  const workers = workersModule(deps);
  const modules: ApiModule[] = [authModule(deps), usersModule(deps), catalogModule(deps), workers, notificationsModule(deps), operationsModule(deps), subscriptionsModule(deps), instancesModule(deps), walletModule(deps), webhooksModule(deps)];
  const health = healthRoutes(db);
  const metricsModule = metricsRoutes(metrics, config.metricsToken);

  const routes: MountedRoute[] = [
    ...listRoutes('/', health),
    ...listRoutes(API_PREFIX, health),
    ...listRoutes('/', metricsModule),
    { method: 'get', path: `${API_PREFIX}/openapi.json` },
    ...modules.flatMap((m) => listRoutes(API_PREFIX, m)),
  ];
  const openapi = buildOpenApiDocument(API_PREFIX, [health, ...modules], (registry) => {
    registerModule(registry, '/', health);
    registerModule(registry, '/', metricsModule);
    registry.registerPath({
      method: 'get',
      path: `${API_PREFIX}/openapi.json`,
      tags: ['Health'],
      summary: 'This OpenAPI 3 document (interactive page at /api/docs)',
      responses: { 200: { description: 'The OpenAPI document' } },
    });
  });
  app.locals.routes = routes;
  app.locals.openapi = openapi;

  const exempt = modules.flatMap((m) => m.rateLimitExempt ?? []);
  // Every request passes these, in this order, as one layer of the router (see compose).
  const everyRequest: RequestHandler[] = [
    requestContext(),
    accessLog(logger),
    metrics.middleware,
    securityHeaders(),
    cors({
      origin: (origin, cb) => cb(null, origin !== undefined && config.corsOrigins.includes(origin)),
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy'],
      maxAge: 600,
    }),
    createLimiter({
      name: 'global',
      windowMs: config.rateLimit.windowMs,
      max: config.rateLimit.max,
      store: rateLimitStore,
      skip: (req) => req.path === '/health' || req.path === '/metrics' || (req.path.startsWith(API_PREFIX) && exempt.some((re) => re.test(req.path.slice(API_PREFIX.length)))),
    }),
    jsonBody(config.bodyLimit),
  ];
  app.use(compose(everyRequest));

  // Express tries every layer in order. The modules come first (their paths never overlap the
  // rest) and carry nearly all the traffic; of them the workers, whose agents' reports come first.
  for (const mod of [workers, ...modules.filter((m) => m !== workers)]) addRoutes(app, API_PREFIX, mod);
  addRoutes(app, '/', health);
  addRoutes(app, '/', metricsModule);
  addRoutes(app, API_PREFIX, health);
  app.get(`${API_PREFIX}/openapi.json`, (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/docs', docsPage(openapi));

  const matchers = routes.map((r) => ({ method: r.method, match: ((m) => (p: string) => m(p) !== false)(match(r.path, { decode: false })) }));
  app.use(notFoundHandler(matchers));
  app.use(errorMiddleware(logger));
  return app;
}

/**
 * The interactive docs, loaded on their first visit: swagger-ui is several megabytes that a
 * server which never shows its docs should not keep in memory.
 */
function docsPage(openapi: ReturnType<typeof buildOpenApiDocument>): RequestHandler {
  let page: Promise<RequestHandler> | undefined;
  return (req, res, next) => {
    page ??= import('swagger-ui-express').then(({ default: swaggerUi }) => {
      const router = express.Router();
      router.use(swaggerUi.serve, swaggerUi.setup(openapi, { customSiteTitle: 'minispod API' }));
      return router;
    });
    page.then((handler) => handler(req, res, next), next);
  };
}

export { ok, sendError, AppError };
