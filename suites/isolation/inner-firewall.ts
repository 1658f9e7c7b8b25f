// isolation.inner-firewall: NixOS's firewall in the container's network namespace is in force and
// accepts exactly the declared TCP ports, read with the host firewall's model (src/probes/
// isolation-firewall.ts): a direct `-j ACCEPT --dport` in nixos-fw is an open port, an INPUT that no
// longer jumps to nixos-fw (or a refuse path that accepts) is the firewall off. Both passed the old
// reading, which counted only `-j nixos-fw-accept` lines.
import type { Outcome } from '../../src/core/types.js';
import { ParseError } from '../../src/core/types.js';
import { outcome } from '../../src/core/checks.js';
import { innerFirewall, type InnerFirewall } from '../../src/probes/isolation-firewall.js';
import type { ContainerFacts } from '../../src/probes/isolation.js';
import { CHECKS } from './checks.js';

/** 22, 80, 6000-6010: consecutive ports as ranges (an accept of a whole protocol is 0-65535, not 65536 numbers). */
export function portsText(ports: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ports.length; i++) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j] + 1) j++;
    out.push(j > i ? `${ports[i]}-${ports[j]}` : String(ports[i]));
    i = j;
  }
  return out.join(', ');
}

export function judgeInnerFirewall(subject: string, f: ContainerFacts, declared: number[]): Outcome {
  const fw = f.firewall;
  const want = [...new Set(declared)].sort((a, b) => a - b);
  const judge = (status: Outcome['status'], message: string, observed: unknown) =>
    outcome(CHECKS['inner-firewall'], subject, status, message, {
      expected: { allowedTCPPorts: want, inForce: true },
      observed,
      source: fw?.command ?? 'iptables-save',
      excerpt: fw?.text.split('\n').filter((l) => /nixos-fw|dport|^:INPUT|-A INPUT/.test(l)).slice(0, 24).join('\n'),
    });
  if (!fw || fw.rc !== 0) return judge('error', `cannot read the inner firewall: ${fw?.text.split('\n')[0] ?? 'not gathered'}`, null);
  let m: InnerFirewall | undefined;
  try {
    m = innerFirewall(fw.text, fw.command);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    return judge('error', `cannot read the inner firewall: ${e.message}`, null);
  }
  if (!m) return judge('fail', 'no NixOS firewall (nixos-fw) in the container\'s network namespace', null);
  const extra = m.ports.filter((p) => !want.includes(p)), missing = want.filter((p) => !m!.ports.includes(p));
  const problems = [
    ...m.notInForce.map((w) => `not in force: ${w}`),
    extra.length ? `also allows ${portsText(extra)}` : '',
    missing.length ? `does not allow declared ${missing.join(', ')}` : '',
  ].filter(Boolean);
  // Small enough to show whole; a protocol-wide accept shows as its range.
  const observed = { allowedTCPPorts: m.ports.length <= 64 ? m.ports : portsText(m.ports), ...(m.notInForce.length ? { notInForce: m.notInForce } : {}), ...(m.drift.length ? { drift: m.drift } : {}) };
  return judge(problems.length ? 'fail' : 'pass', problems.length ? problems.join('; ') : `allows exactly ${want.join(', ') || 'nothing'}`, observed);
}
