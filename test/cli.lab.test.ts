// leafcert run end to end over real SSH against a lab node: the exit codes CI gates on, and the
// three reports, for a healthy node, a firewall fault, an unreachable node and a changed host key.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Parser } from 'tap-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { makeAjv } from '../src/inventory/validate.js';
import { suites } from '../src/suites.js';
import { startLab, type TestLab } from './helpers/lab.js';

const XSD = resolve('schemas/junit-10.xsd');
const evidence = makeAjv().compile(JSON.parse(readFileSync('schemas/evidence.schema.json', 'utf8')));
const isRoot = process.getuid?.() === 0;

function tapSummary(text: string): any {
  let summary: any;
  const p = new Parser({ strict: true }, (s) => (summary = s));
  p.end(text);
  return summary;
}

function xmlValid(path: string): boolean {
  return spawnSync('xmllint', ['--noout', '--schema', XSD, path]).status === 0;
}

function xpath(path: string, expr: string): string {
  return execFileSync('xmllint', ['--xpath', expr, path], { encoding: 'utf8' }).replace(/\n$/, '');
}

describe.skipIf(!isRoot)('leafcert run against a lab node', () => {
  let lab: TestLab;
  let dir: string;
  let base: any;

  /** The lab's inventory, limited to the suites registered here, with relative paths made absolute; `edit` may change it. */
  function inventory(name: string, edit: (inv: any) => void = () => undefined): string {
    const inv = structuredClone(base);
    edit(inv);
    const p = join(dir, `${name}.yaml`);
    writeFileSync(p, stringify(inv));
    return p;
  }

  async function run(inv: string, tag: string) {
    const reports = { junit: join(dir, `${tag}.xml`), tap: join(dir, `${tag}.tap`), json: join(dir, `${tag}.json`) };
    const r = await lab.leafcert(['run', '-i', inv, '--junit', reports.junit, '--tap', reports.tap, '--json', reports.json, '--timeout', '30']);
    return { ...r, reports, doc: JSON.parse(readFileSync(reports.json, 'utf8')), tap: readFileSync(reports.tap, 'utf8') };
  }

  beforeAll(async () => {
    lab = await startLab({ name: 'cli', nodes: 1, flavour: 'light' });
    dir = mkdtempSync(join(tmpdir(), 'leafcert-cli-lab-'));
    const raw = parse(readFileSync(lab.inventory, 'utf8'));
    const labDir = dirname(lab.inventory);
    const known = new Set(suites.map((s) => s.key));
    for (const exp of Object.values(raw.expectations) as Record<string, unknown>[]) {
      for (const k of Object.keys(exp)) if (!known.has(k)) delete exp[k];
    }
    for (const n of raw.nodes) {
      for (const k of ['identityFile', 'knownHosts'] as const) if (n.ssh?.[k]) n.ssh[k] = resolve(labDir, n.ssh[k]);
    }
    base = raw;
  });

  afterAll(async () => {
    await lab?.down();
  });

  it('a healthy node: exit 0, and the JUnit, TAP and JSON reports are valid', async () => {
    const r = await run(inventory('healthy'), 'healthy');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('CERTIFIED');
    expect(xmlValid(r.reports.junit)).toBe(true);
    expect(xpath(r.reports.junit, 'string(//testsuite/@hostname)')).toBe('leaf-1');
    expect(xpath(r.reports.junit, 'string(//property[@name="node.hostname"]/@value)')).toBe('leaf-1');
    expect(tapSummary(r.tap).ok).toBe(true);
    expect(evidence(r.doc), JSON.stringify(evidence.errors)).toBe(true);
    expect(r.doc.results.length).toBeGreaterThan(0);
    expect(r.doc.results.every((x: any) => x.status === 'pass' || x.status === 'skipped' || x.status === 'manual')).toBe(true);
    expect(r.doc.nodes[0].identity.hostname).toBe('leaf-1');
  });

  it('a firewall fault: exit 1 and the JUnit names the failing check on the node', async () => {
    await lab.fault('leaf-1', 'firewall-extra-port');
    try {
      const r = await run(inventory('fault'), 'fault');
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(xmlValid(r.reports.junit)).toBe(true);
      const failed = xpath(r.reports.junit, '//testcase[failure]/@name');
      expect(failed).toMatch(/firewall\.\S+ .*6379/);
      expect(xpath(r.reports.junit, 'string(//testcase[failure][1]/@classname)')).toBe('leaf-1.firewall');
      expect(r.stdout).toMatch(/FAIL leaf-1 firewall\./);
      expect(tapSummary(r.tap).ok).toBe(false);
      expect(evidence(r.doc)).toBe(true);
    } finally {
      await lab.heal('leaf-1', 'firewall-extra-port');
    }
  });

  it('an unreachable node beside a healthy one: exit 3, error results for it in every report, the healthy node still certified', async () => {
    const inv = inventory('unreachable', (i) => {
      const n = i.nodes[0];
      // Inside the lab's subnet, on a port where nothing listens (the firewall drops it).
      i.nodes.push({ ...structuredClone(n), name: 'leaf-ghost', port: 2222, ssh: { ...n.ssh, connectTimeout: '2s' } });
    });
    const r = await run(inv, 'unreachable');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/ERROR leaf-ghost .*\(\d+ checks\): .*(handshake|refused|timed out)/);
    const ghost = r.doc.results.filter((x: any) => x.node === 'leaf-ghost');
    expect(ghost.length).toBeGreaterThan(0);
    expect(ghost.every((x: any) => x.status === 'error')).toBe(true);
    expect(r.doc.results.filter((x: any) => x.node === 'leaf-1').every((x: any) => x.status !== 'error' && x.status !== 'fail')).toBe(true);
    expect(evidence(r.doc)).toBe(true);
    expect(xmlValid(r.reports.junit)).toBe(true);
    expect(Number(xpath(r.reports.junit, 'string(//testsuite[@name="leaf-ghost"]/@errors)'))).toBe(ghost.length);
    const tap = tapSummary(r.tap);
    expect(tap.ok).toBe(false);
    expect(tap.failures.filter((f: any) => f.name.startsWith('leaf-ghost.')).length).toBe(ghost.length);
  });

  it('a command that hangs on the node: that suite errors with the timeout, the other suites still pass, exit 3', async () => {
    // Inside the node only (its /etc and /usr/local are per-node overlays): iptables-save never returns.
    const orig = (await lab.exec('leaf-1', 'readlink /etc/alternatives/iptables-save')).stdout.trim();
    expect(orig).not.toBe('');
    await lab.exec('leaf-1', "printf '#!/bin/sh\\necho $$ >> /run/hang-iptables-save.pids\\nexec sleep 600\\n' > /usr/local/bin/hang-iptables-save && chmod +x /usr/local/bin/hang-iptables-save && ln -sfn /usr/local/bin/hang-iptables-save /etc/alternatives/iptables-save");
    try {
      const inv = inventory('hang');
      const reports = { junit: join(dir, 'hang.xml'), json: join(dir, 'hang.json') };
      const r = await lab.leafcert(['run', '-i', inv, '--junit', reports.junit, '--json', reports.json, '--timeout', '3']);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      const doc = JSON.parse(readFileSync(reports.json, 'utf8'));
      const fw = doc.results.filter((x: any) => x.suite === 'firewall');
      expect(fw.length).toBeGreaterThan(0);
      expect(fw.every((x: any) => x.status === 'error' && /did not finish within 3s|timed out|timeout/i.test(x.message))).toBe(true);
      const others = doc.results.filter((x: any) => x.suite !== 'firewall');
      expect(others.length).toBeGreaterThan(0);
      expect(others.every((x: any) => x.status !== 'error' && x.status !== 'fail')).toBe(true);
      expect(evidence(doc)).toBe(true);
      expect(xmlValid(reports.junit)).toBe(true);
    } finally {
      // End only the sleeps this test started, by their node-local PIDs.
      await lab.exec('leaf-1', `ln -sfn ${orig} /etc/alternatives/iptables-save; [ -f /run/hang-iptables-save.pids ] && kill $(cat /run/hang-iptables-save.pids) 2>/dev/null; rm -f /run/hang-iptables-save.pids /usr/local/bin/hang-iptables-save`);
    }
  });

  it('output the parser does not expect: that suite errors naming the source, never a pass, exit 3', async () => {
    const orig = (await lab.exec('leaf-1', 'readlink /etc/alternatives/iptables-save')).stdout.trim();
    expect(orig).not.toBe('');
    await lab.exec('leaf-1', "printf '#!/bin/sh\\necho \"*filter\"\\necho \"this is not iptables-save output ]]> \\\\033[31m\"\\necho COMMIT\\n' > /usr/local/bin/garbled-iptables-save && chmod +x /usr/local/bin/garbled-iptables-save && ln -sfn /usr/local/bin/garbled-iptables-save /etc/alternatives/iptables-save");
    try {
      const r = await run(inventory('garbled'), 'garbled');
      expect(r.code, r.stdout + r.stderr).toBe(3);
      const fw = r.doc.results.filter((x: any) => x.suite === 'firewall');
      expect(fw.some((x: any) => x.status === 'error' && /iptables-save/.test(x.message + x.evidence.source))).toBe(true);
      expect(fw.filter((x: any) => x.status === 'pass' && /enabled|allowed-ports|drift/.test(x.id))).toEqual([]);
      expect(evidence(r.doc)).toBe(true);
      expect(xmlValid(r.reports.junit)).toBe(true);
      expect(tapSummary(r.tap).ok).toBe(false);
    } finally {
      await lab.exec('leaf-1', `ln -sfn ${orig} /etc/alternatives/iptables-save; rm -f /usr/local/bin/garbled-iptables-save`);
    }
  });

  it('a key the node does not accept: exit 3, naming authentication', async () => {
    const other = join(dir, 'other_client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const inv = inventory('wrongkey', (i) => {
      i.nodes[0].ssh = { ...i.nodes[0].ssh, identityFile: other };
    });
    const r = await run(inv, 'wrongkey');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/authentication/i);
    expect(r.doc.results.length).toBeGreaterThan(0);
    expect(r.doc.results.every((x: any) => x.status === 'error' && /authentication/i.test(x.message))).toBe(true);
  });

  it('a changed host key: exit 3, naming the host key, nothing passes on that node', async () => {
    const kh = join(dir, 'known_hosts.changed');
    const other = join(dir, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pub = readFileSync(`${other}.pub`, 'utf8').trim().split(' ');
    writeFileSync(kh, `${lab.info.nodes[0].address} ${pub[0]} ${pub[1]}\n`);
    const inv = inventory('hostkey', (i) => {
      i.nodes[0].ssh = { ...i.nodes[0].ssh, knownHosts: kh };
    });
    const r = await run(inv, 'hostkey');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/host key/i);
    expect(r.doc.results.length).toBeGreaterThan(0);
    expect(r.doc.results.every((x: any) => x.status === 'error' && /host key/i.test(x.message))).toBe(true);
    expect(evidence(r.doc)).toBe(true);
    expect(xmlValid(r.reports.junit)).toBe(true);
  });
});
