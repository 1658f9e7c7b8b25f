// Scratch space of probe scripts on a node. Whatever a probe puts on a node is removed whatever
// happens: the dir lives in RAM when the node has a tmpfs for it (/dev/shm, else /run; NixOS's /tmp
// is on disk by default), the script removes it in an EXIT trap that every catchable signal leads
// to, and what an uncatchable KILL leaves behind is swept at the start of the next run on that
// node (the identity probe, the first round trip a node gets, and every script that makes scratch).
//
// Names are `leafcert.<pid-namespace inode>.<pid>.XXXXXX`: lab nodes share the host's /dev/shm but
// each has its own PID namespace, and several runs may work on one node at once, so the sweep only
// removes dirs of its own PID namespace whose process is gone, plus any leafcert scratch older than
// a day. Secret values never go to scratch at all (see src/probes/secrets.ts).

export const SCRATCH_PREFIX = 'leafcert.';
export const SCRATCH_BASES = ['/dev/shm', '/run', '/tmp'] as const;

/** POSIX sh: `$__ns`, this shell's PID-namespace inode ('' when /proc is not this namespace's own). */
export const NS_SH = [
  // One readlink, the number cut out by parameter expansion (no `tr`); `-ef` (a builtin test) says
  // whether /proc/$$ is this very shell, i.e. whether this /proc belongs to our PID namespace.
  `__ns=$(readlink /proc/self/ns/pid 2>/dev/null); __ns=\${__ns#pid:[}; __ns=\${__ns%]}`,
  `case $__ns in ''|*[!0-9]*) __ns='';; esac`,
  `[ /proc/self/ns/pid -ef /proc/$$/ns/pid ] || __ns=''`,
].join('\n');

/**
 * POSIX sh, silent: remove leafcert scratch dirs of dead processes of this PID namespace, and any
 * older than a day. Only when /proc is this namespace's own (its /proc/$$ is this shell), else a
 * pid in a name could not be judged. Needs NS_SH first. Forks nothing when no scratch is there
 * (the common case: every round trip of every node runs it).
 */
const SWEEP_LOOP_SH = [
  `__any=''`,
  `for __d in ${SCRATCH_BASES.map((b) => `${b}/${SCRATCH_PREFIX}*`).join(' ')}; do [ -d "$__d" ] || continue; __any=1; [ -n "$__ns" ] || continue; __r=\${__d##*/${SCRATCH_PREFIX}}; [ "\${__r%%.*}" = "$__ns" ] || continue; __r=\${__r#*.}; __p=\${__r%%.*}; case $__p in ''|*[!0-9]*) continue;; esac; [ -d "/proc/$__p" ] || rm -rf "$__d"; done`,
  `[ -z "$__any" ] || find ${SCRATCH_BASES.join(' ')} -maxdepth 1 -name '${SCRATCH_PREFIX}*' -mmin +1440 -exec rm -rf {} + 2>/dev/null`,
  ':',
].join('\n');

export const SWEEP_SH = `${NS_SH}\n${SWEEP_LOOP_SH}`;

/**
 * The sweep for a round trip that makes no scratch (identity): the namespace is looked up only when
 * some leafcert scratch exists, so a clean node costs no process at all.
 */
export const SWEEP_IF_ANY_SH = [
  `__any=''`,
  `for __d in ${SCRATCH_BASES.map((b) => `${b}/${SCRATCH_PREFIX}*`).join(' ')}; do [ -d "$__d" ] && { __any=1; break; }; done`,
  `if [ -n "$__any" ]; then`,
  NS_SH,
  SWEEP_LOOP_SH,
  `fi`,
].join('\n');

/** The signals a shell can trap, each ending the script through its EXIT trap (128 + number). */
const SIGNALS: [string, number][] = [['HUP', 1], ['INT', 2], ['QUIT', 3], ['USR1', 10], ['USR2', 12], ['ALRM', 14], ['TERM', 15]];

/**
 * POSIX sh: sweep, then make the scratch dir `$VAR` (0700) and the traps that remove it. Every trap
 * path runs the cleanup before exiting, and the cleanup first ignores further signals: `timeout`
 * sends TERM to the script and again to its process group, and a second TERM arriving inside a
 * plain EXIT trap would end the shell before its `rm`. A closed pipe (the harness went away) ends
 * the script quietly the same way. Exits 97 when no scratch dir can be made.
 */
export function scratchSh(v = 'S'): string {
  const all = [...SIGNALS.map(([s]) => s), 'PIPE'].join(' ');
  return [
    SWEEP_SH,
    `${v}=''`,
    `for __b in ${SCRATCH_BASES.join(' ')}; do case $(stat -f -c %T "$__b" 2>/dev/null) in tmpfs|ramfs) ${v}=$(umask 077; mktemp -d "$__b/${SCRATCH_PREFIX}\${__ns:-0}.$$.XXXXXX" 2>/dev/null) && break;; esac; done`,
    `[ -n "$${v}" ] || ${v}=$(umask 077; mktemp -d "/tmp/${SCRATCH_PREFIX}\${__ns:-0}.$$.XXXXXX") || exit 97`,
    `__scratch_rm() { trap '' ${all}; cd /; rm -rf "$${v}"; }`,
    `trap __scratch_rm EXIT`,
    ...SIGNALS.map(([s, n]) => `trap '__scratch_rm; exit ${128 + n}' ${s}`),
    `trap '__scratch_rm; exec >/dev/null 2>&1; exit 141' PIPE`,
  ].join('\n');
}
