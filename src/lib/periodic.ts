import { reportError } from './http/index.js';
import type { Logger } from './logger.js';

export interface BackgroundJobs {
  /** Stops the loop and waits for a run in flight. */
  stop: () => Promise<void>;
}

/**
 * Runs `run` every `intervalSeconds` (0 disables it). A run slower than the interval is not
 * stacked on itself; a failed run is reported like a request error and the loop goes on.
 */
export function startPeriodic({ name, intervalSeconds, run, logger }: { name: string; intervalSeconds: number; run: () => Promise<unknown>; logger: Logger }): BackgroundJobs {
  if (intervalSeconds === 0) return { stop: async () => undefined };
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const tick = () => {
    if (inFlight || stopped) return;
    inFlight = run()
      .then(
        () => undefined,
        (err: unknown) => {
          reportError(logger, err, { job: name });
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
  };

  const timer = setInterval(tick, intervalSeconds * 1000);
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
