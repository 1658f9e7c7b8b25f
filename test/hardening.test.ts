// hardening suite: parsers on OpenSSH's real `sshd -T` output and the probe's sections; each
// judge fails on the broken fact and passes on the healthy one; unreadable or missing facts
// (no sshd -T rights, a missing parameter, a scan cut short) are errors or skips, never passes.
import { describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { LocalHost } from '../src/transport/local.js';
import { join } from 'node:path';
import { MARK } from '../src/probes/sections.js';
import { gatherHardening, parseHardeningProbe, parseScan, parseSshdT, parseSysctls, type HardeningRequest } from '../src/probes/hardening.js';
import { evaluate, hardeningSuite, request, fromManifest, type HardeningExpect } from '../suites/hardening.js';
import { KERNEL_DEFAULTS, kernelKeys, perNetns } from '../suites/hardening/kernel.js';
import type { Manifest } from '../src/core/manifest.js';

const fx = (f: string) => readFileSync(join(__dirname, '..', 'fixtures', 'hardening', f), 'utf8').replace(/\n$/, '');
const HARDENED = fx('sshd-T-hardened.txt');
/** NixOS's sysctl values on a hardened host (systemd's 50-default.conf plus boot.kernel.sysctl). */
const SYSCTL: Record<string, string> = {
  ...Object.fromEntries(Object.entries(KERNEL_DEFAULTS).map(([k, v]) => [k, String(v[0])])),
  'kernel.sysrq': '16',
  'fs.suid_dumpable': '2',
  'kernel.core_pattern': '|/nix/store/x-systemd-255/lib/systemd/systemd-coredump %P %u %g %s %t %c %h',
};

const REQ: HardeningRequest = { ...request({}), keys: kernelKeys(undefined) };
const rec = (mode: string, path: string, type = 'f', uid = 0, gid = 0) => `${mode} ${uid} ${gid} ${type}\t${path}\0`;
const scanText = (recs: string[], tail = '#cost elapsedMs=812 rc=0\n#times\n0m0.001s 0m0.002s\n0m0.150s 0m0.420s') => `#roots /etc /var /usr /root\n${recs.join('')}\n${tail}`;

function probe(over: Record<string, { text: string; rc?: number; stderr?: string }> = {}, sysctl: Record<string, string | null> = SYSCTL): string {
  const parts: Record<string, { text: string; rc?: number; stderr?: string }> = {
    pid1: { text: 'systemd' },
    virt: { text: 'none', rc: 1 },
    sshd: { text: `#sshd /nix/store/x-openssh-9.6p1/bin/sshd\n${HARDENED}` },
    sysctl: { text: ['#netns net:[4026531840]', ...REQ.keys.map((k) => `${k}\t${sysctl[k] === null ? '!missing' : (sysctl[k] ?? '0')}`)].join('\n') },
    scan: { text: scanText([rec('1777', '/var/lib/nixos-containers/alchemist/var/tmp', 'd'), rec('1777', '/var/tmp', 'd')]) },
    ...over,
  };
  return Object.entries(parts)
    .map(([k, v]) => `${MARK} ${k}\n${v.text}\n${MARK}-rc ${k} ${v.rc ?? 0}\n${v.stderr ? `${MARK}-stderr ${k}\n${v.stderr}\n${MARK}-stderr-end ${k}\n` : ''}`)
    .join('');
}
const run = (e: HardeningExpect = {}, over?: Parameters<typeof probe>[0], sysctl?: Parameters<typeof probe>[1]) => evaluate(parseHardeningProbe(probe(over, sysctl), REQ), e);
const sshd = (replace: [RegExp, string][]) => ({ sshd: { text: replace.reduce((t, [a, b]) => t.replace(a, b), HARDENED) } });
const get = (os: ReturnType<typeof evaluate>, id: string, subject: string) => {
  const o = os.find((x) => x.id === id && x.subject === subject);
  if (!o) throw new Error(`no ${id} ${subject}: ${os.map((x) => `${x.id} ${x.subject}`).join(', ')}`);
  return o;
};

describe('hardening parsers', () => {
  it('reads OpenSSH 9 sshd -T output, repeated keywords included', () => {
    const c = parseSshdT(HARDENED);
    expect(c.settings.passwordauthentication).toEqual(['no']);
    expect(c.settings.listenaddress).toEqual(['[::]:22', '0.0.0.0:22']);
    expect(c.settings.ciphers[0].split(',')).toContain('chacha20-poly1305@openssh.com');
    expect(() => parseSshdT(fx('sshd-T-not-root.txt'))).toThrow(/unexpected line/);
    expect(() => parseSshdT('port 22\naddressfamily any')).toThrow(/no passwordauthentication, permitrootlogin/);
  });
  it('reads /proc/sys lines, missing ones, and refuses garbled output', () => {
    const s = parseSysctls('#netns net:[4026532]\nnet.core.somaxconn\t65535\nkernel.printk\t4 4 1 7\nnet.x\t!missing', ['net.core.somaxconn', 'kernel.printk', 'net.x']);
    expect(s).toEqual({ netns: 'net:[4026532]', values: { 'net.core.somaxconn': '65535', 'kernel.printk': '4 4 1 7', 'net.x': null } });
    expect(() => parseSysctls('garbage', ['a.b'])).toThrow(/unexpected line/);
    expect(() => parseSysctls('a.b\t1', ['a.b', 'c.d'])).toThrow(/no line for c.d/);
  });
  it('reads the scan: NUL-terminated records (a newline in a name too), its cost, and refuses a cut-short one', () => {
    const s = parseScan(scanText([rec('4755', '/usr/bin/su'), rec('666', '/etc/odd\nname'), rec('777', '/var/lib/x', 'd', 1000, 100)]));
    expect(s.entries).toEqual([
      { mode: 0o4755, uid: 0, gid: 0, type: 'f', path: '/usr/bin/su' },
      { mode: 0o666, uid: 0, gid: 0, type: 'f', path: '/etc/odd\nname' },
      { mode: 0o777, uid: 1000, gid: 100, type: 'd', path: '/var/lib/x' },
    ]);
    expect(s).toMatchObject({ roots: ['/etc', '/var', '/usr', '/root'], elapsedMs: 812, cpuMs: 570 });
    expect(() => parseScan('#roots /etc\n0644 0 0 f\t/etc/x\0')).toThrow(/did not finish/);
    expect(() => parseScan(scanText(['garbage\0']))).toThrow(/unexpected record/);
  });
  it('knows which parameters the kernel keeps per network namespace', () => {
    expect(perNetns('net.ipv4.conf.all.rp_filter')).toBe(true);
    expect(perNetns('net.core.somaxconn')).toBe(true);
    expect(perNetns('net.core.rmem_max')).toBe(false);
    expect(perNetns('kernel.kptr_restrict')).toBe(false);
  });
});

describe('hardening evaluate', () => {
  it('passes a hardened NixOS node, every check with evidence, the scan cost shown', () => {
    const os = run();
    expect([...new Set(os.map((o) => o.id))].sort()).toEqual([...hardeningSuite.checkIds].sort());
    for (const o of os) {
      expect(o.status, `${o.id} ${o.subject}: ${o.message}`).toBe('pass');
      expect(o.evidence.source).toBeTruthy();
      expect(o.checklist).toEqual(['hardening']);
    }
    expect(get(os, 'hardening.suid', 'setuid/setgid files').message).toMatch(/scan of 4 root\(s\): 812 ms, 570 ms CPU/);
    expect(get(os, 'hardening.kernel', 'fs.suid_dumpable').message).toMatch(/core_pattern \|\/nix\/store/);
  });
  it('a Match block that allows passwords, root logins or a weak cipher fails although sshd -T prints the global value; one that tightens passes', () => {
    // what hardening.sh appends after sshd -T: each Match block of sshd_config (Includes expanded)
    const blocks = ['#match Address 10.0.0.0/8', '#set passwordauthentication yes', '#set permitrootlogin yes', '#set allowtcpforwarding all', '#match User backup', '#set passwordauthentication no', '#set maxauthtries 2'].join('\n');
    const os = run({}, { sshd: { text: `#sshd /nix/store/x-openssh-9.6p1/bin/sshd\n${HARDENED}\n${blocks}` } });
    expect(get(os, 'hardening.ssh-auth', 'sshd passwordauthentication')).toMatchObject({ status: 'fail', message: 'sshd accepts passwords: passwordauthentication is yes for connections matching "Match Address 10.0.0.0/8" (sshd -T shows only the global value: passwordauthentication no)' });
    expect(get(os, 'hardening.ssh-auth', 'sshd permitrootlogin').message).toMatch(/^root may log in with a password .* for connections matching "Match Address 10.0.0.0\/8"/);
    expect(get(os, 'hardening.ssh-forwarding', 'sshd allowtcpforwarding').message).toMatch(/^TCP forwarding is yes, declared no for connections matching/);
    expect(get(os, 'hardening.ssh-limits', 'sshd maxauthtries').status).toBe('pass');
    expect(get(os, 'hardening.ssh-auth', 'sshd passwordauthentication').evidence.source).toMatch(/Match Address 10.0.0.0\/8 in \/etc\/ssh\/sshd_config/);
    const parsed = parseSshdT(`${HARDENED}\n${blocks}`);
    expect(parsed.matches).toEqual([{ criteria: 'Address 10.0.0.0/8', settings: { passwordauthentication: ['yes'], permitrootlogin: ['yes'], allowtcpforwarding: ['all'] } }, { criteria: 'User backup', settings: { passwordauthentication: ['no'], maxauthtries: ['2'] } }]);
    // a weak cipher added in a block (+list) is judged over the global list
    const weak = run({}, { sshd: { text: `${HARDENED}\n#match Group legacy\n#set ciphers +aes128-cbc` } });
    expect(get(weak, 'hardening.ssh-crypto', 'sshd ciphers')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^sshd offers weak ciphers: aes128-cbc for connections matching "Match Group legacy"/) });
  });
  it('password authentication on fails, and keyboard-interactive, root with password, empty passwords', () => {
    const os = run({}, sshd([[/^passwordauthentication no$/m, 'passwordauthentication yes'], [/^kbdinteractiveauthentication no$/m, 'kbdinteractiveauthentication yes'], [/^permitrootlogin .*$/m, 'permitrootlogin yes'], [/^permitemptypasswords no$/m, 'permitemptypasswords yes']]));
    expect(get(os, 'hardening.ssh-auth', 'sshd passwordauthentication')).toMatchObject({ status: 'fail', message: 'sshd accepts passwords: passwordauthentication is yes' });
    expect(get(os, 'hardening.ssh-auth', 'sshd kbdinteractiveauthentication').status).toBe('fail');
    expect(get(os, 'hardening.ssh-auth', 'sshd permitrootlogin').message).toMatch(/root may log in with a password/);
    expect(get(os, 'hardening.ssh-auth', 'sshd permitemptypasswords').status).toBe('fail');
    expect(get(os, 'hardening.ssh-auth', 'sshd strictmodes').status).toBe('pass');
  });
  it('pubkey off, user known_hosts trusted, X11 on every address fail; Kerberos/GSSAPI not built in pass', () => {
    const os = run({}, sshd([[/^pubkeyauthentication yes$/m, 'pubkeyauthentication no'], [/^ignoreuserknownhosts yes$/m, 'ignoreuserknownhosts no'], [/^x11uselocalhost yes$/m, 'x11uselocalhost no'], [/^kerberos\w+ .*\n/gm, ''], [/^gssapiauthentication no$/m, 'gssapiauthentication yes']]));
    expect(get(os, 'hardening.ssh-auth', 'sshd pubkeyauthentication').status).toBe('fail');
    expect(get(os, 'hardening.ssh-auth', 'sshd ignoreuserknownhosts').status).toBe('fail');
    expect(get(os, 'hardening.ssh-forwarding', 'sshd x11uselocalhost').status).toBe('fail');
    expect(get(os, 'hardening.ssh-auth', 'sshd kerberosauthentication')).toMatchObject({ status: 'pass', message: 'kerberosauthentication: not built into this sshd' });
    expect(get(os, 'hardening.ssh-auth', 'sshd gssapiauthentication').status).toBe('fail');
  });
  it('OpenSSH before 8.7: challengeresponseauthentication is judged instead', () => {
    const os = run({}, sshd([[/^kbdinteractiveauthentication no$/m, 'challengeresponseauthentication yes']]));
    expect(get(os, 'hardening.ssh-auth', 'sshd challengeresponseauthentication').status).toBe('fail');
  });
  it('a weak cipher, MAC or key exchange fails; an allow-list is exact', () => {
    const os = run({}, sshd([[/^ciphers (.*)$/m, 'ciphers $1,aes128-cbc'], [/^macs (.*)$/m, 'macs $1,hmac-sha1'], [/^kexalgorithms (.*)$/m, 'kexalgorithms $1,diffie-hellman-group14-sha1']]));
    expect(get(os, 'hardening.ssh-crypto', 'sshd ciphers')).toMatchObject({ status: 'fail', message: 'sshd offers weak ciphers: aes128-cbc' });
    expect(get(os, 'hardening.ssh-crypto', 'sshd macs').message).toMatch(/hmac-sha1$/);
    expect(get(os, 'hardening.ssh-crypto', 'sshd kexalgorithms').message).toMatch(/diffie-hellman-group14-sha1/);
    const strict = run({ sshd: { ciphers: ['chacha20-poly1305@openssh.com'] } });
    expect(get(strict, 'hardening.ssh-crypto', 'sshd ciphers').message).toMatch(/unlisted ciphers: aes256-gcm/);
  });
  it('too many auth tries or a long grace time fails; a declared limit is honoured', () => {
    const os = run({}, sshd([[/^maxauthtries 3$/m, 'maxauthtries 6'], [/^logingracetime 30$/m, 'logingracetime 0']]));
    expect(get(os, 'hardening.ssh-limits', 'sshd maxauthtries').status).toBe('fail');
    expect(get(os, 'hardening.ssh-limits', 'sshd logingracetime').message).toMatch(/never time out/);
    expect(get(run({ sshd: { maxAuthTries: 6 } }, sshd([[/^maxauthtries 3$/m, 'maxauthtries 6']])), 'hardening.ssh-limits', 'sshd maxauthtries').status).toBe('pass');
  });
  it('forwarding other than declared fails', () => {
    const os = run({}, sshd([[/^x11forwarding no$/m, 'x11forwarding yes']]));
    expect(get(os, 'hardening.ssh-forwarding', 'sshd x11forwarding')).toMatchObject({ status: 'fail', message: 'X11 forwarding is yes, declared no' });
    expect(get(run({ sshd: { tcpForwarding: 'no' } }, sshd([[/^allowtcpforwarding .*$/m, 'allowtcpforwarding local']])), 'hardening.ssh-forwarding', 'sshd allowtcpforwarding').status).toBe('fail');
  });
  it('no sshd -T rights: every sshd check is an error with the reason, never a pass', () => {
    const os = run({}, { sshd: { text: '#sshd /run/current-system/sw/bin/sshd', rc: 1, stderr: fx('sshd-T-not-root.txt') } });
    for (const id of ['hardening.ssh-auth', 'hardening.ssh-crypto', 'hardening.ssh-limits', 'hardening.ssh-forwarding']) {
      const o = get(os, id, 'sshd');
      expect(o.status).toBe('error');
      expect(o.message).toMatch(/sshd -T failed \(rc 1\): Unable to load host key.*needs root/);
    }
    expect(get(run({}, { sshd: { text: 'sshd not found', rc: 127 } }), 'hardening.ssh-auth', 'sshd').message).toMatch(/sshd not found/);
  });
  it('a drifted per-namespace parameter fails; a global one too where the node owns its kernel', () => {
    const os = run({}, undefined, { ...SYSCTL, 'net.ipv4.conf.all.accept_redirects': '1', 'kernel.kptr_restrict': '0', 'fs.suid_dumpable': '2', 'kernel.core_pattern': 'core' });
    expect(get(os, 'hardening.kernel-net', 'net.ipv4.conf.all.accept_redirects')).toMatchObject({ status: 'fail', message: 'net.ipv4.conf.all.accept_redirects is 1, expected 0' });
    expect(get(os, 'hardening.kernel-net', 'net.ipv4.conf.all.accept_redirects').evidence.source).toMatch(/network namespace net:\[4026531840\]/);
    expect(get(os, 'hardening.kernel', 'kernel.kptr_restrict').status).toBe('fail');
    expect(get(os, 'hardening.kernel', 'fs.suid_dumpable').message).toMatch(/relative core_pattern/);
  });
  it('a missing parameter is an error naming it; IPv6 off is a skip; never a pass', () => {
    const os = run({}, undefined, { ...SYSCTL, 'net.ipv4.tcp_rfc1337': null });
    expect(get(os, 'hardening.kernel-net', 'net.ipv4.tcp_rfc1337')).toMatchObject({ status: 'error', message: expect.stringMatching(/\/proc\/sys\/net\/ipv4\/tcp_rfc1337 does not exist.*in this network namespace/) });
    const v6off = Object.fromEntries(Object.keys(SYSCTL).map((k) => [k, k.startsWith('net.ipv6.') ? null : SYSCTL[k]]));
    expect(get(run({}, undefined, v6off), 'hardening.kernel-net', 'net.ipv6.conf.all.accept_redirects').status).toBe('skipped');
  });
  it('global parameters on a node that does not own its kernel are skipped with the reason; per-namespace ones are judged', () => {
    const os = run({}, { pid1: { text: 'leafcert-init' } }, { ...SYSCTL, 'kernel.kptr_restrict': '0' });
    expect(get(os, 'hardening.kernel', 'kernel.kptr_restrict')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/platform cannot provide this: PID 1 is "leafcert-init".*observed 0/) });
    expect(get(os, 'hardening.kernel-net', 'net.ipv4.tcp_syncookies').status).toBe('pass');
    expect(get(run({}, { virt: { text: 'systemd-nspawn' } }), 'hardening.kernel', 'kernel.dmesg_restrict').message).toMatch(/container \(systemd-nspawn\)/);
  });
  it('expectations add, change and drop items', () => {
    const os = run({ kernel: { 'net.ipv4.ip_forward': 1, 'kernel.sysrq': null, 'kernel.kptr_restrict': 2 } }, undefined, { ...SYSCTL, 'net.ipv4.ip_forward': '0' });
    expect(os.find((o) => o.subject === 'kernel.sysrq')).toBeUndefined();
    expect(get(os, 'hardening.kernel', 'kernel.kptr_restrict').status).toBe('fail');
    expect(get(os, 'hardening.kernel-net', 'net.ipv4.ip_forward').status).toBe('error');
    expect(kernelKeys({ 'net.ipv4.ip_forward': 1 })).toContain('net.ipv4.ip_forward');
  });
  it('a world-writable file in /etc and an unexpected setuid binary fail; allowed ones pass', () => {
    const scan = { scan: { text: scanText([rec('666', '/etc/alchemist/motd'), rec('4755', '/usr/local/bin/helper'), rec('777', '/var/lib/shared', 'd'), rec('1777', '/var/tmp/ok', 'd')]) } };
    const os = run({}, scan);
    expect(get(os, 'hardening.world-writable', 'world-writable files')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^2 unexpected world-writable path\(s\): \/etc\/alchemist\/motd, \/var\/lib\/shared/) });
    expect(get(os, 'hardening.suid', 'setuid/setgid files')).toMatchObject({ status: 'fail', message: expect.stringMatching(/\/usr\/local\/bin\/helper/) });
    const ok = run({ suid: { allow: ['/usr/local/bin/*'] }, worldWritable: { allow: ['/etc/alchemist/motd', '/var/lib/shared'] } }, scan);
    expect(get(ok, 'hardening.suid', 'setuid/setgid files').message).toMatch(/1 allowed/);
    expect(get(ok, 'hardening.world-writable', 'world-writable files').status).toBe('pass');
  });
  it('a scan cut short by its bound, or unable to read, is an error; never a pass', () => {
    for (const over of [
      { scan: { text: '#roots /etc', rc: 124 } },
      { scan: { text: scanText([]), rc: 1, stderr: "find: '/root/x': Permission denied" } },
      { scan: { text: '#roots /etc\n', rc: 0 } },
    ]) {
      const os = run({}, over);
      for (const id of ['hardening.world-writable', 'hardening.suid']) expect(os.find((o) => o.id === id)!.status, JSON.stringify(over)).toBe('error');
    }
    expect(run({}, { scan: { text: '#roots /etc', rc: 124 } }).find((o) => o.id === 'hardening.suid')!.message).toMatch(/did not finish within its 30 s bound/);
  });
  it('a garbled probe is an error, not a verdict', () => {
    expect(() => parseHardeningProbe('nothing here', REQ)).toThrow(/lacks section/);
    const os = run({}, { sysctl: { text: 'garbage' } });
    for (const o of os.filter((x) => x.id.startsWith('hardening.kernel'))) expect(o.status).toBe('error');
  });
  it('off switches skip with the reason', () => {
    const os = run({ sshd: false, kernel: false, worldWritable: false, suid: false });
    expect(os.every((o) => o.status === 'skipped')).toBe(true);
    expect(request({ worldWritable: false, suid: false }).roots).toEqual([]);
  });
  it("plan: sshd's declared forwarding and limits from services.openssh.settings, limits no looser than the baseline", () => {
    const m = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'nix', 'example.manifest.json'), 'utf8')) as Manifest;
    const cites: Record<string, string> = {};
    const e = fromManifest(m, (at, p) => (cites[at.join('.')] = p));
    expect(e.sshd).toEqual({ x11Forwarding: false, agentForwarding: false, tcpForwarding: 'local', maxAuthTries: 3, loginGraceTime: 30 });
    expect(cites['hardening.sshd.tcpForwarding']).toBe('services.openssh.settings.AllowTcpForwarding');
    m.sshd!.settings = { MaxAuthTries: 10, Ciphers: ['aes256-gcm@openssh.com'], AllowTcpForwarding: true };
    expect(fromManifest(m, () => undefined).sshd).toEqual({ maxAuthTries: 3, ciphers: ['aes256-gcm@openssh.com'], tcpForwarding: 'yes' });
    expect(fromManifest({ ...m, sshd: { ...m.sshd!, enable: false } }, () => undefined).sshd).toBeUndefined();
  });
  it('plan: a node with NAT declares forwarding, cited', () => {
    const cites: [unknown, string][] = [];
    const m = { host: { networking: { nat: { enable: true, path: 'networking.nat' } } } } as unknown as Manifest;
    expect(fromManifest(m, (at, p) => cites.push([at, p]))).toEqual({ kernel: { 'net.ipv4.ip_forward': 1 } });
    expect(cites).toEqual([[['hardening', 'kernel', 'net.ipv4.ip_forward'], 'networking.nat.enable']]);
  });
  it('red team B H5: a sticky world-writable directory fails outside temp and lock dirs (/etc/alchemist 1777); /tmp, /var/tmp, a container\'s /var/tmp pass', () => {
    const os = run({}, { scan: { text: scanText([rec('1777', '/etc/alchemist', 'd'), rec('1777', '/var/lib/ok', 'd'), rec('1777', '/tmp', 'd'), rec('1777', '/var/tmp/x', 'd'), rec('1777', '/run/lock', 'd'), rec('1777', '/var/lib/nixos-containers/alchemist/tmp', 'd')]) } });
    expect(get(os, 'hardening.world-writable', 'world-writable files')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^2 unexpected world-writable path\(s\): \/etc\/alchemist, \/var\/lib\/ok /) });
  });
  it('red team B H3: the real scan finds a setuid copy of bash in a temp dir (searched for setuid files only) and a sticky world-writable /etc dir', async () => {
    const d = mkdtempSync(join(tmpdir(), 'leafcert-scan-'));
    try {
      for (const x of ['etc/alchemist', 'tmp/.cache', 'var/lib']) mkdirSync(join(d, x), { recursive: true });
      chmodSync(join(d, 'tmp'), 0o1777);
      chmodSync(join(d, 'tmp/.cache'), 0o777); // world-writable, but in a temp dir: not judged
      copyFileSync('/bin/bash', join(d, 'tmp/.sysd'));
      chmodSync(join(d, 'tmp/.sysd'), 0o4755);
      chmodSync(join(d, 'etc/alchemist'), 0o1777);
      const req: HardeningRequest = { ...REQ, keys: [], roots: [join(d, 'etc'), join(d, 'var'), join(d, 'tmp')], prune: ['/proc'], suidOnly: [join(d, 'tmp')] };
      const f = await gatherHardening(new LocalHost('scan'), req, 30_000);
      expect(f.scan.ok).toBe(true);
      const entries = f.scan.ok ? f.scan.value.entries.map((x) => `${x.mode.toString(8)} ${x.path.slice(d.length)}`).sort() : [];
      expect(entries).toEqual(['1777 /etc/alchemist', '4755 /tmp/.sysd']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('the default request searches /tmp, /var/tmp and /dev/shm for setuid files (no longer pruned)', () => {
    const r = request({});
    expect(r.prune).not.toContain('/tmp');
    expect(r.prune).not.toContain('/var/tmp');
    expect(r.suidOnly).toEqual(['/tmp', '/var/tmp', '/dev/shm']);
    expect(r.roots).toContain('/tmp');
    expect(request({ scan: { roots: ['/etc'] } }).roots).toEqual(['/etc', '/tmp', '/var/tmp', '/dev/shm']);
  });
});
