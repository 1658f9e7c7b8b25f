// Secrets on a node whose PID 1 is systemd (`lab up --flavour systemd`): the journal is searched
// (and said so in the evidence), the ACME key the renewal unit deploys is found without being listed,
// and a secret value written into the journal fails secrets.exposure until the journal is cleared.
// Root only (the systemd flavour creates namespaces, cgroups and mounts).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up, down } from '../src/lab/lab.js';
import { nodeSh } from '../src/lab/proc.js';
import type { LabInfo } from '../src/lab/types.js';
import type { Result } from '../src/core/types.js';
import { repoRoot, runCli } from './helpers/lab.js';

const isRoot = process.getuid?.() === 0;
const STATE = join(repoRoot, '.lab-test-secrets-systemd');
const ENV = '/etc/alchemist/secrets.env';

describe.skipIf(!isRoot)('secrets on a systemd lab node', { timeout: 180_000 }, () => {
  let lab: LabInfo;
  let inv: string;
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-secrets-systemd-'));
  const sh = (cmd: string) => nodeSh(lab.nodes[0]!.initPid, cmd, { timeoutMs: 60_000 });
  async function run(): Promise<Result[]> {
    const json = join(dir, `run-${Date.now()}.json`);
    const r = await runCli(['run', '--inventory', inv, '--json', json]);
    if (!existsSync(json)) throw new Error(`leafcert run wrote no report (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
    return JSON.parse(readFileSync(json, 'utf8')).results as Result[];
  }
  const exposure = (rs: Result[]) => rs.find((r) => r.id === 'secrets.exposure' && r.subject === ENV)!;

  beforeAll(async () => {
    lab = await up({ state: STATE, nodes: 1, flavour: 'systemd', firewall: 'iptables' });
    const doc = YAML.parse(readFileSync(lab.inventory, 'utf8'));
    for (const e of Object.values<Record<string, unknown>>(doc.expectations)) for (const k of Object.keys(e)) if (k !== 'secrets') delete e[k];
    inv = join(STATE, 'inventory-secrets.yaml');
    writeFileSync(inv, YAML.stringify(doc));
  }, 900_000); // on a fresh CI machine the rootfs may still be building (LEAFCERT_ROOTFS_BACKGROUND)
  afterAll(async () => {
    if (existsSync(STATE)) await down(STATE);
  }, 300_000);

  it('healthy: every secrets check passes; the journal was searched; the ACME key is found without being listed', async () => {
    const rs = (await run()).filter((r) => r.suite === 'secrets');
    expect(rs.filter((r) => r.status !== 'pass').map((r) => `${r.id} ${r.subject}: ${r.status} ${r.message}`)).toEqual([]);
    expect((exposure(rs).evidence.observed as any).searched.journal).toBe('the newest 100000 messages (journalctl -o cat)');
    expect(rs.find((r) => r.id === 'secrets.discovered-permissions' && r.subject.startsWith('/var/lib/acme/'))?.status).toBe('pass');
  });

  it('a secret value logged to the journal: secrets.exposure fails naming the journal; cleared journal: pass', async () => {
    await sh(`sed -n 's/^JWT_SECRET=//p' ${ENV} | systemd-cat -t alchemist-api -p debug; sleep 1`);
    try {
      const o = exposure(await run());
      expect(o.status).toBe('fail');
      expect(o.message).toMatch(/JWT_SECRET \(sha256:[0-9a-f]{8} \(48 chars\)\) in the journal/);
    } finally {
      await sh('journalctl --rotate >/dev/null 2>&1; journalctl --vacuum-time=1s >/dev/null 2>&1; true');
    }
    expect(exposure(await run()).status).toBe('pass');
  });
});
