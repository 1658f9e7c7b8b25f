// What each config judge returns: one observation of the manifest, turned into an Outcome of the
// judge's check by suites/config.ts (pass, fail, or skipped when nothing of the kind is declared).
export interface Finding {
  subject: string;
  pass: boolean;
  /** Nothing to judge (nothing of the kind declared): `skipped` with `message` as the reason, never a pass. */
  skipped?: boolean;
  message: string;
  optionPath: string;
  expected?: unknown;
  observed?: unknown;
  excerpt?: string;
}

/** Subjects inside a container are prefixed with where they are (`container monitoring: …`). */
export const prefix = (where: string) => (where === 'host' ? '' : `${where}: `);
