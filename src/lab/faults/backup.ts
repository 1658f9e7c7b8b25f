// Backup faults on a full node's borg repository (job `alchemist`, wrapper borg-job-alchemist) and
// its PostgreSQL tools. Each is a real change and undoes exactly that change: archive timestamps are
// rewritten and written back, a damaged segment or the repository config is restored byte for byte,
// an extra archive is deleted, a bind mount in the alchemist container is unmounted, the wrapper,
// repository or passphrase file moved aside is moved back.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fault, FaultContext } from './types.js';

const W = 'borg-job-alchemist';
const REPO = '/var/lib/borgbackup/alchemist';
const WRAPPER = '/usr/local/bin/borg-job-alchemist';
const PLAIN_REPO = '/var/lib/borgbackup/alchemist-unencrypted';
/** UTC in and out, so --timestamp (UTC) and the saved times agree whatever the node's zone. */
const borg = (args: string) => `TZ=UTC BORG_RELOCATED_REPO_ACCESS_IS_OK=yes ${W} ${args} </dev/null`;

interface SavedArchive {
  name: string;
  start: string;
}

async function listArchives(ctx: FaultContext): Promise<SavedArchive[]> {
  const r = await ctx.exec(borg('list --json'));
  return (JSON.parse(r.stdout).archives as { name: string; start: string }[]).map((a) => ({ name: a.name, start: a.start.slice(0, 19) }));
}

const PG_DUMP = '/usr/lib/postgresql/15/bin/pg_dump';

function alchemistPid(ctx: FaultContext): number {
  const c = ctx.node.containers.find((x) => x.name === 'alchemist');
  if (!c) throw new Error(`${ctx.node.name} has no alchemist container`);
  return c.nodePid;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A file or directory of the node moved aside (and back): the job's wrapper, repository or passphrase gone. */
function movedAway(name: string, path: string, breaks: string): Fault {
  const aside = `${path}.leafcert-fault`;
  return {
    name,
    area: 'backup',
    breaks,
    catches: ['backup.archive-age'],
    needs: 'full',
    apply: (ctx) => ctx.exec(`test -e ${path} && test ! -e ${aside} && mv ${path} ${aside}`).then(() => undefined),
    heal: (ctx) => ctx.exec(`if [ -e ${aside} ]; then if [ -e ${path} ]; then echo "${path} was made again meanwhile; ${aside} kept" >&2; exit 1; fi; mv ${aside} ${path}; fi; test -e ${path}`).then(() => undefined),
  };
}

const TIMER = 'borgbackup-job-alchemist.timer';

export const faults: Fault[] = [
  {
    name: 'backup-timer-disabled',
    area: 'backup',
    breaks: `${TIMER} is disabled (systemctl disable, without --now): it stays active until the next reboot, after which no backup is scheduled`,
    catches: ['backup.units'],
    needs: 'systemd',
    apply: (ctx) => ctx.exec(`[ -d /run/systemd/system ] || { echo "this fault needs a node booted by systemd (lab up --flavour systemd)" >&2; exit 2; }
      systemctl disable ${TIMER} 2>/dev/null; [ "$(systemctl is-enabled ${TIMER})" = disabled ] && [ "$(systemctl is-active ${TIMER})" = active ]`).then(() => undefined),
    heal: (ctx) => ctx.exec(`systemctl enable ${TIMER} 2>/dev/null; [ "$(systemctl is-enabled ${TIMER})" = enabled ] && [ "$(systemctl is-active ${TIMER})" = active ]`).then(() => undefined),
  },
  movedAway('backup-wrapper-missing', WRAPPER, 'the job wrapper borg-job-alchemist is gone from the node (the job is not installed): no backup can be made or read'),
  movedAway('backup-repo-missing', REPO, "the job's repository /var/lib/borgbackup/alchemist is gone: borg says it does not exist, no backup can be made or read"),
  movedAway('backup-passphrase-missing', '/etc/borg/passphrase', "the job's passphrase file /etc/borg/passphrase is gone: the wrapper's BORG_PASSCOMMAND (cat) fails, so the job can neither read nor write its encrypted repository"),
  {
    name: 'backup-archive-old',
    area: 'backup',
    breaks: 'every archive is dated two days back, so the newest one is older than a day',
    catches: ['backup.archive-age'],
    needs: 'full',
    async apply(ctx) {
      const archives = await listArchives(ctx);
      writeFileSync(join(ctx.scratch, 'archives.json'), JSON.stringify(archives));
      const old = new Date(Date.now() - 2 * 86400_000).toISOString().slice(0, 19);
      for (const a of archives) await ctx.exec(borg(`recreate --timestamp ${old} --comment leafcert-fault ::${q(a.name)}`));
    },
    async heal(ctx) {
      const archives = JSON.parse(readFileSync(join(ctx.scratch, 'archives.json'), 'utf8')) as SavedArchive[];
      for (const a of archives) await ctx.exec(borg(`recreate --timestamp ${a.start} --comment '' ::${q(a.name)}`));
    },
  },
  {
    name: 'backup-repo-corrupt',
    area: 'backup',
    breaks: "16 bytes in the middle of the repository's largest data segment are overwritten (borg check finds a checksum mismatch)",
    catches: ['backup.repo-check'],
    needs: 'full',
    async apply(ctx) {
      // The largest segment holds file chunks; the manifest lives in the last, small one, so listing still works.
      const seg = (await ctx.exec(`ls -S ${REPO}/data/*/* | head -n 1`)).stdout.trim();
      const orig = await ctx.readFile(seg);
      writeFileSync(join(ctx.scratch, 'segment'), orig);
      writeFileSync(join(ctx.scratch, 'segment.path'), seg);
      const bad = Buffer.from(orig);
      bad.write('LEAFCERT-FAULT!!', Math.floor(bad.length / 2), 'latin1');
      await ctx.writeFile(seg, bad);
    },
    async heal(ctx) {
      const seg = readFileSync(join(ctx.scratch, 'segment.path'), 'utf8');
      await ctx.writeFile(seg, readFileSync(join(ctx.scratch, 'segment')));
    },
  },
  {
    name: 'backup-archive-missing-path',
    area: 'backup',
    breaks: 'a new newest archive holds /var/lib/alchemist but not /etc/alchemist',
    catches: ['backup.archive-paths'],
    needs: 'full',
    async apply(ctx) {
      const host = (await ctx.exec('hostname')).stdout.trim();
      const name = `${host}-alchemist-${new Date().toISOString().slice(0, 19)}-partial`;
      writeFileSync(join(ctx.scratch, 'archive'), name);
      await ctx.exec(`cd / && ${borg(`create ::${q(name)} /var/lib/alchemist`)}`);
    },
    async heal(ctx) {
      const name = readFileSync(join(ctx.scratch, 'archive'), 'utf8');
      await ctx.exec(`if ${borg('list --short')} | grep -qxF ${q(name)}; then ${borg(`delete ::${q(name)}`)}; fi`);
    },
  },
  {
    name: 'backup-archive-stale-content',
    area: 'backup',
    breaks: "a new newest archive holds other content than the live files under the same paths and mtimes (what a backup of a stale or tampered copy looks like)",
    catches: ['backup.restore-sample'],
    needs: 'full',
    async apply(ctx) {
      // Archived from a private mount namespace where a changed copy is bound over the live paths:
      // the live files are untouched, so after the archive they look unchanged since it was made
      // (same mtime, older than the archive) and restore-sample must compare them.
      const host = (await ctx.exec('hostname')).stdout.trim();
      const name = `${host}-alchemist-${new Date().toISOString().slice(0, 19)}-stale`;
      writeFileSync(join(ctx.scratch, 'archive'), name);
      await ctx.exec([
        'set -e',
        'T=$(mktemp -d /tmp/leafcert-fault-stale.XXXXXX); trap \'rm -rf "$T"\' EXIT',
        'cp -a /var/lib/alchemist "$T/lib"; cp -a /etc/alchemist "$T/etc"',
        `find "$T" -type f -exec sh -c 'for f; do t=$(stat -c %Y "$f"); printf "leafcert-fault\\n" >> "$f"; touch -d "@$t" "$f"; done' _ {} +`,
        'unshare -m --propagation private bash -e <<INNER',
        'mount --bind "$T/lib" /var/lib/alchemist',
        'mount --bind "$T/etc" /etc/alchemist',
        `cd / && ${borg(`create ::${q(name)} /var/lib/alchemist /etc/alchemist`)}`,
        'INNER',
      ].join('\n'));
    },
    async heal(ctx) {
      const name = readFileSync(join(ctx.scratch, 'archive'), 'utf8');
      await ctx.exec(`if ${borg('list --short')} | grep -qxF ${q(name)}; then ${borg(`delete ::${q(name)}`)}; fi`);
    },
  },
  {
    name: 'backup-repo-quota-full',
    area: 'backup',
    breaks: "the repository's storage quota is exhausted (storage_quota = 1 byte in its config), so borg create fails while listing, checking and extracting still work",
    catches: ['backup.canary-roundtrip'],
    needs: 'full',
    async apply(ctx) {
      const cfg = `${REPO}/config`;
      const orig = await ctx.readFile(cfg);
      writeFileSync(join(ctx.scratch, 'config'), orig);
      const text = orig.toString('utf8');
      if (!/^storage_quota = /m.test(text)) throw new Error(`${cfg} has no storage_quota line`);
      // `borg config` refuses quotas under 10M; the repository config is a plain INI file.
      await ctx.writeFile(cfg, text.replace(/^storage_quota = .*$/m, 'storage_quota = 1'), 0o600);
    },
    async heal(ctx) {
      await ctx.writeFile(`${REPO}/config`, readFileSync(join(ctx.scratch, 'config')), 0o600);
    },
  },
  {
    name: 'backup-pg-dump-mismatch',
    area: 'backup',
    breaks: "pg_dump inside the alchemist container refuses to dump (a client of another major version than the server: 'server version mismatch'), so no database dump can be made",
    catches: ['backup.pg-roundtrip'],
    needs: 'full',
    async apply(ctx) {
      // Bound over the real binary in the container's private mount namespace only (the node's and
      // the host's pg_dump stay intact); the container's own capabilities cannot mount, the node's can.
      await ctx.exec(`nsenter -t ${alchemistPid(ctx)} -m -p -- sh -c '
        set -e
        printf "%s\\n" "#!/bin/sh" "echo \\"pg_dump: error: aborting because of server version mismatch\\" >&2" "echo \\"pg_dump: detail: server version: 15; pg_dump version: 14.10\\" >&2" "exit 1" > /run/leafcert-fault-pg_dump
        chmod 0755 /run/leafcert-fault-pg_dump
        mount --bind /run/leafcert-fault-pg_dump ${PG_DUMP}
        ! ${PG_DUMP} --version 2>/dev/null'`);
    },
    async heal(ctx) {
      // Also in its pid namespace: /proc there is the container's, and umount reads /proc/self/mountinfo.
      await ctx.exec(`nsenter -t ${alchemistPid(ctx)} -m -p -- sh -c '
        for i in 1 2 3 4 5; do grep -q " ${PG_DUMP} " /proc/self/mountinfo || break; umount ${PG_DUMP}; done
        rm -f /run/leafcert-fault-pg_dump
        ${PG_DUMP} --version | grep -q PostgreSQL'`);
    },
  },
  {
    name: 'backup-repo-unencrypted',
    area: 'backup',
    breaks: 'the job wrapper is re-pointed at a new repository initialised with --encryption=none (holding an archive of the same paths), so the repository the job writes to is not encrypted',
    catches: ['backup.encryption'],
    needs: 'full',
    async apply(ctx) {
      writeFileSync(join(ctx.scratch, 'wrapper'), await ctx.readFile(WRAPPER));
      // A fresh unencrypted repository with one archive of the job's paths, then the wrapper points at it:
      // listing, checking and restoring keep working, only the encryption differs.
      await ctx.exec(`set -e
        rm -rf ${PLAIN_REPO}
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes borg init --encryption=none ${PLAIN_REPO} </dev/null >/dev/null 2>&1
        sed -i -e 's|^export BORG_REPO=.*$|export BORG_REPO=${PLAIN_REPO}|' -e '/^export BORG_REPO=/a export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes' ${WRAPPER}
        grep -q '^export BORG_REPO=${PLAIN_REPO}$' ${WRAPPER}
        ${W} create "::$(hostname)-alchemist-$(date +%Y-%m-%dT%H:%M:%S)" /var/lib/alchemist /etc/alchemist </dev/null`);
    },
    async heal(ctx) {
      await ctx.writeFile(WRAPPER, readFileSync(join(ctx.scratch, 'wrapper')));
      // The repository and what borg keeps about it (security dir, cache), by its id.
      await ctx.exec(`id=$(sed -n 's/^id = //p' ${PLAIN_REPO}/config 2>/dev/null)
        [ -n "$id" ] && rm -rf "$HOME/.config/borg/security/$id" "$HOME/.cache/borg/$id"
        rm -rf ${PLAIN_REPO}`);
    },
  },
];
