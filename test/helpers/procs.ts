// Local process helpers for the tests that start real processes and read them back through /proc
// (cgroup-strays, isolation-netns).
import { readFileSync } from 'node:fs';

/** The children of PID (its main thread's), [] once it is gone. */
export const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** Polls f every 20 ms until it gives a value, or throws after ms. */
export async function until<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
