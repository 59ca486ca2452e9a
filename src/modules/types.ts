import type { Config } from '../lib/config.js';
import type { Db } from '../lib/db.js';
import type { Guards, RateLimitStoreFactory } from '../lib/http/index.js';
import type { JobQueue, QueueInfo } from '../lib/jobs.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { InstanceCluster } from './instances/instances.cluster.js';

/** What every module factory receives. Modules never read process.env. */
export interface ModuleDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  guards: Guards;
  rateLimitStore?: RateLimitStoreFactory;
  metrics?: Metrics;
  /** Where services queue background work (a no-op queue when this process runs no jobs). */
  jobs: JobQueue;
  /** The declared queues, for their statistics. */
  queues: readonly QueueInfo[];
  /** Where instances run (the instances module's routes read logs and restart through it). */
  cluster: InstanceCluster;
  /** Carries out a subscription's instance effect after its commit (queues the instance job). */
  instanceEffects: (effect: 'provision' | 'stop' | 'resume' | 'delete', subscriptionId: string, instanceId?: string) => void;
}
