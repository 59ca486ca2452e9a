import { defineRoute, ok, type ApiModule } from '../../lib/http/index.js';
import { queueStats } from '../../lib/jobs.js';
import { z } from '../../lib/zod.js';
import type { ModuleDeps } from '../types.js';

const queueStatsSchema = z
  .object({
    name: z.string(),
    queued: z.number().int().openapi({ description: 'Waiting to run, including retries waiting for their backoff' }),
    active: z.number().int(),
    completed: z.number().int().openapi({ description: 'Completed in the last day (older ones are archived)' }),
    failed: z.number().int().openapi({ description: 'Failed for good in the last day' }),
    deadLettered: z.number().int().openapi({ description: 'Jobs in the queue\'s dead-letter queue' }),
    oldestQueuedSeconds: z.number().int().nullable().openapi({ description: 'Age of the oldest job that could run now but has not started' }),
  })
  .openapi('QueueStats');

/** Operators' view of the background work. */
export function operationsModule({ db, config, guards, queues }: ModuleDeps): ApiModule {
  return {
    name: 'operations',
    basePath: '/admin',
    tag: 'Operations',
    routes: [
      defineRoute({
        method: 'get',
        path: '/jobs',
        summary: 'Background queues: queued, active, completed, failed and dead-lettered jobs (administrators)',
        access: guards.admin,
        responses: { 200: { description: 'Per queue', schema: z.object({ queues: z.array(queueStatsSchema) }) } },
        handler: async ({ res }) => ok(res, { queues: await queueStats(db, config.jobs.schema, queues) }, 'Job queues retrieved successfully'),
      }),
    ],
  };
}
