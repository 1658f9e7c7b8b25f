import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nftModel, parseNftJson, renderRule } from '../src/probes/nft.js';
import { ParseError } from '../src/core/types.js';

const fx = (n: string) => readFileSync(new URL(`../fixtures/nft/${n}`, import.meta.url), 'utf8');
const allowed = (m: ReturnType<typeof nftModel>) =>
  m.allowed.map((a) => `${a.proto}/${a.ports.map((p) => (p.from === p.to ? p.from : `${p.from}-${p.to}`)).join(',')}${a.iface ? `@${a.iface}` : ''}`);

describe('nft -j parser (inet nixos-fw)', () => {
  it('reads sets with ports and ranges, scalar ports, iifname prefixes, trusted set', () => {
    const m = nftModel(parseNftJson(fx('nixos.json')));
    expect(m.present && m.hooked).toBe(true);
    expect(m.notEnforced).toEqual([]);
    expect(m.drift).toEqual([]);
    expect(allowed(m)).toEqual(['tcp/22,80,443,6333-6334', 'tcp/9100@eth0', 'udp/53']);
    expect(m.trusted.sort()).toEqual(['br-alchemist', 'lo']);
    expect(m.refuse).toBe('drop');
  });

  it('accepts the older "in" match op for sets', () => {
    const m = nftModel(parseNftJson(fx('old-in-op.json')));
    expect(allowed(m)).toEqual(['tcp/22,80,443,6333-6334', 'tcp/9100@eth0', 'udp/53']);
    expect(m.trusted.sort()).toEqual(['br-alchemist', 'lo']);
  });

  it('a non-empty temp-ports set is drift and opens the port', () => {
    const m = nftModel(parseNftJson(fx('temp-ports.json')));
    expect(m.tempPorts).toEqual(['tcp . 5432']);
    expect(m.drift[0].why).toMatch(/temp-ports must be empty/);
    expect(allowed(m)).toContain('tcp/5432');
  });

  it('a rule beyond NixOS layout in input-allow is drift', () => {
    const m = nftModel(parseNftJson(fx('extra-rule.json')));
    expect(m.drift).toEqual([{ rule: 'ip saddr 10.0.0.0/8 accept', why: expect.stringMatching(/beyond NixOS/) }]);
    expect(nftModel(parseNftJson(fx('extra-rule.json')), ['ip saddr 10.0.0.0/8 accept']).drift).toEqual([]);
  });

  it('a port accepted straight in chain input (ahead of input-allow) is drift and counted open', () => {
    const doc = JSON.parse(fx('nixos.json'));
    const at = doc.nftables.findIndex((e: any) => e.rule?.chain === 'input' && e.rule?.table === 'nixos-fw');
    expect(at).toBeGreaterThan(0);
    const rule = { family: 'inet', table: 'nixos-fw', chain: 'input', handle: 999, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 6379 } }, { accept: null }] };
    doc.nftables.splice(at, 0, { rule });
    const m = nftModel(parseNftJson(JSON.stringify(doc)));
    expect(m.drift).toEqual([{ rule: 'tcp dport 6379 accept', why: expect.stringMatching(/chain input beyond NixOS/) }]);
    expect(allowed(m)).toContain('tcp/6379');
  });

  describe('accepts that open every port, or every port of a protocol', () => {
    /** nixos.json with `expr` rules put in `chain` (at the top, or at the end). */
    const withRule = (chain: string, exprs: any[][], atEnd = false) => {
      const doc = JSON.parse(fx('nixos.json'));
      const idx = doc.nftables.map((e: any, k: number) => (e.rule?.chain === chain && e.rule?.table === 'nixos-fw' ? k : -1)).filter((k: number) => k >= 0);
      const at = atEnd ? idx[idx.length - 1] + 1 : idx[0];
      doc.nftables.splice(at, 0, ...exprs.map((expr, k) => ({ rule: { family: 'inet', table: 'nixos-fw', chain, handle: 900 + k, expr } })));
      return parseNftJson(JSON.stringify(doc));
    };
    const TRUSTED = { trusted: ['br-alchemist'] };

    it('a counter (or log) beside accept still allows the port (input-allow)', () => {
      const m = nftModel(withRule('input-allow', [[{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 2375 } }, { counter: { packets: 0, bytes: 0 } }, { accept: null }]], true));
      expect(allowed(m)).toContain('tcp/2375');
      expect(m.drift).toEqual([{ rule: 'tcp dport 2375 counter accept', why: expect.stringMatching(/counter or log beside the accept/) }]);
    });

    it('a verdict map accepting ports in input-allow counts them (and is drift)', () => {
      const vmap = { vmap: { key: { payload: { protocol: 'tcp', field: 'dport' } }, data: { set: [[6379, { accept: null }], [4222, { drop: null }]] } } };
      const m = nftModel(withRule('input-allow', [[vmap]], true), [], TRUSTED);
      expect(allowed(m)).toContain('tcp/6379');
      expect(allowed(m)).not.toContain('tcp/4222');
      expect(m.drift).toHaveLength(1);
    });

    it('a hand-made chain jumped to from chain input is followed', () => {
      const doc = JSON.parse(fx('nixos.json'));
      const at = doc.nftables.findIndex((e: any) => e.rule?.chain === 'input' && e.rule?.table === 'nixos-fw');
      doc.nftables.splice(at, 0,
        { chain: { family: 'inet', table: 'nixos-fw', name: 'lc-open', handle: 990 } },
        { rule: { family: 'inet', table: 'nixos-fw', chain: 'input', handle: 991, expr: [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } }, { jump: { target: 'lc-open' } }] } },
        { rule: { family: 'inet', table: 'nixos-fw', chain: 'lc-open', handle: 992, expr: [{ counter: { packets: 0, bytes: 0 } }, { accept: null }] } });
      const m = nftModel(parseNftJson(JSON.stringify(doc)), [], TRUSTED);
      expect(m.notEnforced).toEqual([expect.stringContaining('"iifname eth0 jump lc-open → counter accept" accepts everything on interface eth0')]);
    });

    it('the real nft output of four hand-made accepts (lab node, nft 1.0.6)', () => {
      // iifname eth0 accept; ct state established,related,new accept (ahead of the vmap); meta l4proto tcp
      // accept (after it: the refuse path); tcp dport 2375 counter accept in input-allow.
      const m = nftModel(parseNftJson(fx('wide-open.json')), [], { trusted: [] });
      expect(m.notEnforced).toEqual([
        expect.stringMatching(/^"iifname eth0 accept" accepts everything on interface eth0 \(not a trusted interface\)/),
        expect.stringMatching(/^"ct state established,related,new accept" accepts everything on every interface/),
      ]);
      expect(m.defaultOpen).toEqual(expect.arrayContaining([expect.stringMatching(/^"meta l4proto tcp accept" accepts tcp ports in chain input after/)]));
      expect(allowed(m)).toEqual(expect.arrayContaining(['tcp/2375', 'tcp/1-65535']));
    });

    it('a trusted interface stays healthy; an undeclared one is open when the expectation gives the trusted ones', () => {
      expect(nftModel(parseNftJson(fx('nixos.json')), [], TRUSTED).notEnforced).toEqual([]);
      expect(nftModel(parseNftJson(fx('nixos.json'))).notEnforced).toEqual([]);
      expect(nftModel(parseNftJson(fx('nixos.json')), [], { trusted: [] }).notEnforced).toEqual([expect.stringContaining('br-alchemist (not a trusted interface)')]);
      // Established traffic only, or restricted by a source: drift, not an opening.
      const est = nftModel(withRule('input', [[{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }]]), [], TRUSTED);
      expect(est.notEnforced).toEqual([]);
      expect(est.drift.length).toBe(1);
    });
  });

  it('a dnat in any table\'s nat prerouting chain is drift unless declared (real nft output, iptables node)', () => {
    // table ip lcfwd { chain pre { type nat hook prerouting priority dstnat; iifname "eth0" tcp dport 15432 dnat to 10.233.1.2:5432 } }
    const m = nftModel(parseNftJson(fx('iptables-node-dnat.json')));
    expect(m.natDrift).toEqual([{ table: 'ip lcfwd', rule: 'table ip lcfwd chain pre: iifname eth0 tcp dport 15432 dnat to 10.233.1.2:5432', why: 'DNAT of 15432 to 10.233.1.2:5432 bypasses the input filter (undeclared)' }]);
    expect(m.dnat).toEqual([expect.objectContaining({ proto: 'tcp', port: { from: 15432, to: 15432 }, to: '10.233.1.2:5432', iface: 'eth0' })]);
    expect(nftModel(parseNftJson(fx('iptables-node-dnat.json')), ['iifname eth0 tcp dport 15432 dnat to 10.233.1.2:5432']).natDrift).toEqual([]);
    // In NixOS's own table nixos-nat, a declared forward is healthy.
    const own = parseNftJson(fx('iptables-node-dnat.json').replaceAll('"lcfwd"', '"nixos-nat"'));
    expect(nftModel(own, [], { forwardPorts: [{ proto: 'tcp', sourcePort: 15432, destination: '10.233.1.2:5432', iface: 'eth0' }] }).natDrift).toEqual([]);
    expect(nftModel(own).natDrift.map((d) => d.why)).toEqual([expect.stringContaining("not in the expectation's forwardPorts")]);
  });

  it('iptables-nft: the ports a verdict map accepts in nixos-fw (iptables-save prints "-A nixos-fw -p tcp", no target)', async () => {
    const { vmapAccepts } = await import('../src/probes/nft.js');
    // nft insert rule ip filter nixos-fw tcp dport vmap { 6379 : accept, 7000-7010 : jump nixos-fw-accept }; ip6: udp dport vmap { 5353 : accept }
    const rs = parseNftJson(fx('iptables-node-vmap.json'));
    expect(vmapAccepts(rs, 'ip').map((a) => `${a.proto}/${a.ports.map((p) => (p.from === p.to ? p.from : `${p.from}-${p.to}`)).join(',')}`)).toEqual(['tcp/6379,7000-7010']);
    expect(vmapAccepts(rs, 'ip6').map((a) => `${a.proto}/${a.ports[0].from}`)).toEqual(['udp/5353']);
    expect(vmapAccepts(parseNftJson(fx('nixos.json')), 'ip')).toEqual([]);
  });

  it("NixOS's own forwardPorts map (table ip nixos-nat, nat-nftables.nix) is healthy when declared, drift per element when not", () => {
    // iifname "eth0" meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map { tcp . 8080 : 10.0.0.1 . 80, udp . 8000-8010 : 10.0.0.2 . 9000 }
    const rs = parseNftJson(fx('nixos-nat-forward.json'));
    const fwd = [{ proto: 'tcp', sourcePort: 8080, destination: '10.0.0.1:80', iface: 'eth0' }, { proto: 'udp', sourcePort: '8000-8010', destination: '10.0.0.2:9000', iface: 'eth0' }];
    const m = nftModel(rs, [], { forwardPorts: fwd });
    expect(m.natDrift).toEqual([]);
    expect(m.dnat.map((d) => `${d.proto}/${d.port.from}-${d.port.to}->${d.to}@${d.iface}`)).toEqual(['tcp/8080-8080->10.0.0.1:80@eth0', 'udp/8000-8010->10.0.0.2:9000@eth0']);
    expect(nftModel(rs, [], { forwardPorts: fwd.slice(0, 1) }).natDrift.map((d) => d.why)).toEqual([expect.stringMatching(/DNAT of 8080 to 10.0.0.1:80, 8000-8010 to 10.0.0.2:9000 .*not in the expectation's forwardPorts/)]);
  });

  it('input policy accept leaves the default open; rejectPackets is recognised', () => {
    const pa = nftModel(parseNftJson(fx('policy-accept.json')));
    expect(pa.notEnforced).toEqual([]);
    expect(pa.defaultOpen).toEqual(['chain input has policy accept, not drop']);
    expect(nftModel(parseNftJson(fx('reject.json'))).defaultOpen).toEqual([]);
    const r = nftModel(parseNftJson(fx('reject.json')));
    expect(r.refuse).toBe('reject');
    expect(r.drift).toEqual([]);
  });

  it('no table inet nixos-fw: not present', () => {
    const m = nftModel(parseNftJson('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}'));
    expect(m.present).toBe(false);
    expect(m.notEnforced).toEqual(['no table inet nixos-fw']);
  });

  it('renders rules like nft prints them', () => {
    const rs = parseNftJson(fx('nixos.json'));
    const texts = rs.rules.filter((r) => r.chain === 'input-allow').map((r) => renderRule(r.expr));
    expect(texts).toContain('tcp dport { 22, 80, 443, 6333-6334 } accept');
    expect(texts).toContain('iifname eth0 tcp dport 9100 accept');
  });

  it('garbled JSON is a ParseError', () => {
    expect(() => parseNftJson(fx('garbled.json'))).toThrow(ParseError);
    expect(() => parseNftJson('{"foo": 1}')).toThrow(/no "nftables" array/);
  });
});
