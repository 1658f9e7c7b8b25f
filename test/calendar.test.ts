// systemd calendar expressions (a borg job's startAt) → the longest gap between runs, and the
// newest archive's allowed age that plan derives from it (suites/backup.ts maxAgeFor).
import { describe, expect, it } from 'vitest';
import { calendarPeriod, formatDaysHours } from '../src/core/calendar.js';
import { maxAgeFor } from '../suites/backup.js';

const H = 3600;
const D = 24 * H;

describe('calendarPeriod', () => {
  it.each([
    ['hourly', H],
    ['daily', D],
    ['weekly', 7 * D],
    ['monthly', 31 * D],
    ['yearly', 366 * D],
    ['quarterly', 92 * D],
    ['*-*-* 03:00:00', D],
    ['03:15', D],
    ['*:0/15', 15 * 60],
    ['*-*-* 00/6:00:00', 6 * H],
    ['*-*-* 02,14:30', 12 * H],
    ['Sun *-*-* 03:00:00', 7 * D],
    ['Sat,Sun 04:00', 6 * D],
    ['Mon..Fri 02:00', 3 * D],
    ['*-*-01 00:00', 31 * D],
    ['*-*-1,15 00:00', 17 * D],
    ['Mon *-*-* 01:00:00 UTC', 7 * D],
    ['Mon 23:00, Tue 01:00', undefined],
  ])('%s → %s s', (expr, want) => {
    expect(calendarPeriod(expr)).toBe(want);
  });

  it.each(['2026-12-24 10:00', '*-02-30 00:00', 'Mon..Bogus 02:00', '*-*~01', '25:00', 'every day', ''])('%s is not understood', (expr) => {
    expect(calendarPeriod(expr)).toBeUndefined();
  });

  it('formats whole hours, and days from two days up', () => {
    expect([3 * H, 26 * H, 7 * D + 14 * H, 8 * D, 30 * 60].map(formatDaysHours)).toEqual(['3h', '26h', '7d14h', '8d', '1h']);
  });
});

describe('maxAgeFor (plan: backup.maxAge from startAt)', () => {
  it('a weekly calendar expression allows a week and a bit, not a day', () => {
    expect(maxAgeFor('Sun *-*-* 03:00:00')).toEqual({ maxAge: '7d14h', exact: true });
  });
  it('the keywords keep their round figures; a daily time of day is 26h', () => {
    expect(maxAgeFor('daily')).toEqual({ maxAge: '26h', exact: true });
    expect(maxAgeFor(['weekly'])).toEqual({ maxAge: '8d', exact: true });
    expect(maxAgeFor('*-*-* 02:00:00')).toEqual({ maxAge: '26h', exact: true });
  });
  it('several expressions: the job runs on each, so the most frequent bounds the age', () => {
    expect(maxAgeFor(['weekly', '*-*-* 00/6:00'])).toEqual({ maxAge: '7h', exact: true });
  });
  it('an expression it cannot read is 26h, said to be assumed', () => {
    expect(maxAgeFor('*-*~01')).toEqual({ maxAge: '26h', exact: false });
    expect(maxAgeFor([])).toEqual({ maxAge: '26h', exact: false });
  });
});
