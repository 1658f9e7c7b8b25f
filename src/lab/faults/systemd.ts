// Faults of the systemd side of a node, for nodes booted by systemd (`lab up --flavour systemd`):
// each is what an operator's command does to the units (set-property at runtime, a drop-in, a
// stopped timer, a failed run, a killed unit), and heals with the opposite command.
import { LabError } from '../proc.js';
import { readState, writeState } from '../state.js';
import { refreshLeaders } from '../systemd.js';
import { ACME_DOMAIN, BACKUP_JOB, NGINX_NOFILE } from '../systemd-units.js';
import type { Fault, FaultContext } from './types.js';

function requireSystemd(ctx: FaultContext): void {
  if (ctx.node.init !== 'systemd')
    throw new LabError(`this fault needs a node booted by systemd (lab up --flavour systemd); ${ctx.node.name} has no systemd`, 2);
}

/** After a container unit restarts, its leader is new: record it in lab.json as `lab up` did. */
async function recordLeaders(ctx: FaultContext): Promise<void> {
  const s = readState(ctx.lab.state);
  const n = s?.info.nodes.find((x) => x.name === ctx.node.name);
  if (!s || !n) throw new LabError(`${ctx.node.name} is not in ${ctx.lab.state}/lab.json`);
  await refreshLeaders(n);
  ctx.node.containers = n.containers;
  writeState(ctx.lab.state, s);
}

/** Starts (or restarts) a unit and fails unless it ends active. */
const startUnit = (u: string, verb = 'start') => `systemctl reset-failed ${u} 2>/dev/null; systemctl ${verb} ${u}; [ "$(systemctl is-active ${u})" = active ]`;

const LIMITED = 'container@alchemist.service';
const MOVED = 'container@alchemist-workflow.service';
const KILLED = 'container@alchemist-agent.service';
const JOB = `borgbackup-job-${BACKUP_JOB}`;
const ACME_TIMER = `acme-${ACME_DOMAIN}.timer`;
const SAVED = '/var/lib/leafcert-lab/saved';

export const faults: Fault[] = [
  {
    name: 'limits-memorymax-runtime',
    area: 'limits',
    breaks: `${LIMITED}'s MemoryMax is set to 4G at runtime (systemctl set-property --runtime), unlike its declared 8G`,
    catches: ['limits.declared'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`systemctl set-property --runtime ${LIMITED} MemoryMax=4G 2>/dev/null; [ "$(systemctl show -p MemoryMax --value ${LIMITED})" = $((4 << 30)) ]`);
    },
    async heal(ctx) {
      await ctx.exec(`rm -f /run/systemd/system.control/${LIMITED}.d/*MemoryMax*.conf && systemctl daemon-reload && [ "$(systemctl show -p MemoryMax --value ${LIMITED})" = $((8 << 30)) ]`);
    },
  },
  {
    name: 'limits-unit-out-of-slice',
    area: 'limits',
    breaks: `${MOVED} runs in system.slice (a drop-in Slice=), so machine.slice lacks one of its units`,
    catches: ['limits.slice-used'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`mkdir -p /run/systemd/system/${MOVED}.d && printf '[Service]\\nSlice=system.slice\\n' > /run/systemd/system/${MOVED}.d/50-slice.conf && systemctl daemon-reload && ${startUnit(MOVED, 'restart')}`);
      await recordLeaders(ctx);
    },
    async heal(ctx) {
      await ctx.exec(`rm -rf /run/systemd/system/${MOVED}.d && systemctl daemon-reload && ${startUnit(MOVED, 'restart')} && [ "$(systemctl show -p Slice --value ${MOVED})" = machine.slice ]`);
      await recordLeaders(ctx);
    },
  },
  {
    name: 'backup-timer-stopped',
    area: 'backup',
    breaks: `${JOB}.timer is stopped and disabled (systemctl disable --now): the job no longer runs on schedule`,
    catches: ['backup.units'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`systemctl disable --now ${JOB}.timer 2>/dev/null`);
    },
    async heal(ctx) {
      await ctx.exec(`systemctl enable --now ${JOB}.timer 2>/dev/null && [ "$(systemctl is-active ${JOB}.timer)" = active ]`);
    },
  },
  {
    name: 'backup-last-run-failed',
    area: 'backup',
    breaks: `the last run of ${JOB}.service failed (Result=exit-code: it ran while the passphrase file was wrong; the file is restored)`,
    catches: ['backup.units'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`set -e
mkdir -p ${SAVED} && cp -p /etc/borg/passphrase ${SAVED}/passphrase
echo wrong-passphrase > /etc/borg/passphrase
systemctl start ${JOB}.service 2>/dev/null || true
cp -p ${SAVED}/passphrase /etc/borg/passphrase && rm -f ${SAVED}/passphrase
[ "$(systemctl show -p Result --value ${JOB}.service)" = exit-code ]`);
    },
    async heal(ctx) {
      await ctx.exec(`systemctl start ${JOB}.service && [ "$(systemctl show -p Result --value ${JOB}.service)" = success ]`);
    },
  },
  {
    name: 'checklist-acme-timer-missing',
    area: 'checklist',
    breaks: `${ACME_TIMER} is gone (stopped, its unit file removed, daemon-reload): nothing renews the certificate`,
    catches: ['checklist.tls-renewal'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`set -e
systemctl disable --now ${ACME_TIMER} 2>/dev/null
mkdir -p ${SAVED} && mv /etc/systemd/system/${ACME_TIMER} ${SAVED}/
systemctl daemon-reload
[ "$(systemctl show -p LoadState --value ${ACME_TIMER})" = not-found ]`);
    },
    async heal(ctx) {
      await ctx.exec(`mv ${SAVED}/${ACME_TIMER} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now ${ACME_TIMER} 2>/dev/null && [ "$(systemctl is-active ${ACME_TIMER})" = active ]`);
    },
  },
  {
    name: 'isolation-container-unit-failed',
    area: 'isolation',
    breaks: `${KILLED} failed (every process of the unit got SIGKILL): the container is not running`,
    catches: ['isolation.container-present'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`systemctl kill --kill-who=all -s KILL ${KILLED}; for _ in $(seq 1 100); do [ "$(systemctl is-active ${KILLED})" = failed ] && exit 0; sleep 0.1; done; systemctl status --no-pager ${KILLED} >&2; exit 1`);
      await recordLeaders(ctx);
    },
    async heal(ctx) {
      await ctx.exec(startUnit(KILLED));
      await recordLeaders(ctx);
    },
  },
  {
    name: 'tuning-nofile-dropin',
    area: 'tuning',
    breaks: `a drop-in lowers nginx.service's LimitNOFILE to 4096 (daemon-reload, not restarted): systemd no longer has the declared ${NGINX_NOFILE}`,
    catches: ['tuning.nofile'],
    needs: 'systemd',
    async apply(ctx) {
      requireSystemd(ctx);
      await ctx.exec(`mkdir -p /run/systemd/system/nginx.service.d && printf '[Service]\\nLimitNOFILE=4096\\n' > /run/systemd/system/nginx.service.d/50-nofile.conf && systemctl daemon-reload && [ "$(systemctl show -p LimitNOFILE --value nginx.service)" = 4096 ]`);
    },
    async heal(ctx) {
      await ctx.exec(`rm -rf /run/systemd/system/nginx.service.d && systemctl daemon-reload && [ "$(systemctl show -p LimitNOFILE --value nginx.service)" = ${NGINX_NOFILE} ]`);
    },
  },
];
