// backup.checkEvery: whether the repository check is due, from the harness's memory of its last
// clean check (src/core/check-memory.ts) and the repository borg lists now. Pure: the probe uses it
// to decide whether to start `borg check`, the judge to render the skip, with the same arithmetic.
import { parseDuration } from '../core/units.js';

/** What the probe gets from the harness: the node's remembered clean checks, as data. */
export interface CheckWindowInput {
  /** backup.checkEvery, e.g. 24h. */
  every: string;
  /** Clean checks remembered for this node (any repository). */
  remembered: { location: string; repositoryId: string; at: string }[];
  /** The state file, named in the evidence. */
  file: string;
  /** Why the memory could not be read (the check then runs). */
  problem?: string;
  /** Harness wall clock in ms (tests pass their own). */
  now?: () => number;
}

/** The decision, kept in the facts for the judge. */
export interface CheckWindow {
  every: string;
  file: string;
  /** Harness time of the decision, ISO 8601 UTC. */
  decidedAt: string;
  /** The clean check remembered for this repository (same location and id). */
  last?: { at: string; repositoryId: string };
  due: boolean;
  /** Why the check runs (or, when not due, that it is within the window). */
  why: string;
}

/** ISO 8601 UTC to the second, as the messages print it. */
export function isoSecond(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "45m", "3h", "25h", "3d 4h": an age at the precision a window in hours or days needs. */
export function shortAge(ms: number): string {
  const min = Math.max(0, Math.floor(ms / 60_000));
  if (min < 60) return `${min}m`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 && h < 10 ? `${h}h ${min % 60}m` : `${h}h`;
  return h % 24 ? `${Math.floor(h / 24)}d ${h % 24}h` : `${Math.floor(h / 24)}d`;
}

/** A clean check at `lastMs` still covers `nowMs` (a clock that went backwards never does). */
export function withinWindow(lastMs: number, every: string, nowMs: number): boolean {
  return nowMs >= lastMs && nowMs - lastMs < parseDuration(every);
}

/** Due or not, for the repository `borg list --json` reported. */
export function decideWindow(input: CheckWindowInput, repo: { id: string; location: string }): CheckWindow {
  const now = (input.now ?? Date.now)();
  const base = { every: input.every, file: input.file, decidedAt: new Date(now).toISOString() };
  if (input.problem) return { ...base, due: true, why: `no earlier clean check remembered (${input.problem})` };
  const here = input.remembered.find((r) => r.location === repo.location);
  if (!here) return { ...base, due: true, why: 'no earlier clean check remembered' };
  if (here.repositoryId !== repo.id) {
    return { ...base, due: true, why: `repository id changed: the clean check of ${isoSecond(Date.parse(here.at))} was of repository ${here.repositoryId.slice(0, 16)}, ${repo.location} is now ${repo.id.slice(0, 16)}` };
  }
  const lastMs = Date.parse(here.at);
  const last = { at: here.at, repositoryId: here.repositoryId };
  if (withinWindow(lastMs, input.every, now)) return { ...base, last, due: false, why: `within backup.checkEvery ${input.every}` };
  if (now < lastMs) return { ...base, last, due: true, why: `due: the remembered clean check (${isoSecond(lastMs)}) is in the harness's future` };
  return { ...base, last, due: true, why: `due: last clean check ${shortAge(now - lastMs)} ago (backup.checkEvery ${input.every})` };
}
