import { poolOf, type Db } from './db.js';
import { AppError } from './errors/index.js';
import { defineRoute, ok, sendError, type ApiModule } from './http/index.js';
import { z } from './zod.js';

const HEALTH_TIMEOUT_MS = 1500;

async function checkDatabase(db: Db): Promise<{ status: 'up' | 'down'; latencyMs: number }> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
  });
  // Straight on the pool when there is one: a probe should cost the database round trip and little else.
  const pool = poolOf(db);
  const ping = (pool ? pool.query('SELECT 1') : db.$queryRaw`SELECT 1`).then(() => true as const, () => false as const);
  const up = await Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
  return { status: up ? 'up' : 'down', latencyMs: Date.now() - start };
}

const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  uptimeSeconds: z.number(),
  checks: z.object({ database: z.object({ status: z.enum(['up', 'down']), latencyMs: z.number() }) }),
});

/** GET /health: answers within 2 s whatever the database does; 503 while it is unreachable. */
export function healthRoutes(db: Db): ApiModule {
  return {
    name: 'health',
    basePath: '/',
    tag: 'Health',
    routes: [
      defineRoute({
        method: 'get',
        path: '/health',
        summary: 'Liveness and database check',
        access: { kind: 'public', handlers: [], bearer: false },
        responses: { 200: { description: 'Healthy', schema: healthSchema }, 503: { description: 'Database unreachable' } },
        handler: async ({ res }) => {
          const database = await checkDatabase(db);
          const data = { status: database.status === 'up' ? 'ok' : 'unavailable', uptimeSeconds: Math.round(process.uptime()), checks: { database } };
          res.setHeader('Cache-Control', 'no-store');
          if (database.status === 'up') ok(res, data, 'Service is healthy');
          else sendError(res, new AppError('SERVICE_UNAVAILABLE', 'Database is unreachable'), { data });
        },
      }),
    ],
  };
}
