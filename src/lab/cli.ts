// `leafcert lab up|down|status|faults|fault|heal`: the emulated leaf nodes (issue 2).
import type { Command } from 'commander';
import { LabError } from './proc.js';
import { resolve } from 'node:path';
import { up, down, status, problems } from './lab.js';
import { applyFault, healFaults, listFaults } from './faults/run.js';

const DEFAULT_STATE = './.lab';

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new LabError('the lab needs root (it creates network namespaces, veths, mounts and cgroups); run it as root', 2);
}

async function guarded(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const code = e instanceof LabError ? e.exitCode : 1;
    process.stderr.write(`leafcert lab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = code;
  }
}

const say = (l: string) => process.stdout.write(l + '\n');

// Long only because it declares every `lab` subcommand with its options in one place (commander's
// builder style); each action is a short call into src/lab.
export function registerLab(program: Command): void {
  const lab = program.command('lab').description('emulated Alchemist leaf nodes in network namespaces (root only)');

  lab.command('up')
    .description('bring up lab nodes (idempotent: reuses a running lab of the same shape)')
    .option('--state <dir>', 'lab state dir', DEFAULT_STATE)
    .option('--nodes <n>', 'number of nodes', '1')
    .option('--flavour <flavour>', 'full, light, or systemd (a full node booted with systemd as PID 1)', 'full')
    .option('--firewall <backend>', 'iptables or nftables', 'iptables')
    .action((o: { state: string; nodes: string; flavour: string; firewall: string }) => guarded(async () => {
      requireRoot();
      const nodes = Number(o.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 2000) throw new LabError(`--nodes must be an integer 1..2000, got ${o.nodes}`, 2);
      if (o.flavour !== 'full' && o.flavour !== 'light' && o.flavour !== 'systemd') throw new LabError(`--flavour must be full, light or systemd, got ${o.flavour}`, 2);
      if (o.firewall !== 'iptables' && o.firewall !== 'nftables') throw new LabError(`--firewall must be iptables or nftables, got ${o.firewall}`, 2);
      await up({ state: o.state, nodes, flavour: o.flavour, firewall: o.firewall, log: say });
    }));

  lab.command('down')
    .description('remove every namespace, process, cgroup, mount and file of the lab (also a half-built one)')
    .option('--state <dir>', 'lab state dir', DEFAULT_STATE)
    .action((o: { state: string }) => guarded(async () => {
      requireRoot();
      await down(o.state, say);
    }));

  lab.command('status')
    .description('each node, its address, services and containers')
    .option('--state <dir>', 'lab state dir', DEFAULT_STATE)
    .option('--json', 'JSON output (includes the inventory path)')
    .action((o: { state: string; json?: boolean }) => guarded(async () => {
      requireRoot();
      let s: Awaited<ReturnType<typeof status>>;
      try {
        s = await status(o.state);
      } catch (e) {
        // JSON consumers get an object to read even when there is no lab; the message still goes to stderr.
        if (o.json && e instanceof LabError && e.exitCode === 2) say(JSON.stringify({ state: resolve(o.state), exists: false }));
        throw e;
      }
      const down = s.nodes.some((n) => problems(n).some((p) => !p.startsWith('fault ')));
      if (down) process.exitCode = 1;
      if (o.json) return say(JSON.stringify(s, null, 2));
      say(`lab ${s.state}  inventory ${s.inventory}`);
      for (const n of s.nodes) {
        const svc = Object.entries(n.services).map(([k, v]) => `${k}:${v ? 'up' : 'DOWN'}`).join(' ');
        say(`${n.name.padEnd(9)} ${n.address.padEnd(15)} ${n.up ? 'up  ' : 'DOWN'} ${svc}${n.faults.length ? `  faults: ${n.faults.join(', ')}` : ''}`);
        for (const [c, cs] of Object.entries(n.containers))
          say(`  ${c.padEnd(20)} ${cs.up ? 'up  ' : 'DOWN'} ${Object.entries(cs.ports).map(([p, v]) => `${p}:${v ? 'listening' : 'CLOSED'}`).join(' ')}`);
      }
    }));

  lab.command('faults')
    .description('list the faults and the property each breaks')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => guarded(async () => {
      const all = listFaults();
      if (o.json) return say(JSON.stringify(all, null, 2));
      for (const f of all) say(`${f.name.padEnd(32)} ${f.area.padEnd(11)} ${f.needs ? `[${f.needs}] ` : ''}${f.breaks}`);
    }));

  lab.command('fault')
    .description('apply one fault to a node')
    .argument('<node>')
    .argument('<fault>')
    .option('--state <dir>', 'lab state dir', DEFAULT_STATE)
    .action((node: string, fault: string, o: { state: string }) => guarded(async () => {
      requireRoot();
      await applyFault(o.state, node, fault);
      say(`${fault} applied to ${node}`);
    }));

  lab.command('heal')
    .description('revert one fault, or every fault applied to the node')
    .argument('<node>')
    .argument('[fault]')
    .option('--state <dir>', 'lab state dir', DEFAULT_STATE)
    .action((node: string, fault: string | undefined, o: { state: string }) => guarded(async () => {
      requireRoot();
      const healed = await healFaults(o.state, node, fault);
      say(healed.length ? `healed on ${node}: ${healed.join(', ')}` : `no fault applied on ${node}`);
    }));
}
