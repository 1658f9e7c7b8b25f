// Writes <state>/inventory.yaml: one node entry and one expectation set per lab node, so
// `leafcert run --inventory <state>/inventory.yaml` checks the whole lab with no edits.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { expectations } from './expect/index.js';
import type { LabInfo } from './types.js';

export function writeInventory(lab: LabInfo): void {
  const exp: Record<string, Record<string, unknown>> = {};
  for (const node of lab.nodes) {
    const e: Record<string, unknown> = {};
    for (const [key, fn] of Object.entries(expectations)) {
      const v = fn(node, lab);
      if (v !== undefined) e[key] = v;
    }
    exp[node.name] = e;
  }
  const doc = {
    nodes: lab.nodes.map((n) => ({
      name: n.name,
      host: n.address,
      transport: 'ssh',
      ssh: { user: 'root', identityFile: 'id_ed25519', knownHosts: 'known_hosts' },
      expect: n.name,
      labels: { lab: 'leafcert', flavour: n.flavour, firewall: n.firewall },
    })),
    expectations: exp,
  };
  writeFileSync(lab.inventory, '# Written by `leafcert lab up`; paths are relative to this file.\n' + stringify(doc));
}
