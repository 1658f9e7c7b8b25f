// Backup faults on a full node's borg repository (job `alchemist`, wrapper borg-job-alchemist).
// Each is a real change to the repository and undoes exactly that change: archive timestamps are
// rewritten and written back, a damaged segment is restored byte for byte, an extra archive is deleted.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fault, FaultContext } from './types.js';

const W = 'borg-job-alchemist';
const REPO = '/var/lib/borgbackup/alchemist';
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

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const faults: Fault[] = [
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
];
