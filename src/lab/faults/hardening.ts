// Hardening faults: sshd taking passwords again (globally, or in a Match block only), offering a weak cipher, allowing many tries,
// forwarding X11 (each a real sshd_config change, reloaded so the daemon runs it), a network
// kernel parameter drifted in the node's namespace, a world-writable file in /etc and an unexpected
// setuid binary; a setuid-root copy of bash in /tmp and a sticky world-writable directory in /etc
// (red team B H3, H5). The global kernel parameters have no fault: changing them would change the host's
// kernel (the suite skips them on a lab node; fixtures prove them in test/hardening.test.ts).
import type { Fault, FaultContext } from './types.js';

const CONF = '/etc/ssh/sshd_config';
const WW = '/etc/motd-alchemist';
const SUID = '/usr/local/bin/alchemist-helper';
const TMP_SUID = '/tmp/.sysd';
const STICKY = '/etc/alchemist.d';
const MATCH_MARK = '# leafcert-fault hardening-ssh-match-password';

/** Edits sshd_config with a sed script and makes the running sshd read it (SIGHUP re-executes it). */
const sshd = (ctx: FaultContext, sed: string) => ctx.exec(`sed -i -E ${JSON.stringify(sed)} ${CONF} && kill -HUP "$(cat /run/sshd.pid)"`);

export const faults: Fault[] = [
  {
    name: 'hardening-ssh-password',
    area: 'hardening',
    breaks: 'sshd accepts passwords again (PasswordAuthentication yes)',
    catches: ['hardening.ssh-auth'],
    apply: async (ctx) => void (await sshd(ctx, 's/^PasswordAuthentication no$/PasswordAuthentication yes/')),
    heal: async (ctx) => void (await sshd(ctx, 's/^PasswordAuthentication yes$/PasswordAuthentication no/')),
  },
  {
    name: 'hardening-ssh-match-password',
    area: 'hardening',
    breaks: 'sshd accepts passwords and root logins for connections from 10.0.0.0/8 (a Match Address block at the end of sshd_config; sshd -T still prints the global "no")',
    catches: ['hardening.ssh-auth'],
    apply: async (ctx) => void (await ctx.exec(`printf '${MATCH_MARK}\\nMatch Address 10.0.0.0/8\\n    PasswordAuthentication yes\\n    PermitRootLogin yes\\n' >> ${CONF} && kill -HUP "$(cat /run/sshd.pid)"`)),
    heal: async (ctx) => void (await ctx.exec(`sed -i '/^${MATCH_MARK}$/,$d' ${CONF} && kill -HUP "$(cat /run/sshd.pid)"`)),
  },
  {
    name: 'hardening-ssh-weak-cipher',
    area: 'hardening',
    breaks: 'sshd also offers aes128-cbc',
    catches: ['hardening.ssh-crypto'],
    apply: async (ctx) => void (await sshd(ctx, 's/^(Ciphers .*[^c])$/\\1,aes128-cbc/')),
    heal: async (ctx) => void (await sshd(ctx, 's/^(Ciphers .*),aes128-cbc$/\\1/')),
  },
  {
    name: 'hardening-ssh-auth-tries',
    area: 'hardening',
    breaks: 'sshd allows 10 authentication attempts per connection',
    catches: ['hardening.ssh-limits'],
    apply: async (ctx) => void (await sshd(ctx, 's/^MaxAuthTries 3$/MaxAuthTries 10/')),
    heal: async (ctx) => void (await sshd(ctx, 's/^MaxAuthTries 10$/MaxAuthTries 3/')),
  },
  {
    name: 'hardening-ssh-x11',
    area: 'hardening',
    breaks: 'sshd forwards X11, which is not declared',
    catches: ['hardening.ssh-forwarding'],
    apply: async (ctx) => void (await sshd(ctx, 's/^X11Forwarding no$/X11Forwarding yes/')),
    heal: async (ctx) => void (await sshd(ctx, 's/^X11Forwarding yes$/X11Forwarding no/')),
  },
  {
    name: 'hardening-accept-redirects',
    area: 'hardening',
    breaks: 'the node accepts ICMP redirects (net.ipv4.conf.all.accept_redirects 1 in its network namespace)',
    catches: ['hardening.kernel-net'],
    apply: async (ctx) => void (await ctx.exec('sysctl -q -w net.ipv4.conf.all.accept_redirects=1')),
    heal: async (ctx) => void (await ctx.exec('sysctl -q -w net.ipv4.conf.all.accept_redirects=0')),
  },
  {
    name: 'hardening-world-writable',
    area: 'hardening',
    breaks: `${WW} is writable by every user (mode 0666)`,
    catches: ['hardening.world-writable'],
    apply: async (ctx) => void (await ctx.exec(`echo 'Alchemist leaf node' > ${WW} && chmod 0666 ${WW}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -f ${WW}`)),
  },
  {
    name: 'hardening-suid',
    area: 'hardening',
    breaks: `${SUID} is a setuid-root binary nobody declared`,
    catches: ['hardening.suid'],
    apply: async (ctx) => void (await ctx.exec(`cp "$(type -P true)" ${SUID} && chmod 4755 ${SUID}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -f ${SUID}`)),
  },
  {
    name: 'hardening-suid-tmp',
    area: 'hardening',
    breaks: `${TMP_SUID} is a setuid-root copy of bash in /tmp (NixOS mounts /tmp without nosuid: bash -p is root for anyone)`,
    catches: ['hardening.suid'],
    apply: async (ctx) => void (await ctx.exec(`cp "$(type -P bash)" ${TMP_SUID} && chmod 4755 ${TMP_SUID}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -f ${TMP_SUID}`)),
  },
  {
    name: 'hardening-sticky-etc',
    area: 'hardening',
    breaks: `${STICKY} is a sticky world-writable directory (1777) in /etc: anyone may plant configuration in it`,
    catches: ['hardening.world-writable'],
    apply: async (ctx) => void (await ctx.exec(`mkdir -p ${STICKY} && chmod 1777 ${STICKY}`)),
    heal: async (ctx) => void (await ctx.exec(`rm -rf ${STICKY}`)),
  },
];
