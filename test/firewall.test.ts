import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { firewallSuite, parseFirewallOutput, type FirewallExpect, type FirewallFacts } from '../suites/firewall.js';
import { MARK } from '../src/probes/sections.js';
import type { TcpProbe } from '../src/probes/tcp.js';

const fx = (n: string) => readFileSync(new URL(`../fixtures/${n}`, import.meta.url), 'utf8');

/** What the node prints for FIREWALL_SCRIPT. */
function output(parts: Record<string, { text: string; rc?: number; stderr?: string }>): string {
  return Object.entries(parts)
    .map(([k, v]) => `${MARK} ${k}\n${v.text}\n${MARK}-rc ${k} ${v.rc ?? 0}\n${v.stderr ? `${MARK}-stderr ${k}\n${v.stderr}\n${MARK}-stderr-end ${k}\n` : ''}`)
    .join('');
}
const SS = 'LISTEN 0      511          0.0.0.0:443        0.0.0.0:*\nLISTEN 0      128          0.0.0.0:22         0.0.0.0:*\nLISTEN 0      244        127.0.0.1:5432       0.0.0.0:*\nLISTEN 0      511          0.0.0.0:80         0.0.0.0:*\nLISTEN 0      511             [::]:80            [::]:*';
const NOT_FOUND = { text: '', rc: 127, stderr: 'sh: 1: nft: not found' };

const alchemist: FirewallExpect = {
  open: [22, 80, 443, 3000, 8080, '6333-6334'],
  closed: [5432, 6379],
  udp: [53],
  interfaces: { eth0: { tcp: [9100] } },
  trusted: ['br-alchemist'],
  refuse: 'drop',
  extraRules: [
    'iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080',
    'iptables -t nat -A PREROUTING -p tcp --dport 3000 -j DNAT --to-destination 10.233.2.2:3000',
  ],
};

const probe = (port: number, state: TcpProbe['state'], detail = state === 'open' ? 'connected' : state === 'refused' ? 'ECONNREFUSED' : 'no answer within 1500 ms'): TcpProbe => ({ host: '10.250.0.2', port, state, ms: 3, detail });

function facts(out: string, e: FirewallExpect, probes?: FirewallFacts['probes']): FirewallFacts {
  return {
    ...parseFirewallOutput(out, e),
    target: '10.250.0.2',
    probeTimeoutMs: 1500,
    probes: probes ?? {
      open: (e.open.filter((p) => typeof p === 'number') as number[]).map((p) => probe(p, 'open')),
      closed: (e.closed ?? []).map((p) => probe(p, 'filtered')),
    },
  };
}
const byId = (os: ReturnType<typeof firewallSuite.evaluate>, id: string) => os.filter((o) => o.id === id);
const ctx = {} as never;

describe('firewall suite', () => {
  const healthy = output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });

  it('passes every check on the healthy alchemist node, with evidence', () => {
    const os = firewallSuite.evaluate(facts(healthy, alchemist), alchemist, ctx);
    expect(os.map((o) => `${o.id}:${o.status}`)).toEqual([
      'firewall.enabled:pass', 'firewall.default-drop:pass', 'firewall.allowed-ports:pass', 'firewall.drift:pass',
      ...[22, 80, 443, 3000, 8080].map(() => 'firewall.port-open:pass'),
      'firewall.port-closed:pass', 'firewall.port-closed:pass',
    ]);
    for (const o of os) {
      expect(o.evidence.source).toBeTruthy();
      expect(o.checklist).toEqual(['network-policies']);
    }
    expect(byId(os, 'firewall.port-closed')[0].message).toMatch(/filtered.*node listens on 127.0.0.1:5432/);
  });

  it('an extra allowed port fails allowed-ports; an inserted rule also fails drift', () => {
    const out = output({ 'iptables-save': { text: fx('iptables/tool-open.v4.save') }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
    expect(byId(os, 'firewall.allowed-ports')[0].message).toMatch(/ipv4 tcp: expected 22,80,443,3000,6333-6334,8080, observed 22,80,443,3000,5432,6333-6334,8080/);
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
    expect(byId(os, 'firewall.enabled')[0].status).toBe('pass');
  });

  it('a port accepted straight in nixos-fw (-j ACCEPT, v6 only) fails allowed-ports as well as drift', () => {
    const v6 = fx('iptables/alchemist.v6.save').replace(/^(-A nixos-fw .*\n)/m, '-A nixos-fw -p tcp -m tcp --dport 6379 -j ACCEPT\n$1');
    expect(v6).toContain('--dport 6379 -j ACCEPT');
    const out = output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: v6 }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
    expect(byId(os, 'firewall.allowed-ports')[0].message).toMatch(/ipv6 tcp: .*observed [^;]*6379/);
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
    // A source-restricted accept is drift, not an open port.
    const v6s = fx('iptables/alchemist.v6.save').replace(/^(-A nixos-fw .*\n)/m, '-A nixos-fw -s 2001:db8::/64 -p tcp -m tcp --dport 6379 -j ACCEPT\n$1');
    const os2 = firewallSuite.evaluate(facts(output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: v6s }, nft: NOT_FOUND, ss: { text: SS } }), alchemist), alchemist, ctx);
    expect(byId(os2, 'firewall.allowed-ports')[0].status).toBe('pass');
    expect(byId(os2, 'firewall.drift')[0].status).toBe('fail');
  });

  it('undeclared DNAT is drift', () => {
    const e = { ...alchemist, extraRules: [] };
    const os = firewallSuite.evaluate(facts(healthy, e), e, ctx);
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
    expect(byId(os, 'firewall.drift')[0].message).toMatch(/DNAT of 8080/);
  });

  it('a refuse chain that accepts fails default-drop (not enabled)', () => {
    const text = fx('iptables/alchemist.v4.save').replace('-A nixos-fw-refuse -j DROP', '-A nixos-fw-refuse -j ACCEPT');
    const out = output({ 'iptables-save': { text }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.default-drop')[0].status).toBe('fail');
    expect(byId(os, 'firewall.default-drop')[0].message).toMatch(/nixos-fw-refuse does not drop or reject \(ACCEPT\)/);
    expect(byId(os, 'firewall.enabled')[0].status).toBe('pass');
  });

  it('a stopped firewall or an INPUT accept fails enabled', () => {
    for (const f of ['stopped.v4.save', 'input-accept.v4.save']) {
      const out = output({ 'iptables-save': { text: fx(`iptables/${f}`) }, 'ip6tables-save': { text: '' }, nft: NOT_FOUND, ss: { text: SS } });
      const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('fail');
    }
  });

  it('an accept opening every port on an untrusted interface, or a widened conntrack rule, fails enabled and default-drop', () => {
    const both = (f: (t: string) => string) => output({ 'iptables-save': { text: f(fx('iptables/alchemist.v4.save')) }, 'ip6tables-save': { text: f(fx('iptables/alchemist.v6.save')) }, nft: NOT_FOUND, ss: { text: SS } });
    const cases: [string, (t: string) => string, RegExp][] = [
      ['uplink accepted in INPUT', (t) => t.replace('-A INPUT -j nixos-fw', '-A INPUT -i eth0 -j ACCEPT\n-A INPUT -j nixos-fw'), /ipv4: "-A INPUT -i eth0 -j ACCEPT" accepts everything on interface eth0.*ipv6: "-A INPUT -i eth0 -j ACCEPT"/],
      ['conntrack widened to NEW', (t) => t.replace('--ctstate RELATED,ESTABLISHED', '--ctstate NEW,RELATED,ESTABLISHED'), /ipv4: "-A nixos-fw -m conntrack --ctstate NEW,RELATED,ESTABLISHED -j nixos-fw-accept" accepts everything/],
    ];
    for (const [name, f, msg] of cases) {
      const os = firewallSuite.evaluate(facts(both(f), alchemist), alchemist, ctx);
      expect(byId(os, 'firewall.enabled')[0].status, name).toBe('fail');
      expect(byId(os, 'firewall.enabled')[0].message, name).toMatch(msg);
      expect(byId(os, 'firewall.default-drop')[0].status, name).toBe('fail');
    }
    // The declared trusted interface, accepted the same way, is healthy for enabled (drift only).
    const trusted = both((t) => t.replace('-A INPUT -j nixos-fw', '-A INPUT -i br-alchemist -j ACCEPT\n-A INPUT -j nixos-fw'));
    const os = firewallSuite.evaluate(facts(trusted, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.enabled')[0].status).toBe('pass');
    expect(byId(os, 'firewall.default-drop')[0].status).toBe('pass');
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
  });

  it('an ACCEPT ahead in the log-refuse chain fails default-drop, naming it', () => {
    const text = fx('iptables/alchemist.v4.save').replace(/^(-A nixos-fw-log-refuse .*)$/m, '-A nixos-fw-log-refuse -p tcp -j ACCEPT\n$1');
    const out = output({ 'iptables-save': { text }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.default-drop')[0].status).toBe('fail');
    expect(byId(os, 'firewall.default-drop')[0].message).toMatch(/-A nixos-fw-log-refuse -p tcp -j ACCEPT/);
  });

  it('a protocol-only accept in nixos-fw (an nft set as iptables-save prints it) fails allowed-ports', () => {
    const text = fx('iptables/alchemist.v4.save').replace(/^(-A nixos-fw .*\n)/m, '-A nixos-fw -p tcp -j ACCEPT\n$1');
    const out = output({ 'iptables-save': { text }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
    expect(byId(os, 'firewall.allowed-ports')[0].message).toMatch(/ipv4 tcp: expected [^;]*, observed 1-65535/);
  });

  it('a DNAT in a native nft table on an iptables node fails drift; a declared forward passes', () => {
    const out = output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: { text: fx('nft/iptables-node-dnat.json') }, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
    expect(byId(os, 'firewall.drift')[0].message).toMatch(/nft: table ip lcfwd chain pre: iifname eth0 tcp dport 15432 dnat to 10.233.1.2:5432 — DNAT of 15432/);
    const v4 = fx('iptables/alchemist.v4.save').replace('-A nixos-nat-pre -i br-alchemist', '-A nixos-nat-pre -i eth0 -p tcp -m tcp --dport 15432 -j DNAT --to-destination 10.233.1.2:5432\n-A nixos-nat-pre -i br-alchemist');
    const out2 = output({ 'iptables-save': { text: v4 }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND, ss: { text: SS } });
    expect(byId(firewallSuite.evaluate(facts(out2, alchemist), alchemist, ctx), 'firewall.drift')[0].status).toBe('fail');
    const e: FirewallExpect = { ...alchemist, forwardPorts: [{ proto: 'tcp', sourcePort: 15432, destination: '10.233.1.2:5432', iface: 'eth0' }] };
    expect(byId(firewallSuite.evaluate(facts(out2, e), e, ctx), 'firewall.drift')[0].status).toBe('pass');
  });

  it('iptables-nft: a verdict map in nixos-fw (a target-less "-A nixos-fw -p tcp" in iptables-save) is read from nft and fails allowed-ports', () => {
    const e: FirewallExpect = { open: [22, 80, 443], refuse: 'drop', trusted: [] };
    const out = output({ 'iptables-save': { text: fx('iptables/vmap.v4.save') }, 'ip6tables-save': { text: fx('iptables/vmap.v6.save') }, nft: { text: fx('nft/iptables-node-vmap.json') }, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, e), e, ctx);
    expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
    expect(byId(os, 'firewall.allowed-ports')[0].message).toMatch(/ipv4 tcp: expected 22,80,443, observed 22,80,443,6379,7000-7010; ipv6 udp: expected \(none\), observed 5353/);
    expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
  });

  it('outside-in: connected closed port fails; refused and filtered say which; open port refused fails', () => {
    const os = firewallSuite.evaluate(
      facts(healthy, alchemist, { open: [probe(22, 'open'), probe(80, 'refused'), probe(443, 'filtered'), probe(3000, 'open'), probe(8080, 'open')], closed: [probe(5432, 'open'), probe(6379, 'refused')] }),
      alchemist, ctx,
    );
    const closed = byId(os, 'firewall.port-closed');
    expect(closed.map((o) => o.status)).toEqual(['fail', 'fail']);
    expect(closed[0].message).toMatch(/ACCEPTED/);
    expect(closed[1].message).toMatch(/^refused at once.*should drop/);
    expect(byId(os, 'firewall.port-open').map((o) => o.status)).toEqual(['pass', 'fail', 'fail', 'pass', 'pass']);
    expect(byId(os, 'firewall.port-open')[1].message).toMatch(/refused/);
  });

  it('refused on an expected-closed port fails when the firewall should drop (it was not firewalled)', () => {
    const e = { ...alchemist, refuse: undefined };
    const probes = { open: [22, 80, 443, 3000, 8080].map((p) => probe(p, 'open')), closed: [probe(5432, 'refused'), probe(6379, 'filtered')] };
    expect(byId(firewallSuite.evaluate({ ...facts(healthy, e), probes }, e, ctx), 'firewall.port-closed').map((o) => o.status)).toEqual(['pass', 'pass']);
    const strict = byId(firewallSuite.evaluate({ ...facts(healthy, alchemist), probes }, alchemist, ctx), 'firewall.port-closed');
    expect(strict.map((o) => o.status)).toEqual(['fail', 'pass']);
    expect(strict[0].message).toMatch(/not firewalled/);
  });

  it('an unreachable node gives error, not pass, for port-closed', () => {
    const os = firewallSuite.evaluate(
      facts(healthy, alchemist, { open: [22, 80, 443, 3000, 8080].map((p) => probe(p, 'unreachable', 'EHOSTUNREACH')), closed: [probe(5432, 'unreachable', 'EHOSTUNREACH'), probe(6379, 'unreachable', 'EHOSTUNREACH')] }),
      alchemist, ctx,
    );
    expect(byId(os, 'firewall.port-closed').map((o) => o.status)).toEqual(['error', 'error']);
  });

  it('closed ports filtered while no port answered at all (node down): error, not pass', () => {
    const silent = { open: [22, 80, 443, 3000, 8080].map((p) => probe(p, 'filtered')), closed: [probe(5432, 'filtered'), probe(6379, 'filtered')] };
    const os = firewallSuite.evaluate(facts(healthy, alchemist, silent), alchemist, ctx);
    const closed = byId(os, 'firewall.port-closed');
    expect(closed.map((o) => o.status)).toEqual(['error', 'error']);
    expect(closed[0].message).toMatch(/the node answered on no port; filtered cannot be told from down/);
    // One answering port is enough to trust the silence of the others.
    const oneOpen = { ...silent, open: [probe(22, 'open'), ...silent.open.slice(1)] };
    expect(byId(firewallSuite.evaluate(facts(healthy, alchemist, oneOpen), alchemist, ctx), 'firewall.port-closed').map((o) => o.status)).toEqual(['pass', 'pass']);
  });

  it('garbled iptables-save gives error outcomes, never a pass', () => {
    const out = output({ 'iptables-save': { text: fx('iptables/garbled.save') }, 'ip6tables-save': { text: '' }, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    for (const id of ['firewall.enabled', 'firewall.allowed-ports', 'firewall.drift']) {
      expect(byId(os, id)[0].status).toBe('error');
      expect(byId(os, id)[0].message).toMatch(/iptables-save line 5/);
    }
  });

  it('no firewall tool on the node: error, not a verdict', () => {
    const out = output({ 'iptables-save': NOT_FOUND, 'ip6tables-save': NOT_FOUND, nft: NOT_FOUND, ss: { text: SS } });
    const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
    for (const id of ['firewall.enabled', 'firewall.default-drop', 'firewall.allowed-ports', 'firewall.drift']) expect(byId(os, id)[0].status).toBe('error');
  });

  it('lost section markers are a ParseError', () => {
    expect(() => parseFirewallOutput('bash: garbage', alchemist)).toThrow(/lacks section/);
  });

  describe('IPv6 (a missing IPv6 filter table)', () => {
    const IF6_UP = 'fe80000000000000c43d3cfffead5531 02 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo';
    const IF6_LO = '00000000000000000000000000000001 01 80 10 80       lo';
    const noV6 = (if_inet6?: { text: string; rc?: number; stderr?: string }) =>
      output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: '' }, nft: NOT_FOUND, ...(if_inet6 ? { if_inet6 } : {}), ss: { text: SS } });

    it('IPv6 up on the node (an inet6 address beside lo): no IPv6 filter fails enabled and default-drop', () => {
      const os = firewallSuite.evaluate(facts(noV6({ text: IF6_UP }), alchemist), alchemist, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('fail');
      expect(byId(os, 'firewall.enabled')[0].message).toMatch(/ipv6: no IPv6 filter table loaded although IPv6 is up on the node \(eth0 fe80::c43d:3cff:fead:5531\)/);
      expect(byId(os, 'firewall.default-drop')[0].status).toBe('fail');
      expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
    });

    it('IPv6 off (only lo, or no if_inet6 at all): the missing table stays a note', () => {
      for (const if6 of [{ text: IF6_LO }, { text: '', rc: 1, stderr: '/proc/net/if_inet6: No such file or directory' }]) {
        const os = firewallSuite.evaluate(facts(noV6(if6), alchemist), alchemist, ctx);
        expect(byId(os, 'firewall.enabled')[0].status).toBe('pass');
        expect(byId(os, 'firewall.enabled')[0].message).toMatch(/IPv6: no IPv6 filter table loaded; IPv6 is (off on the node|not in the kernel)/);
      }
    });

    it('garbled if_inet6, or ip6tables-save missing while IPv6 is up: error, not a pass', () => {
      const g = firewallSuite.evaluate(facts(noV6({ text: 'garbage here' }), alchemist), alchemist, ctx);
      expect(byId(g, 'firewall.enabled')[0].status).toBe('error');
      const out = output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': NOT_FOUND, nft: NOT_FOUND, if_inet6: { text: IF6_UP }, ss: { text: SS } });
      const os = firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('error');
      expect(byId(os, 'firewall.enabled')[0].message).toMatch(/ip6tables-save not installed, and IPv6 is up/);
    });

    it('garbled ip6tables-save is an error (it was skipped: only v4 was judged)', () => {
      const out = output({ 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: '*filter\n-A INPUT -j nixos-fw\n' }, nft: NOT_FOUND, ss: { text: SS } });
      expect(byId(firewallSuite.evaluate(facts(out, alchemist), alchemist, ctx), 'firewall.enabled')[0].status).toBe('error');
    });
  });

  describe('nftables backend', () => {
    const nftExpect: FirewallExpect = { backend: 'nftables', open: [22, 80, 443, '6333-6334'], udp: [53], interfaces: { eth0: { tcp: [9100] } }, trusted: ['br-alchemist'], closed: [5432] };
    const nftOut = (file: string) => output({ 'iptables-save': { text: '' }, 'ip6tables-save': { text: '' }, nft: { text: fx(`nft/${file}`) }, ss: { text: SS } });
    it('healthy passes', () => {
      const os = firewallSuite.evaluate(facts(nftOut('nixos.json'), nftExpect), nftExpect, ctx);
      expect(os.filter((o) => o.status !== 'pass')).toEqual([]);
    });
    it('temp-ports fails drift and allowed-ports; policy accept fails default-drop only', () => {
      const os = firewallSuite.evaluate(facts(nftOut('temp-ports.json'), nftExpect), nftExpect, ctx);
      expect(byId(os, 'firewall.drift')[0].status).toBe('fail');
      expect(byId(os, 'firewall.allowed-ports')[0].status).toBe('fail');
      const os2 = firewallSuite.evaluate(facts(nftOut('policy-accept.json'), nftExpect), nftExpect, ctx);
      expect(byId(os2, 'firewall.default-drop')[0].status).toBe('fail');
      expect(byId(os2, 'firewall.enabled')[0].status).toBe('pass');
    });
    it('an interface accepted wholesale, or a port with a counter, fails enabled / allowed-ports', () => {
      const e: FirewallExpect = { backend: 'nftables', open: [22, 80, 443], refuse: 'drop', trusted: [] };
      const os = firewallSuite.evaluate(facts(nftOut('wide-open.json'), e), e, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('fail');
      expect(byId(os, 'firewall.enabled')[0].message).toMatch(/"iifname eth0 accept" accepts everything on interface eth0/);
      expect(byId(os, 'firewall.default-drop')[0].status).toBe('fail');
      expect(byId(os, 'firewall.allowed-ports')[0].message).toMatch(/inet tcp: expected 22,80,443, observed 1-65535/);
    });
    it('pinned nftables but the node runs iptables: enabled fails', () => {
      const os = firewallSuite.evaluate(facts(healthy, nftExpect), nftExpect, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('fail');
      expect(byId(os, 'firewall.enabled')[0].message).toMatch(/expected the nftables backend, found iptables/);
    });
    it('garbled nft JSON → error', () => {
      const os = firewallSuite.evaluate(facts(nftOut('garbled.json'), nftExpect), nftExpect, ctx);
      expect(byId(os, 'firewall.enabled')[0].status).toBe('error');
    });
  });

  it("plan: networking.nat.forwardPorts become the expectation's forwardPorts (on the external interface), only with nat enabled", async () => {
    const { loadManifest } = await import('../src/nix/manifest.js');
    const m = loadManifest(new URL('../fixtures/nix/example.manifest.json', import.meta.url).pathname);
    const cites: string[] = [];
    const cite = (segs: (string | number)[], at: string) => cites.push(`${segs.join('.')}=${at}`);
    m.host.networking.nat = { ...m.host.networking.nat, enable: true, externalInterface: 'eth0', forwardPorts: [{ sourcePort: 15432, proto: 'tcp', destination: '10.233.1.2:5432' }, { sourcePort: '8000:8010', proto: 'udp', destination: '10.0.0.2' }] };
    const e = firewallSuite.fromManifest!(m, cite) as FirewallExpect;
    expect(e.forwardPorts).toEqual([
      { proto: 'tcp', sourcePort: 15432, destination: '10.233.1.2:5432', iface: 'eth0' },
      { proto: 'udp', sourcePort: '8000-8010', destination: '10.0.0.2', iface: 'eth0' },
    ]);
    expect(cites.some((c) => c.startsWith('firewall.forwardPorts=') && c.includes('forwardPorts'))).toBe(true);
    expect(new Ajv.default({ strict: false }).compile(firewallSuite.schema)(e)).toBe(true);
    m.host.networking.nat.enable = false;
    expect((firewallSuite.fromManifest!(m, cite) as FirewallExpect).forwardPorts).toBeUndefined();
  });

  it('schema rejects typos and accepts the lab shape', () => {
    const ajv = new Ajv.default({ strict: false });
    const v = ajv.compile(firewallSuite.schema);
    expect(v(alchemist)).toBe(true);
    expect(v({ open: [22], closd: [5432] })).toBe(false);
    expect(v({ open: ['22-x'] })).toBe(false);
    expect(v({ open: [22], closed: [] })).toBe(false); // checks nothing: omit the key instead
    expect(v({ open: [22], forwardPorts: [{ proto: 'tcp', sourcePort: '8000-8010', destination: '10.0.0.2:80', iface: 'eth0' }] })).toBe(true);
    expect(v({ open: [22], forwardPorts: [{ sourcePort: 8000 }] })).toBe(false);
  });
});

describe('listening sockets (context in port evidence)', () => {
  const PROC = [
    '   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20950 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 20951 1 0000000000000000 100 0 0 10 0',
    '   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20952 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const base = { 'iptables-save': { text: fx('iptables/alchemist.v4.save') }, 'ip6tables-save': { text: fx('iptables/alchemist.v6.save') }, nft: NOT_FOUND };

  it('from /proc/net/tcp{,6} lines (the shell kept the LISTEN ones) as from ss', () => {
    const fromProc = parseFirewallOutput(output({ ...base, listen: { text: PROC } }), alchemist);
    expect(fromProc.listening?.map((l) => `${l.address}:${l.port}`)).toEqual(['0.0.0.0:443', '127.0.0.1:5432', ':::80']);
    const fromSs = parseFirewallOutput(output({ ...base, ss: { text: SS } }), alchemist);
    expect(fromSs.listening?.map((l) => `${l.address}:${l.port}`)).toContain('127.0.0.1:5432');
    // Neither section: the framing was lost, not "nothing listens".
    expect(() => parseFirewallOutput(output(base), alchemist)).toThrow(/lacks section\(s\) listen or ss/);
    // A garbled /proc line is an error in the facts, never a silent empty list.
    const bad = parseFirewallOutput(output({ ...base, listen: { text: 'garbage 0A here' } }), alchemist);
    expect(bad.listening).toBeUndefined();
    expect(bad.errors.map((x) => x.source)).toContain('/proc/net/tcp, /proc/net/tcp6');
  });

  it('the real script: a socket listening here is found with no ss process; long tables take ss', async () => {
    const { spawnSync } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { FIREWALL_SCRIPT } = await import('../src/probes/firewall.js');
    // Stand-ins for the firewall tools, and an ss that says it ran (a real one may not be installed).
    const bin = mkdtempSync(`${tmpdir()}/lc-fw-bin-`);
    for (const t of ['iptables-save', 'ip6tables-save', 'nft']) writeFileSync(`${bin}/${t}`, '#!/bin/sh\nexit 127\n', { mode: 0o755 });
    writeFileSync(`${bin}/ss`, `#!/bin/sh\necho ran >> ${bin}/ss.log\nprintf 'LISTEN 0 511 127.0.0.1:4242 0.0.0.0:*\\n'\n`, { mode: 0o755 });
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const run = (env: Record<string, string>) => {
        const r = spawnSync('bash', ['-c', FIREWALL_SCRIPT], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:/usr/bin:/bin`, ...env } });
        return parseFirewallOutput(r.stdout, alchemist, r.stderr);
      };
      const f = run({});
      expect(f.raw.listen?.rc).toBe(0);
      // The IPv6 addresses are read by the shell too, and parse (or the file is absent: IPv6 not in the kernel).
      expect(f.raw.if_inet6).toBeDefined();
      expect(f.ipv6).toBeDefined();
      expect(f.raw.ss).toBeUndefined();
      expect(f.listening).toContainEqual(expect.objectContaining({ address: '127.0.0.1', port }));
      expect(spawnSync('test', ['-e', `${bin}/ss.log`]).status).toBe(1);
      const g = run({ LEAFCERT_LISTEN_MAX: '1' });
      expect(g.raw.listen).toBeUndefined();
      expect(g.listening).toEqual([{ address: '127.0.0.1', port: 4242 }]);
    } finally {
      srv.close();
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
