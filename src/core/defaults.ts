// Run defaults shared by `run` (the inventory's `defaults`) and `check-config` (no inventory): one
// place, so the two commands cannot drift apart.

/** Per-suite gathering timeout when neither the inventory nor --timeout says. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Nodes checked at once when neither the inventory nor --concurrency says. */
export const DEFAULT_CONCURRENCY = 8;
