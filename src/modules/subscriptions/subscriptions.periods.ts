import { TZDate } from '@date-fns/tz';
import { getDaysInMonth } from 'date-fns';

/**
 * Billing periods follow the anchor day in the billing time zone: a subscription bought on
 * Jan 31 renews on Feb 28 (29 in a leap year), then on Mar 31 again; the time of day stays.
 */
export function nextPeriodEnd(from: Date, anchorDay: number, timeZone: string): Date {
  const local = new TZDate(from.getTime(), timeZone);
  const next = new TZDate(local.getFullYear(), local.getMonth() + 1, 1, local.getHours(), local.getMinutes(), local.getSeconds(), local.getMilliseconds(), timeZone);
  next.setDate(Math.min(anchorDay, getDaysInMonth(next)));
  return new Date(next.getTime());
}

/** The day of month of `at` in the billing time zone: the anchor of a period starting then. */
export const anchorDayOf = (at: Date, timeZone: string) => new TZDate(at.getTime(), timeZone).getDate();

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
