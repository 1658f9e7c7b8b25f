// One "value or why there is none" for every gathered fact (was Step, Probe and Fetched). A check
// turns a missing fact into `error`, never a pass or a fail: a verdict is a fact observed.

export type Fact<T> =
  | { ok: true; value: T; source: string; excerpt?: string }
  | { ok: false; reason: string; source: string; excerpt?: string };

export function factOk<T>(value: T, source: string, excerpt?: string): Fact<T> {
  return excerpt === undefined ? { ok: true, value, source } : { ok: true, value, source, excerpt };
}

export function factMissing<T = never>(reason: string, source: string, excerpt?: string): Fact<T> {
  return excerpt === undefined ? { ok: false, reason, source } : { ok: false, reason, source, excerpt };
}

/** The one sentence an error carries: the message of an Error, else the value as text. */
export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs a gathering step; a thrown transport or parse error becomes a missing fact with its sentence. */
export async function gatherFact<T>(source: string, step: () => Promise<T>): Promise<Fact<T>> {
  try {
    return factOk(await step(), source);
  } catch (e) {
    const excerpt = (e as { excerpt?: unknown })?.excerpt;
    return factMissing(reasonOf(e), source, typeof excerpt === 'string' ? excerpt : undefined);
  }
}
