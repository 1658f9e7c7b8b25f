// Runs Debian's nix-instantiate (nix-bin 2.8: plain Nix, no nixpkgs) for the Nix tests, without
// touching /nix: read-only mode and a throwaway state directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export const nixInstantiate = spawnSync('nix-instantiate', ['--version'], { encoding: 'utf8' }).status === 0;
export const skipReason = 'nix-instantiate not found: install nix-bin (apt-get install nix-bin) to run the Nix tests';

const stateDir = mkdtempSync(join(tmpdir(), 'leafcert-nix-state-'));

export function nix(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('nix-instantiate', ['--readonly-mode', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    // No builds happen here: without build users Nix would warn on every call when the machine has no nixbld group.
    env: { ...process.env, NIX_STATE_DIR: stateDir, NIX_LOG_DIR: join(stateDir, 'log'), NIX_PATH: '', NIX_CONFIG: 'build-users-group =' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `(import nix/lib/manifest.nix) (import FILE)` as parsed JSON; throws with nix's message on failure. */
export function evalManifest(configExpr: string): unknown {
  const r = nix(['--eval', '--strict', '--json', '-E', `(import ./nix/lib/manifest.nix) (${configExpr})`]);
  if (r.code !== 0) throw new Error(`nix-instantiate failed (${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** Every .nix file of the repository (not node_modules, dist, lab state). */
export function nixFiles(dir = repoRoot): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    if (['node_modules', 'dist', '.git', 'reports'].includes(e) || e.startsWith('.lab')) continue;
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...nixFiles(p));
    else if (e.endsWith('.nix')) out.push(relative(repoRoot, p));
  }
  return out.sort();
}
