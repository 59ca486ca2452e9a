import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type pg from 'pg';
import client from 'prom-client';
import type { Db } from './db.js';
import { AppError } from './errors/index.js';
import { bearerToken } from './jwt.js';
import { defineRoute, type Access, type ApiModule } from './http/index.js';
import { queueStats, type QueueInfo } from './jobs.js';

export interface Metrics {
  registry: client.Registry;
  heartbeats: client.Counter<'route'>;
  middleware: RequestHandler;
}

/**
 * Prometheus metrics: request counts and latencies by route template and status, heartbeats,
 * nodes by status (read at scrape time) and database pool use. One registry per app, so tests
 * and several apps in one process never share counters.
 */
export function createMetrics({ db, pool, jobs }: { db: Db; pool?: pg.Pool; jobs?: { schema: string; queues: readonly QueueInfo[] } }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'minispod_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new client.Counter({ name: 'minispod_http_requests_total', help: 'HTTP requests by route template and status', labelNames, registers: [registry] });
  const duration = new client.Histogram({
    name: 'minispod_http_request_duration_seconds',
    help: 'HTTP request latency by route template and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const heartbeats = new client.Counter({ name: 'minispod_heartbeats_received_total', help: 'Node heartbeats accepted', labelNames: ['route'], registers: [registry] });
  new client.Gauge({
    name: 'minispod_worker_nodes',
    help: 'Worker nodes by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.workerNode.groupBy({ by: ['status'], _count: { _all: true } }).catch(() => []);
      for (const row of rows) this.set({ status: row.status }, row._count._all);
    },
  });
  if (jobs) {
    // One read of the job table per scrape, shared by the gauges below.
    let pending: Promise<Awaited<ReturnType<typeof queueStats>>> | undefined;
    const stats = () => (pending ??= queueStats(db, jobs.schema, jobs.queues).catch(() => []).finally(() => setTimeout(() => (pending = undefined), 1000)));
    const fields = [
      ['queued', 'Jobs waiting to run, by queue'],
      ['active', 'Jobs running, by queue'],
      ['completed', 'Jobs completed in the last day, by queue'],
      ['failed', 'Jobs failed for good in the last day, by queue'],
      ['deadLettered', 'Jobs in the dead-letter queue, by queue'],
      ['oldestQueuedSeconds', 'Age of the oldest runnable job not yet started, by queue'],
    ] as const;
    for (const [field, help] of fields) {
      const name = `minispod_jobs_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
      new client.Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers: [registry],
        async collect() {
          this.reset();
          for (const q of await stats()) this.set({ queue: q.name }, q[field] ?? 0);
        },
      });
    }
  }
  if (pool) {
    const poolGauge = (name: string, help: string, read: () => number) =>
      new client.Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    poolGauge('minispod_db_pool_connections', 'Open connections in the database pool', () => pool.totalCount);
    poolGauge('minispod_db_pool_idle', 'Idle connections in the database pool', () => pool.idleCount);
    poolGauge('minispod_db_pool_waiting', 'Queries waiting for a database connection', () => pool.waitingCount);
  }

  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The route template, never the raw path, keeps label cardinality bounded.
      const route = typeof res.locals.routeTemplate === 'string' ? res.locals.routeTemplate : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      requests.inc(labels);
      end(labels);
    });
    next();
  };
  return { registry, heartbeats, middleware };
}

/** GET /metrics: disabled (404) unless METRICS_TOKEN is configured, then that bearer token only. */
export function metricsRoutes(metrics: Metrics, token: string | undefined): ApiModule {
  const requireToken: RequestHandler = (req, _res, next) => {
    if (!token) throw new AppError('ROUTE_NOT_FOUND', 'Metrics are disabled: set METRICS_TOKEN to enable them');
    const given = Buffer.from(bearerToken(req.get('authorization')) ?? '');
    const expected = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AppError('UNAUTHORIZED', 'A valid metrics token is required');
    next();
  };
  const access: Access = { kind: 'metrics-token', handlers: [requireToken], bearer: true };
  return {
    name: 'metrics',
    basePath: '/',
    tag: 'Health',
    routes: [
      defineRoute({
        method: 'get',
        path: '/metrics',
        summary: 'Prometheus metrics (bearer METRICS_TOKEN; disabled when unset)',
        access,
        responses: { 200: { description: 'Prometheus text format' } },
        handler: async ({ res }) => {
          res.setHeader('Content-Type', metrics.registry.contentType);
          res.send(await metrics.registry.metrics());
        },
      }),
    ],
  };
}
