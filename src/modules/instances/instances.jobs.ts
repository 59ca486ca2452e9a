import { defineQueue, type JobQueue, type QueueInfo, type QueueSpec } from '../../lib/jobs.js';
import { z } from '../../lib/zod.js';
import { collectUsage, sweepOrphanNamespaces } from './instances.maintenance.js';
import { deleteInstance, INSTANCE_QUEUES, provisionInstance, reconcileInstance, stopInstance, type InstancesDeps } from './instances.provisioning.js';
import { reconcileLive } from './instances.reconcile.js';

const one = z.strictObject({ instanceId: z.string().min(1).max(64) });

/** The cluster-wide housekeeping queues (instances.maintenance.ts). */
export const CLUSTER_QUEUES = { usage: 'usage.collect', sweep: 'maintenance.sweep' } as const;

export const INSTANCE_QUEUE_INFO: readonly QueueInfo[] = [...Object.values(INSTANCE_QUEUES), ...Object.values(CLUSTER_QUEUES)].map((name) => ({ name, deadLetter: true }));

/**
 * The instance queues. `stately` with the instance id as singleton key: at most one job of a kind
 * waits per instance (and one runs), so a burst of effects applies once. Cluster errors that may
 * pass (429, 5xx, resets) are rethrown so pg-boss retries with backoff.
 */
export function instanceQueues(deps: Omit<InstancesDeps, 'jobs'>, jobs: JobQueue): QueueSpec[] {
  const d: InstancesDeps = { ...deps, jobs };
  const common = { policy: 'stately', deadLetter: true, expireInSeconds: 300 } as const;
  return [
    defineQueue({
      name: INSTANCE_QUEUES.provision,
      ...common,
      data: one,
      // Six attempts over about a minute (2 s, 4 s, 8 s...); the last failure makes the instance FAILED.
      retryLimit: 5,
      retryDelay: 2,
      // Up to 25 per polling interval, 10 in flight: applies mostly wait on the API server.
      batchSize: 25,
      concurrency: 10,
      retryBackoff: true,
      handler: (data, ctx) => provisionInstance(d, data.instanceId, ctx),
    }),
    defineQueue({
      name: INSTANCE_QUEUES.reconcile,
      ...common,
      // One instance (after an apply, an admin's request) or, from the cron, every live one in batches.
      data: z.strictObject({ instanceId: z.string().min(1).max(64).optional() }),
      retryLimit: 3,
      retryDelay: 5,
      batchSize: 25,
      concurrency: 10,
      retryBackoff: true,
      cron: '* * * * *',
      handler: (data, { clock }) => (data.instanceId ? reconcileInstance(d, data.instanceId, clock) : reconcileLive(d, clock)),
    }),
    defineQueue({ name: INSTANCE_QUEUES.stop, ...common, data: one, retryLimit: 5, retryDelay: 10, retryBackoff: true, handler: (data, ctx) => stopInstance(d, data.instanceId, ctx) }),
    defineQueue({ name: INSTANCE_QUEUES.delete, ...common, data: one, retryLimit: 8, retryDelay: 10, retryBackoff: true, handler: (data, ctx) => deleteInstance(d, data.instanceId, ctx) }),
    // `short`: one waiting run; a late or repeated run in the same window writes nothing new.
    defineQueue({ name: CLUSTER_QUEUES.usage, policy: 'short', deadLetter: true, expireInSeconds: 600, retryLimit: 2, retryDelay: 60, retryBackoff: false, cron: '*/15 * * * *', handler: (_data, { clock }) => collectUsage(d, clock) }),
    defineQueue({ name: CLUSTER_QUEUES.sweep, policy: 'short', deadLetter: true, expireInSeconds: 600, retryLimit: 2, retryDelay: 300, retryBackoff: false, cron: '23 * * * *', handler: (_data, { clock }) => sweepOrphanNamespaces(d, clock) }),
  ];
}
