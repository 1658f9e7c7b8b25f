// Per-check metadata for reports, read from the check registry (InSpec's control fields: title,
// desc, impact, refs), and the digest of the check set a run used, so two reports can be shown to
// have judged by the same definitions.
import { createHash } from 'node:crypto';
import { CHECKLIST } from '../checklist.js';
import { checkDef, type CheckDef } from '../core/checks.js';
import type { Severity } from '../core/types.js';

/** InSpec's impact scale, so reports can be read by tools built for it. */
export const IMPACT: Record<Severity, number> = { critical: 1.0, high: 0.7, medium: 0.5, low: 0.3, info: 0.0 };

export interface CheckMeta {
  title: string;
  severity: Severity;
  impact: number;
  description: string;
  fix: string;
  /** Production-checklist items the check evidences, as `docs/checklist.md` names them. */
  references: string[];
}

const itemTitle = new Map(CHECKLIST.map((i) => [i.id, i.title]));

/** A check's metadata, or undefined for an id the registry does not know (a test's fake check). */
export function checkMeta(id: string): CheckMeta | undefined {
  const d = checkDef(id);
  if (!d) return undefined;
  return {
    title: d.title,
    severity: d.severity,
    impact: IMPACT[d.severity],
    description: d.description,
    fix: d.fix,
    references: d.checklist.map((i) => `docs/checklist.md: ${i}${itemTitle.has(i) ? ` (${itemTitle.get(i)})` : ''}`),
  };
}

export interface CheckSet {
  /** Check ids, sorted. */
  ids: string[];
  /** sha256 (hex) of the ids and their definitions, canonical JSON (sorted ids, fixed key order). */
  sha256: string;
}

function canonical(d: CheckDef | undefined, id: string): object {
  if (!d) return { id };
  return { id: d.id, suite: d.suite, title: d.title, severity: d.severity, checklist: d.checklist, description: d.description, fix: d.fix };
}

/** The digest of a set of checks: same ids with the same definitions ⇔ same digest. */
export function checkSet(ids: Iterable<string>): CheckSet {
  const sorted = [...new Set(ids)].sort();
  const text = JSON.stringify(sorted.map((id) => canonical(checkDef(id), id)));
  return { ids: sorted, sha256: createHash('sha256').update(text).digest('hex') };
}
