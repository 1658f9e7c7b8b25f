// systemd calendar events (systemd.time(7), the `startAt` of NixOS jobs) → the longest time between
// two elapses: how old a job's newest result may be before a run was missed. Covers the shorthands
// and `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]` with `*`, lists, `A..B` and
// `/STEP`; anything else (`~` last days, a fixed year) is undefined, and the caller says so.

const SHORTHAND: Record<string, string> = {
  minutely: '*-*-* *:*:00',
  hourly: '*-*-* *:00:00',
  daily: '*-*-* 00:00:00',
  weekly: 'Mon *-*-* 00:00:00',
  monthly: '*-*-01 00:00:00',
  quarterly: '*-01,04,07,10-01 00:00:00',
  semiannually: '*-01,07-01 00:00:00',
  'semi-annually': '*-01,07-01 00:00:00',
  yearly: '*-01-01 00:00:00',
  annually: '*-01-01 00:00:00',
};
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_S = 86_400;

/** One comma-separated field (`*`, `N`, `A..B`, `A/S`, `A..B/S`) as the sorted values in [lo, hi]. */
function field(text: string, lo: number, hi: number, value: (s: string) => number | undefined = num): number[] | undefined {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^([^./]+|\*)(?:\.\.([^./]+))?(?:\/(\d+))?$/.exec(item);
    if (!m) return undefined;
    const step = m[3] === undefined ? 1 : Number(m[3]);
    const a = m[1] === '*' ? lo : value(m[1]);
    const b = m[2] !== undefined ? value(m[2]) : m[1] === '*' || m[3] !== undefined ? hi : a;
    if (a === undefined || b === undefined || step < 1 || a < lo || b > hi || a > b) return undefined;
    for (let v = a; v <= b; v += step) out.add(v);
  }
  return [...out].sort((x, y) => x - y);
}
const num = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);
const weekday = (s: string): number | undefined => {
  const i = WEEKDAYS.indexOf(s.slice(0, 3).toLowerCase());
  return i >= 0 && /^[a-z]+$/i.test(s) ? i : undefined;
};

/** The longest gap (seconds) between consecutive elapses of one calendar expression, or undefined. */
export function calendarPeriod(expr: string): number | undefined {
  const words = (SHORTHAND[expr.trim().toLowerCase()] ?? expr).trim().split(/\s+/);
  let days: number[] | undefined = [0, 1, 2, 3, 4, 5, 6];
  let months: number[] | undefined = range(1, 12);
  let mdays: number[] | undefined = range(1, 31);
  let time = '00:00:00';
  let i = 0;
  if (words[i] && /^[a-z]/i.test(words[i]) && !words[i].includes(':')) days = field(words[i++].replace(/,$/, ''), 0, 6, weekday);
  if (words[i] && /-/.test(words[i]) && !words[i].includes(':')) {
    const parts = words[i++].split('-');
    if (parts.length === 3 && parts[0] !== '*') return undefined; // a fixed year happens once
    if (parts.length < 2 || parts.length > 3) return undefined;
    [months, mdays] = [field(parts[parts.length - 2], 1, 12), field(parts[parts.length - 1], 1, 31)];
  }
  if (words[i] && words[i].includes(':')) time = words[i++];
  // A trailing timezone shifts every elapse alike: the gaps stay.
  if (i < words.length - 1 || (i === words.length - 1 && !/^[A-Za-z][\w/+-]*$/.test(words[i]))) return undefined;
  const t = time.split(':');
  if (t.length < 2 || t.length > 3) return undefined;
  const hours = field(t[0], 0, 23);
  const minutes = field(t[1], 0, 59);
  const seconds = field((t[2] ?? '00').replace(/\.\d+$/, ''), 0, 59);
  if (!days || !months || !mdays || !hours || !minutes || !seconds) return undefined;
  const inDay = hours.flatMap((h) => minutes.flatMap((m) => seconds.map((s) => h * 3600 + m * 60 + s)));
  let gap = 0;
  for (let k = 1; k < inDay.length; k++) gap = Math.max(gap, inDay[k] - inDay[k - 1]);
  // The days that match, over four years from a Monday (leap years and month lengths included).
  const start = Date.UTC(2024, 0, 1);
  let prev: number | undefined;
  for (let d = 0; d < 4 * 366; d++) {
    const date = new Date(start + d * DAY_S * 1000);
    if (!days.includes(date.getUTCDay()) || !months.includes(date.getUTCMonth() + 1) || !mdays.includes(date.getUTCDate())) continue;
    if (prev !== undefined) gap = Math.max(gap, (d - prev) * DAY_S - inDay[inDay.length - 1] + inDay[0]);
    prev = d;
  }
  return prev === undefined ? undefined : gap || DAY_S;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, k) => a + k);
}

/** A duration text (parseDuration's) of whole days and hours, rounded up to the hour: 26h, 7d14h. */
export function formatDaysHours(seconds: number): string {
  const h = Math.ceil(seconds / 3600);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
