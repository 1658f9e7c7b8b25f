// Checklist "security hardening applied", as the DevSec ssh-baseline and linux-baseline profiles
// know it, read from effective state: sshd -T, kernel parameters from /proc/sys (per network
// namespace for net.*, global ones only where the node owns its kernel), and one bounded scan for
// world-writable and setuid/setgid files. One round trip (src/probes/hardening.ts, hardening.sh);
// the judges live in suites/hardening/. docs/hardening.md compares item by item.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { outcome } from '../src/core/checks.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import { parseDuration } from '../src/core/units.js';
import { FORMATS } from '../src/core/formats.js';
import { gatherHardening, type HardeningFacts, type HardeningRequest } from '../src/probes/hardening.js';
import { CHECKS, type HardeningExpect } from './hardening/checks.js';
import { judgeSshd } from './hardening/ssh.js';
import { judgeKernel, kernelKeys } from './hardening/kernel.js';
import { DEFAULT_PRUNE, DEFAULT_ROOTS, judgeFiles, SUID_ONLY } from './hardening/files.js';

export { CHECKS, type HardeningExpect };

const path = { type: 'string', pattern: '^/\\S*$' };
const algos = { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9@.+_-]+$' }, minItems: 1 };
const value = { type: ['integer', 'string'] };

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sshd: {
      oneOf: [
        { const: false },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            permitRootLogin: { type: 'array', items: { enum: ['no', 'prohibit-password', 'without-password', 'forced-commands-only', 'yes'] }, minItems: 1 },
            strictModes: { type: 'boolean' },
            maxAuthTries: { type: 'integer', minimum: 1 },
            loginGraceTime: { type: ['string', 'number'], format: FORMATS.duration },
            maxSessions: { type: 'integer', minimum: 0 },
            maxStartups: { type: 'string', pattern: '^\\d+(:\\d+:\\d+)?$' },
            x11Forwarding: { type: 'boolean' },
            agentForwarding: { type: 'boolean' },
            tcpForwarding: { enum: ['no', 'local', 'remote', 'yes', 'all'] },
            gatewayPorts: { enum: ['no', 'yes', 'clientspecified'] },
            permitTunnel: { enum: ['no', 'yes', 'point-to-point', 'ethernet'] },
            ciphers: algos,
            macs: algos,
            kexAlgorithms: algos,
          },
        },
      ],
    },
    kernel: {
      oneOf: [
        { const: false },
        {
          type: 'object',
          propertyNames: { pattern: '^[a-z0-9_]+(\\.[A-Za-z0-9_-]+)+$' },
          additionalProperties: { oneOf: [value, { type: 'array', items: value, minItems: 1 }, { type: 'null' }] },
        },
      ],
    },
    worldWritable: { oneOf: [{ const: false }, { type: 'object', additionalProperties: false, properties: { allow: { type: 'array', items: path } } }] },
    suid: { oneOf: [{ const: false }, { type: 'object', additionalProperties: false, properties: { allow: { type: 'array', items: path } } }] },
    scan: {
      type: 'object',
      additionalProperties: false,
      properties: {
        roots: { type: 'array', items: path, minItems: 1 },
        prune: { type: 'array', items: path },
        timeout: { type: ['string', 'number'], format: FORMATS.duration },
      },
    },
  },
};

/** What the probe is asked: the kernel keys to read and the scan's bounds. */
export function request(e: HardeningExpect): HardeningRequest {
  const scanWanted = e.worldWritable !== false || e.suid !== false;
  return {
    keys: kernelKeys(e.kernel),
    // The temp dirs are always searched for setuid files, whatever roots the expectation names.
    roots: scanWanted ? [...new Set([...(e.scan?.roots ?? DEFAULT_ROOTS), ...SUID_ONLY])] : [],
    prune: e.scan?.prune ? [...DEFAULT_PRUNE, ...e.scan.prune] : DEFAULT_PRUNE,
    suidOnly: SUID_ONLY,
    limitSec: Math.max(1, Math.round(parseDuration(e.scan?.timeout ?? 30) / 1000)),
  };
}

async function gather(ctx: SuiteContext, e: HardeningExpect): Promise<HardeningFacts> {
  return gatherHardening(ctx.host, request(e), ctx.options.timeoutMs);
}

export function evaluate(f: HardeningFacts, e: HardeningExpect): Outcome[] {
  const out: Outcome[] = [];
  if (e.sshd === false) {
    for (const k of ['ssh-auth', 'ssh-crypto', 'ssh-limits', 'ssh-forwarding'] as const) out.push(outcome(CHECKS[k], 'sshd', 'skipped', 'sshd not expected (sshd: false)', { source: 'expectation hardening' }));
  } else out.push(...judgeSshd(f.sshd, e.sshd ?? {}));
  if (e.kernel === false) {
    for (const k of ['kernel-net', 'kernel'] as const) out.push(outcome(CHECKS[k], 'kernel parameters', 'skipped', 'kernel parameters not expected (kernel: false)', { source: 'expectation hardening' }));
  } else out.push(...judgeKernel(f.sysctl, e.kernel, f.platformLimit));
  out.push(...judgeFiles(f.scan, e));
  if (e.worldWritable === false) out.push(outcome(CHECKS['world-writable'], 'world-writable files', 'skipped', 'not expected (worldWritable: false)', { source: 'expectation hardening' }));
  if (e.suid === false) out.push(outcome(CHECKS.suid, 'setuid/setgid files', 'skipped', 'not expected (suid: false)', { source: 'expectation hardening' }));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

type SshdPlan = Exclude<HardeningExpect['sshd'], false | undefined>;

/**
 * sshd as services.openssh.settings declares it: forwarding and allow-lists as declared, limits no
 * looser than the baseline's (a declared MaxAuthTries 10 still expects 3). Authentication stays the
 * baseline's whatever is declared: that is what the check is for.
 */
function sshdPlan(m: Manifest, cite: Cite): SshdPlan | undefined {
  const s = m.sshd;
  if (!s?.enable) return undefined;
  const v = s.settings;
  const e: SshdPlan = {};
  const at = (k: string) => optionPath(s.path, k);
  const yn = (x: unknown) => x === true || x === 'yes';
  const word = (x: unknown) => (x === true ? 'yes' : x === false ? 'no' : String(x));
  const take = <K extends keyof SshdPlan>(key: K, nix: string, value: SshdPlan[K]) => {
    e[key] = value;
    cite(['hardening', 'sshd', key], at(nix));
  };
  if ('X11Forwarding' in v) take('x11Forwarding', 'X11Forwarding', yn(v.X11Forwarding));
  if ('AllowAgentForwarding' in v) take('agentForwarding', 'AllowAgentForwarding', yn(v.AllowAgentForwarding));
  if ('AllowTcpForwarding' in v) take('tcpForwarding', 'AllowTcpForwarding', word(v.AllowTcpForwarding));
  if ('GatewayPorts' in v) take('gatewayPorts', 'GatewayPorts', word(v.GatewayPorts));
  if ('PermitTunnel' in v) take('permitTunnel', 'PermitTunnel', word(v.PermitTunnel));
  if (typeof v.MaxAuthTries === 'number') take('maxAuthTries', 'MaxAuthTries', Math.min(v.MaxAuthTries, 3));
  if (typeof v.LoginGraceTime === 'number') take('loginGraceTime', 'LoginGraceTime', Math.min(v.LoginGraceTime, 60));
  if (typeof v.MaxSessions === 'number') take('maxSessions', 'MaxSessions', v.MaxSessions);
  if (typeof v.MaxStartups === 'string') take('maxStartups', 'MaxStartups', v.MaxStartups);
  for (const [key, nix] of [['ciphers', 'Ciphers'], ['macs', 'Macs'], ['kexAlgorithms', 'KexAlgorithms']] as const) {
    const list = v[nix];
    if (Array.isArray(list) && list.length) take(key, nix, list.map(String));
  }
  return Object.keys(e).length ? e : undefined;
}

/**
 * The baseline applies to every NixOS node, so plan always emits the suite (defaults), with sshd's
 * declared forwarding and limits. A node that forwards (NAT for its containers) declares
 * net.ipv4.ip_forward; the tuning suite compares every declared sysctl, so here only the forwarding
 * the configuration turns on is carried over.
 */
export function fromManifest(m: Manifest, cite: Cite): HardeningExpect {
  const e: HardeningExpect = {};
  const sshd = sshdPlan(m, cite);
  if (sshd) e.sshd = sshd;
  if (m.host.networking.nat.enable) {
    e.kernel = { 'net.ipv4.ip_forward': 1 };
    cite(['hardening', 'kernel', 'net.ipv4.ip_forward'], `${m.host.networking.nat.path}.enable`);
  }
  return e;
}

export const hardeningSuite: Suite<HardeningExpect, HardeningFacts> = {
  name: 'hardening',
  key: 'hardening',
  schema: SCHEMA,
  gather: (ctx, e) => gather(ctx, e ?? {}),
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
