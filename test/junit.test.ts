import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import builder from 'junit-report-builder';
import { describe, expect, it } from 'vitest';
import { cdata, JunitReporter } from '../src/reporters/junit.js';
import type { RunMeta, RunSummary } from '../src/reporters/types.js';
import { emptyCounts } from '../src/reporters/types.js';
import type { Result } from '../src/core/types.js';
import { identity, node, result } from './helpers/fakes.js';

// The Jenkins xUnit schema the issue names, copied into the repo (MIT, notice kept) so CI has it.
const XSD = resolve('schemas/junit-10.xsd');
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;
const why = !existsSync(XSD) ? `skipped: ${XSD} is absent` : !haveXmllint ? 'skipped: xmllint not installed (apt-get install libxml2-utils)' : '';
if (why) console.warn(`junit schema tests ${why}`);

function validate(xml: string): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-junit-'));
  const f = join(dir, 'junit.xml');
  writeFileSync(f, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, f], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stderr };
}

function xpath(xml: string, expr: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-junit-'));
  const f = join(dir, 'junit.xml');
  writeFileSync(f, xml);
  return execFileSync('xmllint', ['--xpath', expr, f], { encoding: 'utf8' }).replace(/\n$/, '');
}

const meta: RunMeta = {
  harness: { name: 'leafcert', version: '0.1.0' },
  startedAt: '2026-11-27T04:00:00.000Z',
  inventory: { path: '/srv/inventory.yaml', sha256: 'a'.repeat(64) },
  argv: ['run'],
  nodes: [node('leaf-1'), node('leaf-2')],
  planned: 6,
};

function summary(results: Result[]): RunSummary {
  const counts = emptyCounts();
  for (const r of results) counts[r.status]++;
  return { finishedAt: '2026-11-27T04:00:03.000Z', durationMs: 3000, counts, perNode: {}, exitCode: 1, interrupted: false, warnings: [] };
}

async function report(results: Result[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'leafcert-junit-'));
  const path = join(dir, 'junit.xml');
  const rep = new JunitReporter(path, () => new Date('2026-11-27T04:00:01.234Z'));
  rep.onRunStart(meta);
  for (const n of meta.nodes) {
    rep.onNodeStart(n, n.name === 'leaf-1' ? identity : {});
    for (const r of results.filter((x) => x.node === n.name)) rep.onResult(r);
    rep.onNodeEnd(n);
  }
  await rep.onRunEnd(summary(results));
  return readFileSync(path, 'utf8');
}

const mixed: Result[] = [
  result(),
  result({ id: 'firewall.port-closed', subject: '6379', status: 'fail', message: 'port 6379 is open', evidence: { expected: 'closed', observed: 'open (SYN-ACK)', source: 'tcp connect 10.250.0.2:6379' } }),
  result({ id: 'tls.min-days-left', suite: 'tls', subject: 'api:443', status: 'error', message: 'connect ETIMEDOUT', evidence: { source: 'tls handshake' } }),
  result({ id: 'isolation.private-users', suite: 'isolation', subject: 'alchemist', status: 'skipped', message: 'no user namespaces on this platform' }),
  result({ id: 'audit.runbook', suite: 'audit', subject: 'runbook', status: 'manual', message: 'a person must confirm the runbook', checklist: ['runbooks'] }),
  result({
    node: 'leaf-2',
    id: 'tls.min-days-left',
    suite: 'tls',
    subject: 'api:443',
    status: 'waived',
    originalStatus: 'fail',
    waiver: { check: 'tls.min-days-left', reason: 'renewal ticket OPS-1', approvedBy: 'sre-lead', expires: '2027-01-31' },
    evidence: { expected: '>= 21 days', observed: '12 days', source: 'tls handshake', optionPath: 'security.acme.certs' },
  }),
];

describe.skipIf(Boolean(why))('JUnit reporter', () => {
  it('writes XML valid against the Jenkins xUnit schema', async () => {
    const xml = await report(mixed);
    const v = validate(xml);
    expect(v.out).toContain('validates');
    expect(v.ok).toBe(true);
    expect(xml).not.toMatch(/<testsuites[^>]*skipped=/);
  });

  it('one testsuite per node with hostname, UTC timestamp and identity properties', async () => {
    const xml = await report(mixed);
    expect(xpath(xml, 'count(//testsuite)')).toBe('2');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@hostname)')).toBe('leaf-1');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@timestamp)')).toBe('2026-11-27T04:00:01Z');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@tests)')).toBe('5');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@failures)')).toBe('1');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@errors)')).toBe('1');
    expect(xpath(xml, 'string(//testsuite[@name="leaf-1"]/@skipped)')).toBe('2');
    const prop = (n: string, p: string) => xpath(xml, `string(//testsuite[@name="${n}"]/properties/property[@name="${p}"]/@value)`);
    expect(prop('leaf-1', 'leafcert.version')).toBe('0.1.0');
    expect(prop('leaf-1', 'node.hostname')).toBe('leaf-1');
    expect(prop('leaf-1', 'node.os')).toBe('NixOS 24.05 (Uakari)');
    expect(prop('leaf-1', 'node.nixosVersion')).toBe('24.05.20240101.abcdef');
    expect(prop('leaf-1', 'node.currentSystem')).toBe('/nix/store/abc-nixos-system-leaf-1-24.05');
    expect(prop('leaf-1', 'node.clock')).toBe('2026-11-27T04:00:00Z');
    expect(prop('leaf-1', 'inventory.path')).toBe('/srv/inventory.yaml');
    expect(prop('leaf-1', 'leafcert.complete')).toBe('true');
    // A node whose identity is unknown falls back to its address for hostname.
    expect(xpath(xml, 'string(//testsuite[@name="leaf-2"]/@hostname)')).toBe('10.250.0.6');
  });

  it('testcases: classname node.suite, name "check subject", failure with message and expected vs observed, evidence on passes', async () => {
    const xml = await report(mixed);
    const fail = '//testcase[@name="firewall.port-closed 6379"]';
    expect(xpath(xml, `string(${fail}/@classname)`)).toBe('leaf-1.firewall');
    expect(xpath(xml, `string(${fail}/failure/@message)`)).toBe('port 6379 is open');
    expect(xpath(xml, `string(${fail}/failure)`)).toBe('expected: closed\nobserved: open (SYN-ACK)\nsource: tcp connect 10.250.0.2:6379');
    const pass = xpath(xml, 'string(//testcase[@name="firewall.port-closed 5432"]/system-out)');
    expect(pass).toContain('status: pass');
    expect(pass).toContain('checklist: network-policies');
    expect(pass).toContain('expected: closed');
    expect(pass).toContain('source: iptables-save');
    expect(pass).toContain('excerpt:\n-A nixos-fw -p tcp --dport 22 -j nixos-fw-accept');
    expect(xpath(xml, 'string(//testcase[@name="tls.min-days-left api:443" and @classname="leaf-1.tls"]/error/@message)')).toBe('connect ETIMEDOUT');
    expect(xpath(xml, 'string(//testcase[@name="isolation.private-users alchemist"]/skipped/@message)')).toBe('no user namespaces on this platform');
    expect(xpath(xml, 'string(//testcase[@name="audit.runbook runbook"]/skipped/@message)')).toBe('manual: a person must confirm the runbook');
    const waived = '//testcase[@classname="leaf-2.tls"]';
    expect(xpath(xml, `string(${waived}/skipped/@message)`)).toBe('waived (fail) until 2027-01-31 by sre-lead: renewal ticket OPS-1');
    expect(xpath(xml, `string(${waived}/system-out)`)).toContain('option: security.acme.certs');
  });

  it('hostile node output (two ]]>, ANSI, control characters, huge) still gives valid XML, made visible and capped', async () => {
    const huge = 'x'.repeat(20_000);
    const nasty = `a ]]> b ]]> c \x1b[31mred\x1b[0m bell\x07 nul\x00 esc-alone\x1b vt\x0b cr\r lone\ud800 end`;
    const xml = await report([
      result({ message: `msg with ]]> and "quotes" & <tags> \x1b[1mbold\x1b[0m`, evidence: { source: 'cat /etc/motd', excerpt: nasty, observed: nasty } }),
      result({ subject: 'big', status: 'fail', evidence: { source: 'journalctl', excerpt: huge, observed: huge, expected: 'small' } }),
    ]);
    expect(validate(xml).ok).toBe(true);
    const out = xpath(xml, 'string(//testcase[@name="firewall.port-closed 5432"]/system-out)');
    expect(out.match(/]]>/g)?.length).toBe(5); // one in the message, two in observed, two in the excerpt: none lost
    expect(out).toContain('c red bell\\u0007 nul\\u0000 esc-alone\\u001b vt\\u000b cr\\u000d lone\\ud800 end');
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
    expect(xpath(xml, 'string(//testcase[@name="firewall.port-closed 5432"]/@name)')).toBe('firewall.port-closed 5432');
    const big = xpath(xml, 'string(//testcase[@name="firewall.port-closed big"]/system-out)');
    expect(big).toMatch(/… \[truncated, 20000 bytes, sha256 [0-9a-f]{64}\]/);
    expect(big.length).toBeLessThan(20_000);
  });

  it('a partial report (before the run ends) is valid and says it is incomplete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leafcert-junit-'));
    const path = join(dir, 'junit.xml');
    const rep = new JunitReporter(path);
    rep.onRunStart(meta);
    rep.onNodeStart(meta.nodes[0], identity);
    rep.onResult(mixed[1]);
    rep.onNodeEnd(meta.nodes[0]);
    rep.flush(); // what the interval timer does while the run goes on
    const xml = readFileSync(path, 'utf8');
    expect(validate(xml).ok).toBe(true);
    expect(xpath(xml, 'string(//property[@name="leafcert.complete"]/@value)')).toBe('false');
  });

  it('CDATA splitting handles every ]]>', () => {
    expect(cdata('a]]>b]]>c')).toBe('<![CDATA[a]]]]><![CDATA[>b]]]]><![CDATA[>c]]>');
  });

  it('why not junit-report-builder 5.1.2: its <testsuites skipped> fails the schema and it escapes only the first ]]>', () => {
    const b = builder.newBuilder();
    const s = b.testSuite().name('n');
    s.testCase().className('a.b').name('x').skipped();
    expect(validate(b.build()).ok).toBe(false);

    const c = builder.newBuilder();
    c.testSuite().name('n').testCase().className('a.b').name('y').standardOutput('one ]]> two ]]> three');
    const v = validate(c.build());
    expect(v.ok).toBe(false);
  });
});
