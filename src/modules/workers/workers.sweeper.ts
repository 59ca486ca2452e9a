import type { Config } from '../../lib/config.js';
import type { DbClient } from '../../lib/db.js';
import { startPeriodic, type BackgroundJobs } from '../../lib/periodic.js';
import type { Logger } from '../../lib/logger.js';
import { heartbeatCutoff, type Clock } from './workers.mapper.js';

/**
 * Liveness: a node whose last heartbeat is older than the grace period is not ready; an ACTIVE
 * or NOT_READY one also becomes INACTIVE (the node controller's NodeStatusUnknown). Operator
 * statuses (MAINTENANCE) and PENDING keep their status but lose isReady. One idempotent
 * statement: several API instances may run it at once, and a heartbeat that commits first
 * is re-checked by PostgreSQL before the row is changed. A node that never sent a heartbeat gets
 * the grace period from its registration.
 * Returns how many nodes it changed; `now` is a parameter so tests drive the clock.
 */
export async function sweepStaleNodes(db: DbClient, clock: Clock): Promise<number> {
  const { now, graceSeconds } = clock;
  const cutoff = heartbeatCutoff(clock);
  const reason = `No heartbeat for more than ${graceSeconds}s`;
  return db.$executeRaw`
    UPDATE worker_nodes SET
      status = CASE WHEN status IN ('ACTIVE', 'NOT_READY') THEN 'INACTIVE'::"WorkerNodeStatus" ELSE status END,
      "statusReason" = CASE WHEN status IN ('ACTIVE', 'NOT_READY') THEN ${reason}::text ELSE "statusReason" END,
      "isReady" = false,
      "lastHealthCheck" = ${now},
      "updatedAt" = ${now}
    WHERE COALESCE("lastHeartbeat", "createdAt") < ${cutoff} AND (status IN ('ACTIVE', 'NOT_READY') OR "isReady")`;
}

/** Runs the sweeper every `sweeperIntervalSeconds` (0 disables it). stop() waits for a sweep in flight. */
export function startSweeper({ db, config, logger }: { db: DbClient; config: Pick<Config, 'sweeperIntervalSeconds' | 'heartbeatGraceSeconds'>; logger: Logger }): BackgroundJobs {
  return startPeriodic({
    name: 'worker liveness sweeper',
    intervalSeconds: config.sweeperIntervalSeconds,
    logger,
    run: async () => {
      const changed = await sweepStaleNodes(db, { now: new Date(), graceSeconds: config.heartbeatGraceSeconds });
      if (changed > 0) logger.info(`Liveness sweeper: ${changed} worker node(s) without a heartbeat for ${config.heartbeatGraceSeconds}s marked not ready`);
    },
  });
}
