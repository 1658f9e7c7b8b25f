// A check is defined once (InSpec's control: id, impact, title, desc, tags): its suite registers it
// here at import time, and the engine, the checklist map, docs/checklist.md, the results of an
// unreachable node, the reports and --only all read it from this registry.
import type { Evidence, Outcome, Severity } from './types.js';

export interface CheckDef {
  /** Stable id, `<suite>.<check>`, e.g. `firewall.port-closed`. */
  id: string;
  suite: string;
  title: string;
  severity: Severity;
  /** Production-checklist items this check evidences (docs/checklist.md). */
  checklist: string[];
  /** What the check establishes and how, in a sentence or two. */
  description: string;
  /** What to change when it fails, with the NixOS option where there is one. */
  fix: string;
}

export type CheckSpec = Omit<CheckDef, 'id' | 'suite'>;

const registry = new Map<string, CheckDef>();

/** Registers one check; an id defined twice is a programming error, caught when the module loads. */
export function defineCheck(suite: string, name: string, spec: CheckSpec): CheckDef {
  const id = `${suite}.${name}`;
  if (registry.has(id)) throw new Error(`check ${id} is defined twice`);
  const def: CheckDef = { id, suite, ...spec, checklist: [...spec.checklist] };
  registry.set(id, def);
  return def;
}

/** Registers a suite's checks in the order given (the order of docs and of planned results). */
export function defineChecks<K extends string>(suite: string, specs: Record<K, CheckSpec>): Record<K, CheckDef> {
  const out = {} as Record<K, CheckDef>;
  for (const name of Object.keys(specs) as K[]) out[name] = defineCheck(suite, name, specs[name]);
  return out;
}

export function checkDef(id: string): CheckDef | undefined {
  return registry.get(id);
}

/** Every registered check, in registration order. */
export function allChecks(): CheckDef[] {
  return [...registry.values()];
}

/** An Outcome of a defined check: id, title, severity and checklist come from the definition. */
export function outcome(def: CheckDef, subject: string, status: Outcome['status'], message: string, evidence: Evidence, over: Partial<Pick<Outcome, 'title' | 'severity' | 'checklist'>> = {}): Outcome {
  return { id: def.id, title: over.title ?? def.title, subject, status, severity: over.severity ?? def.severity, message, evidence, checklist: over.checklist ?? def.checklist };
}
