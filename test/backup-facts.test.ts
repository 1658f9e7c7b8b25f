// backup.encryption and backup.off-node: judged on recorded `borg list --json` output of real borg
// 1.2.4 (fixtures/borg/list-*.json: a local repokey repository, local `none` and
// `authenticated-blake2` ones, and repokey-blake2 ones reached as ssh://borg@backup.example.net/./leaf-repo
// and ssh://root@localhost:2222/./leaf-repo — recorded with BORG_RSH pointing at a script that runs
// `borg serve` locally, so the location is borg's own canonical ssh form without any network), and
// what plan --from-nix emits for them. The lab cannot host an off-node repository (its repository
// is on the node), so off-node's pass and fail are proven here; encryption also in backup.lab.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBorgList } from '../src/probes/borg.js';
import type { BackupFacts } from '../src/probes/backup.js';
import { loadManifest } from '../src/nix/manifest.js';
import { planInventory } from '../src/nix/plan.js';
import { parseInventory } from '../src/inventory/load.js';
import { backupSuite, evaluate, fromManifest, type BackupExpect } from '../suites/backup.js';
import { judgeEncryption, judgeOffNode, repoPlace } from '../suites/backup/judge.js';

const root = join(import.meta.dirname, '..');
const fx = (f: string) => readFileSync(join(root, 'fixtures/borg', f), 'utf8');
const facts = (file: string): BackupFacts => {
  const text = fx(file);
  return { job: 'alchemist', wrapper: 'borg-job-alchemist', list: { ok: true, value: parseBorgList(text), source: 'borg-job-alchemist list --json', excerpt: text.slice(0, 600) } } as unknown as BackupFacts;
};
const EXP: BackupExpect = { job: 'alchemist', maxAge: '26h' };

describe('backup.encryption on recorded borg list --json', () => {
  it('repokey passes; none and authenticated-blake2 fail (they do not encrypt)', () => {
    expect(judgeEncryption(facts('list.json'), EXP).status).toBe('pass');
    const none = judgeEncryption(facts('list-none.json'), { ...EXP, encryption: 'repokey' });
    expect(none.status).toBe('fail');
    expect(none.message).toMatch(/none: archives are neither encrypted nor authenticated \(declared repokey\)/);
    expect(judgeEncryption(facts('list-authenticated.json'), EXP).message).toMatch(/authenticated but not encrypted/);
  });
  it('a mode other than the declared one fails; the declared one passes', () => {
    expect(judgeEncryption(facts('list-ssh.json'), { ...EXP, encryption: 'repokey-blake2' }).status).toBe('pass');
    const other = judgeEncryption(facts('list-ssh.json'), { ...EXP, encryption: 'keyfile-blake2' });
    expect(other.status).toBe('fail');
    expect(other.evidence.observed).toEqual({ mode: 'repokey-blake2', location: 'ssh://borg@backup.example.net/./leaf-repo' });
  });
  it('no listing: error, never pass', () => {
    const f = { job: 'alchemist', wrapper: 'borg-job-alchemist', list: { ok: false, reason: 'passphrase rejected', source: 'borg list' } } as unknown as BackupFacts;
    expect(judgeEncryption(f, EXP).status).toBe('error');
    expect(judgeOffNode(f, { ...EXP, offNode: true }).status).toBe('error');
  });
});

describe('backup.off-node on recorded borg list --json', () => {
  it('declared off the node: ssh:// elsewhere passes, a local path or ssh to loopback fails', () => {
    const ok = judgeOffNode(facts('list-ssh.json'), { ...EXP, offNode: true });
    expect(ok.status).toBe('pass');
    expect(ok.message).toContain('backup.example.net');
    const local = judgeOffNode(facts('list.json'), { ...EXP, offNode: true });
    expect(local.status).toBe('fail');
    expect(local.message).toMatch(/at \/tmp\/ops\/repo on the node itself/);
    expect(judgeOffNode(facts('list-loopback.json'), { ...EXP, offNode: true }).message).toMatch(/loopback/);
  });
  it('offNode false or absent: skipped with the reason', () => {
    expect(judgeOffNode(facts('list.json'), { ...EXP, offNode: false }).status).toBe('skipped');
    expect(judgeOffNode(facts('list.json'), EXP).status).toBe('skipped');
  });
  it('a location borg would not print: error', () => {
    const f = facts('list.json');
    (f.list as any).value.repository.location = 'something odd';
    expect(judgeOffNode(f, { ...EXP, offNode: true }).status).toBe('error');
  });
  it('repoPlace reads borg and configuration forms', () => {
    expect(repoPlace('/var/lib/borgbackup/x')).toEqual({ remote: false });
    expect(repoPlace('file:///srv/x')).toEqual({ remote: false });
    expect(repoPlace('ssh://borg@backup:2222/./repo')).toEqual({ remote: true, host: 'backup', loopback: false });
    expect(repoPlace('borg@backup.example:repo')).toEqual({ remote: true, host: 'backup.example', loopback: false });
    expect(repoPlace('ssh://u@[::1]:22/r')).toEqual({ remote: true, host: '::1', loopback: true });
    expect(repoPlace('ssh://127.0.0.1/r')?.loopback).toBe(true);
    expect(repoPlace('')).toBeUndefined();
  });
  it('both are skipped, never judged, while the job runs', () => {
    const f = { ...facts('list.json'), units: { ok: false, skipped: 'no systemd', source: 'systemctl show' }, clock: { ok: true, value: { now: Date.now() / 1000, tz: '+0000' }, source: 'date' }, jobRunning: { state: 'active', source: 'systemctl is-active' } } as unknown as BackupFacts;
    const os = evaluate(f, { ...EXP, offNode: true, encryption: 'repokey' }, { options: { allowMutating: false } });
    for (const id of ['backup.encryption', 'backup.off-node']) expect(os.find((o) => o.id === id)!.status).toBe('skipped');
  });
});

describe('plan --from-nix emits offNode and encryption', () => {
  it('the example job backs up over ssh with repokey-blake2; the guide-as-written one to a local path with no mode', () => {
    const cite: [string, string][] = [];
    const ex = fromManifest(loadManifest(join(root, 'fixtures/nix/example.manifest.json')), (s, o) => cite.push([s.join('.'), o]))!;
    expect(ex).toMatchObject({ offNode: true, encryption: 'repokey-blake2' });
    expect(cite).toContainEqual(['backup.offNode', 'services.borgbackup.jobs.alchemist.repo']);
    expect(cite).toContainEqual(['backup.encryption', 'services.borgbackup.jobs.alchemist.encryption.mode']);
    const gw = fromManifest(loadManifest(join(root, 'fixtures/nix/guide-as-written.manifest.json')), () => undefined)!;
    expect(gw.offNode).toBe(false);
    expect(gw.encryption).toBeUndefined();
    const aw = fromManifest(loadManifest(join(root, 'fixtures/nix/alchemist-as-written.manifest.json')), () => undefined)!;
    expect(aw).toMatchObject({ offNode: false, encryption: 'repokey' });
  });
  it('a repository over ssh to the node itself is not off the node', () => {
    const m = loadManifest(join(root, 'fixtures/nix/example.manifest.json'));
    m.host.borg[0].repo = 'ssh://borg@localhost/./repo';
    expect(fromManifest(m, () => undefined)!.offNode).toBe(false);
  });
  it('the planned inventory loads with the backup schema', () => {
    const file = join(root, 'fixtures/nix/example.manifest.json');
    const p = planInventory(loadManifest(file), { manifestFile: file, outFile: join(root, 'fixtures/nix/inventory.yaml'), suiteKeys: ['backup'] });
    expect(() => parseInventory(p.yaml, join(root, 'fixtures/nix/inventory.yaml'), { suites: [backupSuite] })).not.toThrow();
    const [name] = Object.keys((p.inventory as any).expectations);
    expect(p.optionPaths[`expectations.${name}.backup.encryption`]).toBe('services.borgbackup.jobs.alchemist.encryption.mode');
  });
});
