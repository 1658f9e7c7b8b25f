// The lab's state dir: lab.json (what is up), journal (every resource, recorded BEFORE it is
// created, so `down` can undo a half-built `up`), and the marker that makes it safe to delete.
import { appendFileSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { LabInfo } from './types.js';

export type Resource =
  | { kind: 'netns'; name: string }
  | { kind: 'link'; name: string }
  | { kind: 'pid'; pid: number; node: string }
  | { kind: 'cgroup'; path: string }
  | { kind: 'lock'; path: string };

export interface LabState {
  version: 1;
  id: string;
  flavour: 'full' | 'light' | 'systemd';
  firewall: 'iptables' | 'nftables';
  blocks: number[];
  createdAt: string;
  info: LabInfo;
}

export const MARKER = '.leafcert-lab';

/** Short id derived from the absolute state path: names and subnets of concurrent labs differ. */
export function labId(state: string): string {
  return createHash('sha256').update(resolve(state)).digest('hex').slice(0, 6);
}

export function ensureStateDir(state: string): void {
  mkdirSync(state, { recursive: true });
  const marker = join(state, MARKER);
  if (!existsSync(marker)) writeFileSync(marker, JSON.stringify({ id: labId(state) }) + '\n');
}

export function isLabDir(state: string): boolean {
  return existsSync(join(state, MARKER));
}

export function record(state: string, r: Resource): void {
  appendFileSync(join(state, 'journal'), JSON.stringify(r) + '\n');
}

export function journal(state: string): Resource[] {
  const f = join(state, 'journal');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Resource];
      } catch {
        return [];
      }
    });
}

export function readState(state: string): LabState | undefined {
  const f = join(state, 'lab.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as LabState) : undefined;
}

export function writeState(state: string, s: LabState): void {
  writeFileSync(join(state, 'lab.json'), JSON.stringify(s, null, 2) + '\n');
}
