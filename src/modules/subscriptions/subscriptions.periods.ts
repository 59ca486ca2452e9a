import { tzOffset } from '@date-fns/tz';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** `at`'s wall time in `timeZone`, as the UTC fields of the returned Date. */
const wallTime = (at: number, timeZone: string) => new Date(at + tzOffset(timeZone, new Date(at)) * MINUTE);

/**
 * The instant whose wall time in `timeZone` is `wall` (a wall time given as UTC fields, in ms). A
 * wall time a clock change skips is read with the offset before the change (02:30 on a
 * spring-forward night is 03:30); one it repeats is its first occurrence (as Temporal's
 * "compatible" does). The offsets a day before and after bound the candidates: time zones change
 * their offset at most once in two days.
 */
function instantOf(wall: number, timeZone: string): number {
  const before = tzOffset(timeZone, new Date(wall - DAY));
  const after = tzOffset(timeZone, new Date(wall + DAY));
  const fits = (offset: number) => tzOffset(timeZone, new Date(wall - offset * MINUTE)) === offset;
  const candidates = [before, after].filter(fits).map((offset) => wall - offset * MINUTE);
  return candidates.length > 0 ? Math.min(...candidates) : wall - before * MINUTE;
}

/**
 * Billing periods follow the anchor day in the billing time zone: a subscription bought on
 * Jan 31 renews on Feb 28 (29 in a leap year), then on Mar 31 again; the time of day stays.
 * Worked out from the zone's offsets (a few Intl lookups, where TZDate's arithmetic took ten
 * times as long on every subscribe).
 */
export function nextPeriodEnd(from: Date, anchorDay: number, timeZone: string): Date {
  const local = wallTime(from.getTime(), timeZone);
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth() + 1;
  const days = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const wall = Date.UTC(year, month, Math.min(anchorDay, days), local.getUTCHours(), local.getUTCMinutes(), local.getUTCSeconds(), local.getUTCMilliseconds());
  return new Date(instantOf(wall, timeZone));
}

/** The day of month of `at` in the billing time zone: the anchor of a period starting then. */
export const anchorDayOf = (at: Date, timeZone: string) => wallTime(at.getTime(), timeZone).getUTCDate();

export const addDays = (at: Date, days: number) => new Date(at.getTime() + days * 86_400_000);

/** floor(price × part / whole) in exact integer arithmetic (price × milliseconds exceeds 2^53). */
const shareOf = (price: number, part: number, whole: number) => Number((BigInt(price) * BigInt(part)) / BigInt(whole));

const remainingOf = (input: { periodStart: Date; periodEnd: Date; now: Date }) => {
  const period = input.periodEnd.getTime() - input.periodStart.getTime();
  return { period, remaining: Math.min(period, Math.max(0, input.periodEnd.getTime() - input.now.getTime())) };
};

/**
 * What an upgrade costs for the rest of the period: the price difference for the time left,
 * rounded down, so it never exceeds that difference (PHASE2.md's ceil(new share) - floor(old
 * share) can, by one unit) and is never negative.
 */
export function prorate(input: { oldPrice: number; newPrice: number; periodStart: Date; periodEnd: Date; now: Date }): number {
  const { period, remaining } = remainingOf(input);
  if (period <= 0 || remaining === 0 || input.newPrice <= input.oldPrice) return 0;
  return shareOf(input.newPrice - input.oldPrice, remaining, period);
}

/** The unused part of the period's price, rounded down: an administrator's refund on cancellation. */
export function unusedAmount(input: { price: number; periodStart: Date; periodEnd: Date; now: Date }): number {
  const { period, remaining } = remainingOf(input);
  return period <= 0 ? 0 : shareOf(input.price, remaining, period);
}
