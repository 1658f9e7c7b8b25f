// --strict: for auditors who require every item evidenced, an expectation the platform cannot
// check (`skipped`) fails the run instead of passing it by. Manual items stay manual: they are
// evidenced by a person, not left unchecked. Applied before waivers, so an approved waiver can
// still accept a known gap.
import type { Result } from '../core/types.js';

export const STRICT_PREFIX = '--strict: not evidenced, so it fails:';

export function strictly(r: Result): Result {
  if (r.status !== 'skipped') return r;
  return { ...r, status: 'fail', originalStatus: 'skipped', message: `${STRICT_PREFIX} ${r.message}` };
}
