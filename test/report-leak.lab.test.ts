// Issue 4's promise, checked on everything a run produces: a full lab node, the WHOLE lab inventory
// (every suite, the backup round trip included), every report format plus the console — none of them
// may contain a secret value of the node (secrets.env values, the borg passphrase) or a line of the
// lab CA key. The run must really have produced secrets and backup results, so this cannot pass
// vacuously (an empty report contains nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startLab, type TestLab } from './helpers/lab.js';
import type { Result } from '../src/core/types.js';

describe('no report of a whole lab run leaks a secret', () => {
  let lab: TestLab;
  beforeAll(async () => {
    lab = await startLab({ name: 'leak', flavour: 'full' });
  }, 300_000);
  afterAll(async () => {
    await lab?.down();
  }, 300_000);

  it('JUnit, TAP, JSON, HTML and console carry no secret value, passphrase or CA key line', async () => {
    const env = await lab.exec('leaf-1', 'cat /etc/alchemist/secrets.env');
    expect(env.code).toBe(0);
    const values = env.stdout
      .split('\n')
      .filter((l) => /^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*=/.test(l))
      .map((l) => l.replace(/^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*=/, '').replace(/^["']|["']$/g, '').trim())
      .filter((v) => v.length >= 8);
    expect(values.length).toBeGreaterThanOrEqual(5);
    const pass = await lab.exec('leaf-1', 'cat /etc/borg/passphrase');
    expect(pass.code).toBe(0);
    const passphrase = pass.stdout.trim();
    expect(passphrase.length).toBeGreaterThanOrEqual(8);
    const caKey = readFileSync(join(dirname(lab.inventory), 'ca.key'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('-----'));
    expect(caKey.length).toBeGreaterThan(0);

    const dir = dirname(lab.inventory);
    const reports = { junit: join(dir, 'leak.junit.xml'), tap: join(dir, 'leak.tap'), json: join(dir, 'leak.json'), html: join(dir, 'leak.html') };
    const r = await lab.leafcert(['run', '--inventory', lab.inventory, '--allow-mutating', '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json, '--html', reports.html]);
    for (const p of Object.values(reports)) expect(existsSync(p), `${p} written (exit ${r.code}: ${r.stderr.slice(0, 400)})`).toBe(true);
    const texts: Record<string, string> = { ...Object.fromEntries(Object.entries(reports).map(([k, p]) => [k, readFileSync(p, 'utf8')])), console: r.stdout + r.stderr };

    // Not vacuous: the secrets and backup suites ran and produced verdicts (the backup round trip too).
    const results: Result[] = JSON.parse(texts.json).results;
    const determined = (suite: string) => results.filter((x) => x.suite === suite && (x.status === 'pass' || x.status === 'fail'));
    expect(determined('secrets').length).toBeGreaterThanOrEqual(3);
    expect(determined('backup').length).toBeGreaterThanOrEqual(3);
    expect(results.some((x) => x.suite === 'backup' && x.status !== 'skipped' && /restore|round/i.test(x.id))).toBe(true);

    for (const [name, text] of Object.entries(texts)) {
      expect(text.length, name).toBeGreaterThan(0);
      for (const v of values) expect(text.includes(v), `${name} contains a value of secrets.env`).toBe(false);
      expect(text.includes(passphrase), `${name} contains the borg passphrase`).toBe(false);
      for (const line of caKey) expect(text.includes(line), `${name} contains CA key material`).toBe(false);
    }
  }, 600_000);
});
