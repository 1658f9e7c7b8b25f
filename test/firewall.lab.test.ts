// firewall suite against lab nodes: healthy passes every check; each lab firewall fault makes the
// checks it names fail; healing brings every check back to pass. Both backends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type TestLab } from './helpers/lab.js';
import { faultsFor, notPassing, statusOf, suiteRunner, type SuiteRunner } from './helpers/net.js';
import { firewallSuite } from '../suites/firewall.js';

for (const backend of ['iptables', 'nftables'] as const) {
  describe(`firewall suite on a lab node (${backend})`, () => {
    let lab: TestLab;
    let r: SuiteRunner;
    let node: string;
    beforeAll(async () => {
      lab = await startLab({ name: `firewall-${backend}`, firewall: backend });
      node = lab.info.nodes[0].name;
      r = await suiteRunner(lab, node, firewallSuite);
    });
    afterAll(async () => {
      await r?.close();
      await lab?.down();
    });

    it('healthy node passes every check, in few round trips', async () => {
      const before = r.host.roundTrips;
      const os = await r.run();
      expect(notPassing(os)).toEqual([]);
      expect(statusOf(os, 'firewall.port-closed').length).toBeGreaterThan(0);
      // identity + the one firewall probe script
      expect(r.host.roundTrips - before).toBe(2);
      const enabled = os.find((o) => o.id === 'firewall.enabled')!;
      expect(enabled.message).toContain(backend);
      // The node's listening sockets, read by the probe's shell from /proc/net/tcp{,6}, are the context
      // of each port's evidence: nginx listens on 443, the closed ports' outcome says what listens.
      const open443 = os.find((o) => o.id === 'firewall.port-open' && o.subject === 'tcp/443')!;
      expect(open443.evidence.excerpt).toMatch(/node listens on \S*:443/);
      for (const c of os.filter((o) => o.id === 'firewall.port-closed')) expect(c.evidence.excerpt).toMatch(/node listens on|nothing listens on it/);
    });

    const faults = faultsFor('firewall', firewallSuite);
    it('the lab has firewall faults for every check this suite cares about', () => {
      expect(faults.map((f) => f.name)).toEqual(expect.arrayContaining(['firewall-extra-port', 'firewall-flushed', 'firewall-policy-accept', 'firewall-port-blocked', 'firewall-uplink-accept', 'firewall-conntrack-new', 'firewall-refuse-accept', 'firewall-set-accept', 'firewall-ipv6-open', 'firewall-dnat-chain', 'firewall-dnat-nat-pre', 'firewall-dnat-nft-table', 'firewall-vmap-accept']));
      for (const f of faults) expect(f.catches.length, `${f.name} catches ${f.all.join(', ')}`).toBeGreaterThan(0);
    });

    for (const f of faults) {
      it(`${f.name}: makes ${f.catches.join(', ')} fail; heal → all pass`, async () => {
        await lab.fault(node, f.name);
        try {
          const os = await r.run();
          // The registry does not list drift for extra-port, but an `-I` insert / temp-ports element is drift.
          const also = f.name === 'firewall-extra-port' ? ['firewall.drift'] : [];
          for (const id of [...f.catches, ...also]) expect(statusOf(os, id), `${id}: ${JSON.stringify(os.filter((o) => o.id === id).map((o) => o.message))}`).toContain('fail');
          expect(os.filter((o) => o.status === 'error').map((o) => o.message)).toEqual([]);
          if (f.name === 'firewall-port-blocked') {
            // an operator dropped 443 from allowedTCPPorts: HTTPS is filtered, the allowed set drifted
            const open = os.filter((o) => o.id === 'firewall.port-open');
            expect(open.find((o) => o.subject === 'tcp/443')!.status).toBe('fail');
            expect(open.find((o) => o.subject === 'tcp/443')!.message).toMatch(/filtered/);
            expect(statusOf(os, 'firewall.allowed-ports')).toEqual(['fail']);
          }
        } finally {
          await lab.heal(node, f.name);
        }
        expect(notPassing(await r.run())).toEqual([]);
      });
    }
  });
}
