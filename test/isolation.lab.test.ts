// Isolation against a full lab node over real SSH: healthy → every isolation check passes (the
// alchemist container runs its own NixOS firewall, checked too); each isolation fault → the checks it
// names fail; heal → pass again. Bad input: a container the expectation names that does not exist.
// Also records the suite's round trips.
import { describe, expect, it } from 'vitest';
import { isolationSuite } from '../suites/isolation.js';
import type { Result } from '../src/core/types.js';
import { insideSuiteLab } from './helpers/suite-lab.js';

const fw = (rs: Result[], name: string) => rs.find((x) => x.id === 'isolation.inner-firewall' && x.subject === `container ${name}`);

describe('isolation on a full lab node', () => {
  const t = insideSuiteLab({
    name: 'isolation',
    suite: isolationSuite,
    roundTrips: 3,
    roundTripsTitle: 'round trips: locator + facts + connect batch = 3 execs for all containers',
    healthy(iso) {
      const ids = new Set(iso.map((r) => r.id));
      for (const id of ['isolation.container-present', 'isolation.namespaces', 'isolation.user-namespace', 'isolation.capabilities', 'isolation.no-new-privs', 'isolation.reachability', 'isolation.inner-firewall']) expect(ids).toContain(id);
      expect(iso.filter((r) => r.id === 'isolation.namespaces')).toHaveLength(5);
      // only alchemist has a firewall of its own (as its NixOS declaration has), allowing what it declares
      expect(iso.filter((r) => r.id === 'isolation.inner-firewall').map((r) => `${r.subject}: ${r.status} ${r.message}`)).toEqual(['container alchemist: pass allows exactly 5432, 8080']);
    },
    detail: {
      // an allowlist, not a blocklist: each capability beyond nspawn's default set is named (red team I2)
      'isolation-extra-capabilities': (results) => {
        const r = results.find((x) => x.id === 'isolation.capabilities' && x.subject === 'container alchemist-workflow')!;
        expect(r).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/^bounding set holds CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_BPF, beyond systemd-nspawn's default set/) });
      },
      // the leader's namespaces are right: the process beside it is named (red team I1)
      'isolation-process-host-netns': (results) => {
        const r = results.find((x) => x.id === 'isolation.namespaces' && x.subject === 'container alchemist-agent')!;
        expect(r).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/^process \d+ \(lab-backend.pl\) runs in the host's network namespace/) });
        expect(results.find((x) => x.id === 'limits.enforced' && x.subject === 'container alchemist-agent')?.status ?? 'pass').toBe('pass');
      },
      // read with the host firewall's model: a direct ACCEPT opens the port, an unhooked nixos-fw is off (red team I8a, I8b)
      'isolation-inner-firewall-accept': (results) => {
        expect(fw(results, 'alchemist')).toMatchObject({ status: 'fail', message: 'also allows 6379' });
      },
      'isolation-inner-firewall-unhooked': (results) => {
        expect(fw(results, 'alchemist')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^not in force: INPUT does not jump to nixos-fw/) });
      },
      'isolation-cap-sys-admin': (results) => {
        const r = results.find((x) => x.id === 'isolation.capabilities' && x.subject === 'container alchemist-workflow')!;
        expect(r).toMatchObject({ status: 'fail', severity: 'critical', message: expect.stringMatching(/^bounding set keeps CAP_SYS_ADMIN/) });
      },
      // the extra port is named, the declared ones still match
      'isolation-inner-firewall-open': (results) => {
        expect(fw(results, 'alchemist')).toMatchObject({ status: 'fail', message: 'also allows 6379' });
        expect(fw(results, 'alchemist')!.evidence.observed).toEqual({ allowedTCPPorts: [5432, 6379, 8080] });
      },
    },
    facts(facts) {
      expect(facts.containers.every((c: { problem?: string }) => !c.problem)).toBe(true);
      return `for ${facts.containers.length} containers`;
    },
  });
  const { inventory, run } = t;

  it('a container named in the expectation that does not exist: fail with a plain reason', async () => {
    const file = inventory('ghost', (exp) => {
      exp.containers.ghost = { privateNetwork: true };
      exp.limits = { containers: { ghost: { memoryMax: '1G' } } };
      delete exp.postgres;
      delete exp.secrets;
    });
    const { code, results, stdout } = await run(file);
    expect(code).toBe(1);
    const ghost = results.filter((r) => r.subject === 'container ghost');
    expect(ghost.map((r) => `${r.id}:${r.status}`).sort()).toEqual(['isolation.container-present:fail', 'limits.declared:skipped', 'limits.enforced:fail']);
    for (const r of ghost.filter((x) => x.status === 'fail')) expect(r.message).toMatch(/"ghost" does not exist on the node .*found: alchemist/);
    expect(stdout).not.toMatch(/at .*\.js:\d+/);
  });

  it('a declared path that is silent ends its lane: that attempt times out, the rest are still tried (a second batch), the verdict stays as declared', async () => {
    // Declared attempts share one process per container, one after the other (isolation-reach.sh).
    const node = t.lab.info.nodes[0]!.name;
    const rule = 'OUTPUT -p tcp -d 10.233.1.1 --dport 80 -j DROP';
    const inNs = (op: string) => t.lab.exec(node, `L=$(machinectl show alchemist -p Leader --value) && nsenter --net=/proc/$L/ns/net iptables ${op} ${rule}`);
    expect((await inNs('-I')).code).toBe(0);
    try {
      const file = inventory('lane', (exp) => {
        for (const k of ['limits', 'postgres', 'secrets']) delete exp[k];
      });
      const { results } = await run(file);
      const r = results.find((x) => x.id === 'isolation.reachability' && x.subject === 'container alchemist')!;
      expect(r.status).toBe('pass');
      const observed = r.evidence.observed as string[];
      expect(observed).toContain('host:80 (10.233.1.1) timeout');
      // every other target of alchemist was tried and answered, none left "not attempted"
      expect(observed.filter((o) => !o.startsWith('host:80 ')).every((o) => / open$/.test(o))).toBe(true);
      expect(observed.length).toBeGreaterThanOrEqual(7);
    } finally {
      await inNs('-D');
    }
  });

  it('inner firewall declared for a container that has none (alchemist-graph): fail, not pass', async () => {
    const file = inventory('innerfw', (exp) => {
      exp.containers['alchemist-graph'].innerFirewall = true;
      for (const k of ['limits', 'postgres', 'secrets']) delete exp[k];
    });
    const { code, results } = await run(file);
    expect(code).toBe(1);
    expect(fw(results, 'alchemist-graph')).toMatchObject({ status: 'fail', message: expect.stringMatching(/no NixOS firewall/) });
    expect(fw(results, 'alchemist')).toMatchObject({ status: 'pass', message: 'allows exactly 5432, 8080' });
  });
});
