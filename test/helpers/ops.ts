// Shared by the backup/monitoring/audit lab tests: run the built CLI on a lab with only some
// suites' expectations, and read the JSON evidence back.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { TestLab } from './lab.js';

export interface ReportResult {
  id: string;
  status: string;
  subject: string;
  message: string;
  node: string;
  evidence: Record<string, unknown>;
}

let seq = 0;

/** Inventory of the lab restricted to `keys` (written beside the lab's own, so relative paths hold). */
export function opsInventory(lab: TestLab, keys: string[], patch?: (e: Record<string, any>) => void): string {
  const inv = parse(readFileSync(lab.inventory, 'utf8')) as { expectations: Record<string, Record<string, unknown>> };
  for (const e of Object.values(inv.expectations)) {
    for (const k of Object.keys(e)) if (!keys.includes(k)) delete e[k];
    patch?.(e);
  }
  const file = join(lab.info.state, `ops-${process.pid}-${++seq}.yaml`);
  writeFileSync(file, stringify(inv));
  return file;
}

export async function runChecks(lab: TestLab, keys: string[], extra: string[] = [], patch?: (e: Record<string, any>) => void): Promise<{ code: number | null; results: ReportResult[]; stderr: string }> {
  const inv = opsInventory(lab, keys, patch);
  const out = join(lab.info.state, `report-${process.pid}-${++seq}.json`);
  const r = await lab.leafcert(['run', '--inventory', inv, '--only', keys.join(','), '--json', out, ...extra]);
  let results: ReportResult[] = [];
  try {
    results = JSON.parse(readFileSync(out, 'utf8')).results;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${r.stderr.slice(0, 800)} ${r.stdout.slice(0, 800)}`);
  }
  return { code: r.code, results, stderr: r.stderr };
}

export const statusOf = (rs: ReportResult[], id: string) => {
  const r = rs.filter((x) => x.id === id);
  if (!r.length) throw new Error(`no result for ${id}; got ${rs.map((x) => x.id).join(', ')}`);
  return r.length === 1 ? r[0].status : r.map((x) => x.status).join(',');
};

export const resultOf = (rs: ReportResult[], id: string) => rs.find((x) => x.id === id)!;
