import { pingDatabase, type Db } from './db.js';
import { AppError } from './errors/index.js';
import { defineRoute, ok, sendError, type ApiModule } from './http/index.js';
import { sqlFor, type Sql } from './sql.js';
import { z } from './zod.js';

const HEALTH_TIMEOUT_MS = 1500;

async function checkDatabase(sql: Sql): Promise<{ status: 'up' | 'down'; latencyMs: number }> {
  const start = Date.now();
  const up = await pingDatabase(() => sql('SELECT 1', [], { share: true }), HEALTH_TIMEOUT_MS);
  return { status: up ? 'up' : 'down', latencyMs: Date.now() - start };
}

const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  uptimeSeconds: z.number(),
  checks: z.object({ database: z.object({ status: z.enum(['up', 'down']), latencyMs: z.number() }) }),
});

/** GET /health: answers within 2 s whatever the database does; 503 while it is unreachable. */
export function healthRoutes(db: Db): ApiModule {
  // Straight on the pool: a probe should cost the database round trip and little else.
  const sql = sqlFor(db);
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
          const database = await checkDatabase(sql);
          const data = { status: database.status === 'up' ? 'ok' : 'unavailable', uptimeSeconds: Math.round(process.uptime()), checks: { database } };
          res.setHeader('Cache-Control', 'no-store');
          if (database.status === 'up') ok(res, data, 'Service is healthy');
          else sendError(res, new AppError('SERVICE_UNAVAILABLE', 'Database is unreachable'), { data });
        },
      }),
    ],
  };
}
