const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * PHASE2.md's schedule, read as Svix (whose schedule it extends) reads its own: the first attempt
 * at once, then each retry this long after the attempt before it, about three days in all.
 */
export const RETRY_DELAYS_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Each wait is stretched or shrunk by up to this fraction, so the retries of a burst do not all arrive together. */
export const JITTER = 0.1;
/** A receiver's Retry-After is followed up to this long; beyond it the schedule is kept. */
export const MAX_RETRY_AFTER_MS = 24 * HOUR;

/** The wait after the `attemptsMade`-th attempt failed, jittered; undefined when the schedule has no more attempts. */
export function retryDelayMs(attemptsMade: number, random: () => number = Math.random): number | undefined {
  const base = RETRY_DELAYS_MS[attemptsMade - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/** Retry-After in seconds or as an HTTP date, as a wait from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(Number(value) * SECOND, MAX_RETRY_AFTER_MS);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}

/**
 * When to try again after a failed attempt: the schedule's wait, or the receiver's Retry-After
 * when that asks for longer. Undefined: the delivery has had its attempts and fails.
 */
export function nextAttemptAt(attemptsMade: number, maxAttempts: number, now: Date, retryAfter: string | undefined, random?: () => number): Date | undefined {
  if (attemptsMade >= maxAttempts) return undefined;
  const scheduled = retryDelayMs(attemptsMade, random);
  if (scheduled === undefined) return undefined;
  return new Date(now.getTime() + Math.max(scheduled, retryAfterMs(retryAfter, now) ?? 0));
}
