// sshd judges: each setting of sshd -T against the expectation, one result per setting.
import type { Outcome } from '../../src/core/types.js';
import { outcome, type CheckDef } from '../../src/core/checks.js';
import type { Fact } from '../../src/core/fact.js';
import { parseDuration } from '../../src/core/units.js';
import type { SshdConfig } from '../../src/probes/hardening.js';
import { CHECKS, type HardeningExpect } from './checks.js';

type SshdExpect = Exclude<HardeningExpect['sshd'], false | undefined>;

/** Names or patterns nobody should offer any more (SHA-1, MD5, CBC, RC4, 3DES, 64-bit tags). */
export const WEAK = {
  ciphers: [/-cbc$/, /^3des/, /^arcfour/, /^blowfish/, /^cast128/, /^rijndael-cbc/],
  macs: [/^hmac-md5/, /^hmac-sha1(-|$|@)/, /^hmac-sha1-etm@/, /^umac-64/, /^hmac-ripemd160/, /-96(@|$)/],
  kexalgorithms: [/^diffie-hellman-group1-sha1$/, /^diffie-hellman-group14-sha1$/, /^diffie-hellman-group-exchange-sha1$/, /^gss-.*sha1/, /^rsa1024-sha1$/],
};

const SOURCE = (c: SshdConfig) => `${c.binary} -T -f /etc/ssh/sshd_config`;

/** `absentOk`: an sshd built without the feature (Kerberos, GSSAPI) prints no keyword for it, and cannot have it on. */
function one(def: CheckDef, c: SshdConfig, key: string, ok: (v: string) => boolean, expected: unknown, why: (v: string) => string, absentOk = false): Outcome {
  const v = c.settings[key]?.[0];
  const ev = { source: SOURCE(c), expected, observed: v ?? null, excerpt: `${key} ${v ?? '(absent)'}` };
  if (v === undefined && absentOk) return outcome(def, `sshd ${key}`, 'pass', `${key}: not built into this sshd`, ev);
  if (v === undefined) return outcome(def, `sshd ${key}`, 'error', `sshd -T printed no ${key}: this OpenSSH names it differently; not judged`, ev);
  return ok(v) ? outcome(def, `sshd ${key}`, 'pass', `${key} ${v}`, ev) : outcome(def, `sshd ${key}`, 'fail', why(v), ev);
}

export function sshAuth(c: SshdConfig, e: SshdExpect): Outcome[] {
  const d = CHECKS['ssh-auth'];
  const roots = e.permitRootLogin ?? ['no', 'prohibit-password', 'without-password'];
  // kbd-interactive replaced challenge-response in OpenSSH 8.7; older ones print only the latter.
  const kbd = 'kbdinteractiveauthentication' in c.settings ? 'kbdinteractiveauthentication' : 'challengeresponseauthentication';
  const off = (key: string, what: string) => one(d, c, key, (v) => v === 'no', 'no', () => `${what}: ${key} is yes`);
  return [
    off('passwordauthentication', 'sshd accepts passwords'),
    off(kbd, 'sshd accepts keyboard-interactive logins (passwords through PAM)'),
    one(d, c, 'permitrootlogin', (v) => roots.includes(v), roots, (v) => `root may log in with ${v === 'yes' ? 'a password' : `"${v}"`} (allowed: ${roots.join(', ')})`),
    off('permitemptypasswords', 'sshd accepts empty passwords'),
    off('hostbasedauthentication', 'sshd trusts other hosts (host-based authentication)'),
    one(d, c, 'ignorerhosts', (v) => v !== 'no', 'yes', () => 'sshd reads .rhosts/.shosts files'),
    off('permituserenvironment', 'users can set their environment (LD_PRELOAD) through sshd'),
    one(d, c, 'pubkeyauthentication', (v) => v === 'yes', 'yes', () => 'public key authentication is off: only weaker methods remain'),
    one(d, c, 'ignoreuserknownhosts', (v) => v === 'yes', 'yes', () => "sshd trusts users' known_hosts for host-based authentication"),
    one(d, c, 'kerberosauthentication', (v) => v === 'no', 'no', () => 'Kerberos authentication is on (it falls back to passwords)', true),
    one(d, c, 'gssapiauthentication', (v) => v === 'no', 'no', () => 'GSSAPI authentication is on', true),
    ...(e.strictModes === false ? [] : [one(d, c, 'strictmodes', (v) => v === 'yes', 'yes', () => 'sshd accepts keys from files and homes others can write (StrictModes no)')]),
  ];
}

export function sshCrypto(c: SshdConfig, e: SshdExpect): Outcome[] {
  const d = CHECKS['ssh-crypto'];
  const lists: [keyof typeof WEAK, string[] | undefined][] = [['ciphers', e.ciphers], ['macs', e.macs], ['kexalgorithms', e.kexAlgorithms]];
  return lists.map(([key, allowed]) => {
    const offered = (c.settings[key]?.[0] ?? '').split(',').filter(Boolean);
    const bad = allowed ? offered.filter((a) => !allowed.includes(a)) : offered.filter((a) => WEAK[key].some((re) => re.test(a)));
    const ev = { source: SOURCE(c), expected: allowed ?? `none of ${WEAK[key].map(String).join(' ')}`, observed: offered, excerpt: `${key} ${c.settings[key]?.[0] ?? '(absent)'}` };
    if (!offered.length) return outcome(d, `sshd ${key}`, 'error', `sshd -T printed no ${key}; not judged`, ev);
    return bad.length
      ? outcome(d, `sshd ${key}`, 'fail', `sshd offers ${allowed ? 'unlisted' : 'weak'} ${key}: ${bad.join(', ')}`, ev)
      : outcome(d, `sshd ${key}`, 'pass', `${offered.length} ${key}, none weak${allowed ? ' or unlisted' : ''}`, ev);
  });
}

export function sshLimits(c: SshdConfig, e: SshdExpect): Outcome[] {
  const d = CHECKS['ssh-limits'];
  const tries = e.maxAuthTries ?? 3;
  const grace = parseDuration(e.loginGraceTime ?? 60) / 1000;
  const num = (v: string) => (/^\d+$/.test(v) ? Number(v) : NaN);
  const out = [
    one(d, c, 'maxauthtries', (v) => num(v) <= tries, `≤ ${tries}`, (v) => `MaxAuthTries ${v} allows more than ${tries} attempts per connection`),
    // 0 means no limit at all.
    one(d, c, 'logingracetime', (v) => num(v) > 0 && num(v) <= grace, `1..${grace} s`, (v) => (v === '0' ? 'LoginGraceTime 0: unauthenticated connections never time out' : `LoginGraceTime ${v} s exceeds ${grace} s`)),
  ];
  if (e.maxSessions !== undefined) out.push(one(d, c, 'maxsessions', (v) => num(v) <= e.maxSessions!, `≤ ${e.maxSessions}`, (v) => `MaxSessions ${v} exceeds ${e.maxSessions}`));
  if (e.maxStartups !== undefined) out.push(one(d, c, 'maxstartups', (v) => v === e.maxStartups, e.maxStartups, (v) => `MaxStartups ${v}, declared ${e.maxStartups}`));
  return out;
}

export function sshForwarding(c: SshdConfig, e: SshdExpect): Outcome[] {
  const d = CHECKS['ssh-forwarding'];
  const yn = (b: boolean | undefined) => (b ? 'yes' : 'no');
  // sshd -T prints "yes" for AllowTcpForwarding all.
  const tcp = (e.tcpForwarding ?? 'no') === 'all' ? 'yes' : (e.tcpForwarding ?? 'no');
  const eq = (key: string, want: string, what: string) => one(d, c, key, (v) => v === want, want, (v) => `${what} is ${v}, declared ${want}`);
  return [
    eq('x11forwarding', yn(e.x11Forwarding), 'X11 forwarding'),
    one(d, c, 'x11uselocalhost', (v) => v === 'yes', 'yes', () => 'forwarded X11 displays listen on every address (X11UseLocalhost no)'),
    eq('allowagentforwarding', yn(e.agentForwarding), 'agent forwarding'),
    eq('allowtcpforwarding', tcp, 'TCP forwarding'),
    eq('gatewayports', e.gatewayPorts ?? 'no', 'GatewayPorts'),
    eq('permittunnel', e.permitTunnel ?? 'no', 'PermitTunnel'),
  ];
}

/** Every sshd result, or one error per check when sshd -T could not be read. */
export function judgeSshd(f: Fact<SshdConfig>, e: SshdExpect): Outcome[] {
  const judges: [CheckDef, (c: SshdConfig, e: SshdExpect) => Outcome[]][] = [
    [CHECKS['ssh-auth'], sshAuth],
    [CHECKS['ssh-crypto'], sshCrypto],
    [CHECKS['ssh-limits'], sshLimits],
    [CHECKS['ssh-forwarding'], sshForwarding],
  ];
  if (!f.ok) return judges.map(([def]) => outcome(def, 'sshd', 'error', f.reason, { source: f.source, excerpt: f.excerpt }));
  const out = judges.flatMap(([, j]) => j(f.value, e));
  // A Match block changes settings for the connections it matches, and sshd -T (without -C) shows
  // none of it: each block's settings, over the global ones, are judged the same way, and a setting
  // that a block makes worse fails its result.
  for (const m of f.value.matches ?? []) {
    const scoped = judges.flatMap(([, j]) => j(withMatch(f.value, m.settings), e));
    for (const o of scoped) {
      const i = out.findIndex((x) => x.id === o.id && x.subject === o.subject);
      if (o.status !== 'fail' || i < 0 || out[i].status === 'fail') continue;
      out[i] = { ...o, message: `${o.message} for connections matching "Match ${m.criteria}" (sshd -T shows only the global value: ${out[i].message})`, evidence: { ...o.evidence, source: `${o.evidence.source}; Match ${m.criteria} in /etc/ssh/sshd_config (with its Includes)` } };
    }
  }
  return out;
}

/** The settings of a connection a Match block applies to: its keywords over the global ones (as sshd -T would print them). */
export function withMatch(c: SshdConfig, block: Record<string, string[]>): SshdConfig {
  const settings = { ...c.settings };
  for (const [k, vs] of Object.entries(block)) {
    const v = vs[0];
    if (k in WEAK) {
      // Algorithm lists: +added, -removed, ^first, or a list of their own.
      const global = (c.settings[k]?.[0] ?? '').split(',').filter(Boolean);
      const list = v.replace(/^[+^-]/, '').split(',').filter(Boolean);
      settings[k] = [(v.startsWith('+') ? [...global, ...list] : v.startsWith('^') ? [...list, ...global] : v.startsWith('-') ? global.filter((a) => !list.includes(a)) : list).join(',')];
    } else settings[k] = [k === 'allowtcpforwarding' && /^all$/i.test(v) ? 'yes' : /^(yes|no|all|local|remote|none)$/i.test(v) ? v.toLowerCase() : k === 'permitrootlogin' && v.toLowerCase() === 'prohibit-password' ? 'without-password' : v];
  }
  return { ...c, settings };
}
