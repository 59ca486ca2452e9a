import type { Config } from '../../lib/config.js';
import type { DbClient } from '../../lib/db.js';
import { reportError } from '../../lib/http/index.js';
import type { Logger } from '../../lib/logger.js';
import { heartbeatCutoff, type Clock } from './workers.mapper.js';

/**
 * Liveness: a node whose last heartbeat is older than the grace period is not ready; an ACTIVE
 * or NOT_READY one also becomes INACTIVE (the node controller's NodeStatusUnknown). Operator
 * statuses (MAINTENANCE) and PENDING keep their status but lose isReady. One idempotent
 * statement: several API instances may run it at once, and a heartbeat that commits first
 * is re-checked by PostgreSQL before the row is changed.
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
    WHERE "lastHeartbeat" < ${cutoff} AND (status IN ('ACTIVE', 'NOT_READY') OR "isReady")`;
}

export interface BackgroundJobs {
  stop: () => Promise<void>;
}

/** Runs the sweeper every `sweeperIntervalSeconds` (0 disables it). stop() waits for a sweep in flight. */
export function startSweeper({ db, config, logger }: { db: DbClient; config: Pick<Config, 'sweeperIntervalSeconds' | 'heartbeatGraceSeconds'>; logger: Logger }): BackgroundJobs {
  if (config.sweeperIntervalSeconds === 0) return { stop: async () => undefined };
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const tick = () => {
    // A sweep slower than the interval is not stacked on itself.
    if (inFlight || stopped) return;
    inFlight = sweepStaleNodes(db, { now: new Date(), graceSeconds: config.heartbeatGraceSeconds })
      .then((changed) => {
        if (changed > 0) logger.info(`Liveness sweeper: ${changed} worker node(s) without a heartbeat for ${config.heartbeatGraceSeconds}s marked not ready`);
      })
      .catch((err: unknown) => {
        reportError(logger, err, { job: 'worker liveness sweeper' });
      })
      .finally(() => {
        inFlight = undefined;
      });
  };

  const timer = setInterval(tick, config.sweeperIntervalSeconds * 1000);
  // The timer alone must not keep the process (or a test run) alive.
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
