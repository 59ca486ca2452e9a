import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorDayOf, nextPeriodEnd } from '../../src/modules/subscriptions/subscriptions.periods.js';

const ZONES = ['Asia/Jakarta', 'UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Santiago', 'Pacific/Chatham', 'America/St_Johns'];

/** `at`'s wall time in `timeZone` as "YYYY-MM-DD hh:mm:ss", read through Intl on its own. */
const formats = new Map<string, Intl.DateTimeFormat>();
function wall(at: Date, timeZone: string): string {
  const f = formats.get(timeZone) ?? formats.set(timeZone, new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })).get(timeZone)!;
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}
/** The instant of a wall time in a zone with a fixed offset (hours), for writing cases. */
const at = (iso: string) => new Date(iso);

describe('billing periods', () => {
  it('follow the anchor day through short months, keeping the time of day', () => {
    const tz = 'Asia/Jakarta';
    const start = at('2027-01-31T10:15:30.123+07:00');
    const anchor = anchorDayOf(start, tz);
    expect(anchor).toBe(31);
    const feb = nextPeriodEnd(start, anchor, tz);
    const mar = nextPeriodEnd(feb, anchor, tz);
    const apr = nextPeriodEnd(mar, anchor, tz);
    expect([feb, mar, apr].map((d) => d.toISOString())).toEqual(['2027-02-28T03:15:30.123Z', '2027-03-31T03:15:30.123Z', '2027-04-30T03:15:30.123Z']);
    expect(nextPeriodEnd(at('2028-01-31T23:59:59.999+07:00'), 31, tz).toISOString()).toBe('2028-02-29T16:59:59.999Z');
    expect(nextPeriodEnd(at('2027-12-15T08:00:00+07:00'), 15, tz).toISOString()).toBe('2028-01-15T01:00:00.000Z');
  });

  it('take the anchor day in the billing time zone, not in UTC', () => {
    // 20:00 UTC on Jan 31 is already Feb 1 in Jakarta.
    expect(anchorDayOf(at('2027-01-31T20:00:00Z'), 'Asia/Jakarta')).toBe(1);
    expect(anchorDayOf(at('2027-01-31T20:00:00Z'), 'UTC')).toBe(31);
    expect(anchorDayOf(at('2027-02-01T03:00:00Z'), 'America/New_York')).toBe(31);
  });

  it('read a wall time a clock change skips or repeats as the clocks do', () => {
    const tz = 'America/New_York';
    // 2027-03-14 02:30 does not exist (02:00 EST -> 03:00 EDT): it is read as 03:30 EDT.
    expect(nextPeriodEnd(at('2027-02-14T02:30:00-05:00'), 14, tz).toISOString()).toBe('2027-03-14T07:30:00.000Z');
    // 2027-11-07 01:30 happens twice (EDT, then EST): the first one.
    expect(nextPeriodEnd(at('2027-10-07T01:30:00-04:00'), 7, tz).toISOString()).toBe('2027-11-07T05:30:00.000Z');
    // Lord Howe moves its clocks by half an hour (on Oct 1 2045): a period across the change keeps 02:09.
    const lordHowe = nextPeriodEnd(at('2045-08-31T15:39:19.308Z'), 30, 'Australia/Lord_Howe');
    expect(wall(lordHowe, 'Australia/Lord_Howe')).toBe('2045-10-30 02:09:19');
  });

  it('end a month on: the anchor day (or the month\'s last), the same wall time, the earliest instant showing it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2060-01-01T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: 1, max: 31 }), (tz, from, anchor) => {
        const end = nextPeriodEnd(from, anchor, tz);
        expect(end.getTime()).toBeGreaterThan(from.getTime());
        expect(end.getUTCMilliseconds()).toBe(from.getUTCMilliseconds());
        const [date, time] = wall(from, tz).split(' ') as [string, string];
        const [y, m] = date.split('-').map(Number) as [number, number];
        const next = new Date(Date.UTC(y, m, 1));
        const days = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate();
        const expected = `${next.getUTCFullYear()}-${String(next.getUTCMonth() + 1).padStart(2, '0')}-${String(Math.min(anchor, days)).padStart(2, '0')} ${time}`;
        const shown = wall(end, tz);
        if (shown === expected) {
          // The first instant showing it: an hour (or half) earlier does not show it too.
          for (const back of [30, 60]) expect(wall(new Date(end.getTime() - back * 60_000), tz)).not.toBe(expected);
        } else {
          // Only a wall time the clocks skip may be missed, and then by the skipped part (at most an hour).
          const skipped = Array.from({ length: 121 }, (_, i) => wall(new Date(end.getTime() - (i + 1) * 60_000), tz)).every((w) => w !== expected);
          expect(skipped).toBe(true);
          expect(shown > expected).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
