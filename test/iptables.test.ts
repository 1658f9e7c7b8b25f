import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { iptablesModel, normaliseRule, parseIptablesSave } from '../src/probes/iptables.js';
import { ParseError } from '../src/core/types.js';

const fx = (n: string) => readFileSync(new URL(`../fixtures/iptables/${n}`, import.meta.url), 'utf8');
const allowed = (m: ReturnType<typeof iptablesModel>) =>
  m.allowed.map((a) => `${a.proto}/${a.ports.map((p) => (p.from === p.to ? p.from : `${p.from}-${p.to}`)).join(',')}${a.iface ? `@${a.iface}` : ''}`);

describe('iptables-save parser (NixOS nixos-fw layout)', () => {
  it('reads the alchemist leaf node: ports, ranges, per-interface ports, trusted, DROP, INPUT jump', () => {
    const m = iptablesModel(parseIptablesSave(fx('alchemist.v4.save')), 'ipv4');
    expect(m.present).toBe(true);
    expect(m.hooked).toBe(true);
    expect(m.notEnforced).toEqual([]);
    expect(m.refuse).toBe('drop');
    expect(m.trusted.sort()).toEqual(['br-alchemist', 'lo']);
    expect(allowed(m)).toEqual(['tcp/22', 'tcp/80', 'tcp/443', 'tcp/3000', 'tcp/8080', 'tcp/9100@eth0', 'tcp/6333-6334', 'udp/53']);
    // DHCP from container interfaces is NixOS's own rule, not an allowed port.
    expect(allowed(m)).not.toContain('udp/67@ve-+');
  });

  it('reports the extraCommands DNAT lines in the nat table as drift unless declared', () => {
    const save = parseIptablesSave(fx('alchemist.v4.save'));
    const m = iptablesModel(save, 'ipv4');
    expect(m.dnat.map((d) => `${d.port.from}->${d.to}`)).toEqual(['8080->10.233.1.2:8080', '3000->10.233.2.2:3000']);
    expect(m.drift.map((d) => d.why)).toEqual([expect.stringContaining('DNAT of 8080'), expect.stringContaining('DNAT of 3000')]);
    const declared = iptablesModel(save, 'ipv4', [
      'iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080',
      'iptables -t nat -A PREROUTING -p tcp --dport 3000 -j DNAT --to-destination 10.233.2.2:3000',
    ]);
    expect(declared.drift).toEqual([]);
  });

  it('reads ip6tables-save (ICMPv6 and DHCPv6 rules are NixOS shape, not ports)', () => {
    const m = iptablesModel(parseIptablesSave(fx('alchemist.v6.save')), 'ipv6');
    expect(m.drift).toEqual([]);
    expect(allowed(m)).toEqual(['tcp/22', 'tcp/80', 'tcp/443', 'tcp/3000', 'tcp/8080', 'tcp/9100@eth0', 'tcp/6333-6334', 'udp/53']);
  });

  it('recognises rejectPackets (REJECT pair) and a default host', () => {
    const m = iptablesModel(parseIptablesSave(fx('reject.v4.save')), 'ipv4');
    expect(m.refuse).toBe('reject');
    expect(m.drift).toEqual([]);
    expect(allowed(m)).toEqual(['tcp/22', 'tcp/80', 'tcp/443']);
    expect(m.trusted).toEqual(['lo']);
  });

  it('blames the rule nixos-firewall-tool inserted with -I, not the rules it was put in front of', () => {
    const m = iptablesModel(parseIptablesSave(fx('tool-open.v4.save')), 'ipv4');
    const filterDrift = m.drift.filter((d) => d.rule.startsWith('-t filter'));
    expect(filterDrift).toHaveLength(1);
    expect(filterDrift[0].rule).toContain('--dport 5432');
    expect(filterDrift[0].why).toMatch(/inserted/);
    expect(m.allowed.find((a) => a.ports[0].from === 5432)?.inserted).toBe(true);
  });

  it('an unconditional INPUT accept ahead of the jump means the firewall is not in force', () => {
    const m = iptablesModel(parseIptablesSave(fx('input-accept.v4.save')), 'ipv4');
    expect(m.hooked).toBe(true);
    expect(m.notEnforced[0]).toMatch(/accepts everything/);
    expect(m.drift.some((d) => d.rule === '-t filter -A INPUT -j ACCEPT')).toBe(true);
  });

  it('a stopped firewall (no INPUT jump, policy ACCEPT) is not in force', () => {
    const m = iptablesModel(parseIptablesSave(fx('stopped.v4.save')), 'ipv4');
    expect(m.hooked).toBe(false);
    expect(m.notEnforced.join()).toMatch(/INPUT does not jump to nixos-fw \(INPUT policy ACCEPT\)/);
  });

  it('an added multiport accept counts as allowed ports and is drift', () => {
    const text = fx('reject.v4.save').replace('-A nixos-fw -j nixos-fw-log-refuse', '-A nixos-fw -p tcp -m multiport --dports 5432,6000:6010 -j nixos-fw-accept\n-A nixos-fw -j nixos-fw-log-refuse');
    const m = iptablesModel(parseIptablesSave(text), 'ipv4');
    expect(allowed(m)).toContain('tcp/5432,6000-6010');
    expect(m.drift).toHaveLength(1);
    expect(m.drift[0].rule).toContain('multiport');
  });

  describe('accepts that open every port (the firewall off for an interface)', () => {
    const v4 = () => fx('alchemist.v4.save');
    const model = (text: string, trusted?: string[]) => iptablesModel(parseIptablesSave(text), 'ipv4', [], { trusted });

    it('an INPUT accept restricted only by interface, ahead of nixos-fw, is not in force on it', () => {
      const m = model(v4().replace('-A INPUT -j nixos-fw', '-A INPUT -i eth0 -j ACCEPT\n-A INPUT -j nixos-fw'), ['br-alchemist']);
      expect(m.notEnforced).toEqual([expect.stringMatching(/"-A INPUT -i eth0 -j ACCEPT" accepts everything on interface eth0 \(not a trusted interface\)/)]);
      expect(m.defaultOpen).toEqual([expect.stringContaining('-A INPUT -i eth0 -j ACCEPT')]);
      // Loopback and a declared trusted interface stay healthy (still drift: NixOS writes them in nixos-fw).
      for (const i of ['lo', 'br-alchemist']) {
        const ok = model(v4().replace('-A INPUT -j nixos-fw', `-A INPUT -i ${i} -j ACCEPT\n-A INPUT -j nixos-fw`), ['br-alchemist']);
        expect(ok.notEnforced).toEqual([]);
        expect(ok.defaultOpen).toEqual([]);
        expect(ok.drift.length).toBeGreaterThan(0);
      }
      // Every interface but one is as open.
      expect(model(v4().replace('-A INPUT -j nixos-fw', '-A INPUT ! -i eth1 -j ACCEPT\n-A INPUT -j nixos-fw')).notEnforced.join()).toMatch(/every interface but eth1/);
      // Restricted by something else (a source): drift only, as before.
      const src = model(v4().replace('-A INPUT -j nixos-fw', '-A INPUT -s 10.0.0.0/8 -i eth0 -j ACCEPT\n-A INPUT -j nixos-fw'));
      expect(src.notEnforced).toEqual([]);
      expect(src.drift.length).toBeGreaterThan(0);
    });

    it('a hand-made chain jumped to ahead of nixos-fw is followed', () => {
      const text = v4().replace(':nixos-fw - [0:0]', ':lc-open - [0:0]\n:nixos-fw - [0:0]')
        .replace('-A INPUT -j nixos-fw', '-A INPUT -j lc-open\n-A INPUT -j nixos-fw\n-A lc-open -i eth0 -j ACCEPT\n-A lc-open -p tcp -m tcp --dport 6379 -j ACCEPT');
      const m = model(text, ['br-alchemist']);
      expect(m.notEnforced).toEqual([expect.stringContaining('-A INPUT -j lc-open → -A lc-open -i eth0 -j ACCEPT')]);
      expect(allowed(m)).toContain('tcp/6379');
    });

    it('the conntrack rule widened to NEW accepts everything', () => {
      const m = model(v4().replace('--ctstate RELATED,ESTABLISHED', '--ctstate NEW,RELATED,ESTABLISHED'), ['br-alchemist']);
      expect(m.notEnforced).toEqual([expect.stringContaining('--ctstate NEW,RELATED,ESTABLISHED -j nixos-fw-accept" accepts everything in nixos-fw')]);
      expect(m.defaultOpen.length).toBe(1);
      expect(model(v4(), ['br-alchemist']).notEnforced).toEqual([]);
    });

    it('an undeclared trusted interface (NixOS form) is open when the expectation gives the trusted ones', () => {
      expect(model(v4(), []).notEnforced).toEqual([expect.stringContaining('-A nixos-fw -i br-alchemist -j nixos-fw-accept')]);
      expect(model(v4(), ['br-alchemist']).notEnforced).toEqual([]);
      expect(model(v4()).notEnforced).toEqual([]);
      // Declared in extraCommands: intended, not the firewall off.
      expect(iptablesModel(parseIptablesSave(v4()), 'ipv4', ['iptables -A nixos-fw -i br-alchemist -j nixos-fw-accept'], { trusted: [] }).notEnforced).toEqual([]);
    });

    it('an ACCEPT anywhere in the refuse path leaves the default open', () => {
      const m = model(v4().replace(/^(-A nixos-fw-log-refuse .*)$/m, '-A nixos-fw-log-refuse -p tcp -j ACCEPT\n$1'), ['br-alchemist']);
      expect(m.defaultOpen).toEqual([expect.stringContaining('"-A nixos-fw-log-refuse -p tcp -j ACCEPT" accepts in the refuse path')]);
      expect(m.drift.map((d) => d.why)).toContain('nixos-fw-log-refuse should only LOG and refuse');
      expect(model(v4(), ['br-alchemist']).defaultOpen).toEqual([]);
    });
  });

  it('a protocol-only accept (how iptables-save prints an nft set rule) opens every port of that protocol', () => {
    const text = fx('alchemist.v4.save').replace('-A nixos-fw -j nixos-fw-log-refuse', '-A nixos-fw -p tcp -j ACCEPT\n-A nixos-fw -p udp -j nixos-fw-accept\n-A nixos-fw -j nixos-fw-log-refuse');
    const m = iptablesModel(parseIptablesSave(text), 'ipv4');
    expect(allowed(m)).toEqual(expect.arrayContaining(['tcp/1-65535', 'udp/1-65535']));
    expect(m.drift.filter((d) => d.rule.startsWith('-t filter')).length).toBe(2);
  });

  describe('DNAT reachable from PREROUTING through any chain (it bypasses nixos-fw)', () => {
    const declaredExtra = [
      'iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.233.1.2:8080',
      'iptables -t nat -A PREROUTING -p tcp --dport 3000 -j DNAT --to-destination 10.233.2.2:3000',
    ];
    const natDrift = (m: ReturnType<typeof iptablesModel>) => m.drift.filter((d) => d.rule.startsWith('-t nat'));

    it("a DNAT in a hand-made chain jumped to from PREROUTING (Docker's layout) is drift, naming the path", () => {
      const text = fx('alchemist.v4.save').replace(':nixos-nat-pre - [0:0]', ':nixos-nat-pre - [0:0]\n:fwd-pg - [0:0]')
        .replace('-A OUTPUT -j nixos-nat-out', '-A PREROUTING -j fwd-pg\n-A OUTPUT -j nixos-nat-out\n-A fwd-pg -i eth0 -p tcp -m tcp --dport 15432 -j DNAT --to-destination 10.233.1.2:5432');
      const m = iptablesModel(parseIptablesSave(text), 'ipv4', declaredExtra);
      expect(natDrift(m)).toEqual([{ rule: '-t nat -A PREROUTING -j fwd-pg → -A fwd-pg -i eth0 -p tcp -m tcp --dport 15432 -j DNAT --to-destination 10.233.1.2:5432', why: 'DNAT of 15432 to 10.233.1.2:5432 bypasses nixos-fw (undeclared)' }]);
      expect(m.dnat.map((d) => d.port.from)).toContain(15432);
    });

    it("a DNAT in nixos-nat-pre is drift unless the expectation's forwardPorts declare it", () => {
      const text = fx('alchemist.v4.save').replace('-A nixos-nat-pre -i br-alchemist', '-A nixos-nat-pre -i eth0 -p tcp -m tcp --dport 15432 -j DNAT --to-destination 10.233.1.2:5432\n-A nixos-nat-pre -i br-alchemist');
      const save = parseIptablesSave(text);
      expect(natDrift(iptablesModel(save, 'ipv4', declaredExtra)).map((d) => d.why)).toEqual(["DNAT of 15432 to 10.233.1.2:5432 bypasses nixos-fw (not in the expectation's forwardPorts)"]);
      const fwd = { proto: 'tcp', sourcePort: 15432, destination: '10.233.1.2:5432', iface: 'eth0' };
      expect(natDrift(iptablesModel(save, 'ipv4', declaredExtra, { forwardPorts: [fwd] }))).toEqual([]);
      // Another destination, or another interface, is not the declared forward.
      expect(natDrift(iptablesModel(save, 'ipv4', declaredExtra, { forwardPorts: [{ ...fwd, destination: '10.233.1.3:5432' }] }))).toHaveLength(1);
      expect(natDrift(iptablesModel(save, 'ipv4', declaredExtra, { forwardPorts: [{ ...fwd, iface: 'eth1' }] }))).toHaveLength(1);
    });
  });

  it('garbled or truncated output is a ParseError', () => {
    expect(() => parseIptablesSave(fx('garbled.save'))).toThrow(ParseError);
    expect(() => parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j nixos-fw\n')).toThrow(/no COMMIT/);
    expect(() => parseIptablesSave('-A INPUT -j ACCEPT\n')).toThrow(/outside a \*table/);
  });

  it('normalises declared rules the way iptables-save prints them', () => {
    expect(normaliseRule('iptables -w -t nat -I PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080')).toBe(
      normaliseRule('-t nat -A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080'),
    );
  });
});
