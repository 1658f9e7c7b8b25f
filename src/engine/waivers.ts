// Waivers turn an accepted `fail` into `waived` (the original status is kept); an expired waiver
// is never applied, but the result says it existed. An `error` is never waived: a waiver accepts
// a known finding, it cannot accept not knowing (a waiver for `tls.*` must not hide an
// unreachable node).
import type { Result, Waiver } from '../core/types.js';
import { utcDate } from '../core/dates.js';
import { matchesGlob } from '../core/globs.js';

function matches(w: Waiver, r: Result): boolean {
  return matchesGlob(w.check, r.id) && (w.node === undefined || w.node === r.node) && (w.subject === undefined || w.subject === r.subject);
}

export function applyWaivers(r: Result, waivers: Waiver[], now: Date): Result {
  if (r.status !== 'fail' && r.status !== 'error') return r;
  const today = utcDate(now);
  const all = waivers.filter((w) => matches(w, r));
  if (r.status === 'error') {
    // Say so, or the operator wonders why the waiver did nothing.
    return all.length ? { ...r, message: `${r.message} [waiver not applied: an error is not a finding, the check could not be made]` } : r;
  }
  const valid = all.find((w) => w.expires >= today);
  if (valid) {
    return {
      ...r,
      status: 'waived',
      originalStatus: r.status,
      waiver: valid,
      message: `${r.message} [waived until ${valid.expires} by ${valid.approvedBy}: ${valid.reason}]`,
    };
  }
  const expired = all[0];
  if (expired) {
    return { ...r, expiredWaiver: expired, message: `${r.message} [waiver expired ${expired.expires}, not applied]` };
  }
  return r;
}
