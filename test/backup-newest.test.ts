// backup.sh picks the newest archive on the node (so the list and the newest archive's listing share
// one round trip); backup.ts's newestArchive() is the rule and checks the pick. Both on the same
// `borg list --json` texts, printed as borg prints them (json.dumps, indent 4, sorted keys); a name
// the awk cannot read safely is not picked (the listing then takes its own round trip).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CANARY_PREFIX } from '../src/probes/backup-roundtrip.js';
import { newestArchive } from '../src/probes/backup.js';
import { parseBorgList } from '../src/probes/borg.js';

const script = readFileSync('src/probes/backup.sh', 'utf8');
const AWK = /^NEWEST_AWK='([\s\S]*?)'$/m.exec(script)![1];

/** Like Python's json.dumps(obj, sort_keys=True, indent=4). */
function borgJson(names: [string, string][]): string {
  const sorted = (o: unknown): unknown => (Array.isArray(o) ? o.map(sorted) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)])) : o);
  const archives = names.map(([name, start], i) => ({ archive: name, barchive: name, id: String(i).padStart(64, '0'), name, start, time: start }));
  return JSON.stringify(sorted({ archives, encryption: { mode: 'repokey' }, repository: { id: 'a'.repeat(64), last_modified: '2026-12-03T12:25:42.000000', location: '/var/lib/borgbackup/alchemist' } }), null, 4);
}
const nodePick = (text: string) => spawnSync('awk', ['-v', `P=${CANARY_PREFIX}`, AWK], { input: text, encoding: 'utf8' }).stdout.trim();
const rule = (text: string) => newestArchive(parseBorgList(text))?.name ?? '';

describe('the node picks the newest archive as newestArchive() does', () => {
  const cases: Record<string, [string, string][]> = {
    'one archive': [['leaf-1-alchemist-2026-12-03T12:25:41', '2026-12-03T12:25:42.000000']],
    'newest last': [['a-2026-12-01', '2026-12-01T01:00:00.000000'], ['a-2026-12-02', '2026-12-02T01:00:00.000000']],
    'newest first': [['a-2026-12-02', '2026-12-02T01:00:00.000000'], ['a-2026-12-01', '2026-12-01T01:00:00.000000']],
    'an interrupted .failed archive is newer': [['a-1', '2026-12-01T01:00:00.000000'], ['a-2.failed', '2026-12-02T01:00:00.000000']],
    'our canary is newer': [['a-1', '2026-12-01T01:00:00.000000'], [`${CANARY_PREFIX}x`, '2026-12-03T01:00:00.000000']],
    'two start at once: the later in the list': [['a-x', '2026-12-01T01:00:00.000000'], ['a-y', '2026-12-01T01:00:00.000000']],
    'only failed and canary archives': [['a.failed', '2026-12-01T01:00:00.000000'], [`${CANARY_PREFIX}y`, '2026-12-02T01:00:00.000000']],
    'none': [],
  };
  for (const [what, names] of Object.entries(cases)) {
    it(what, () => {
      const text = borgJson(names);
      expect(nodePick(text)).toBe(rule(text));
    });
  }
  it('the lab fixture as borg printed it', () => {
    const text = readFileSync('fixtures/borg/list.json', 'utf8');
    expect(nodePick(text)).toBe(rule(text));
    expect(nodePick(text)).not.toBe('');
  });
  it('a name with a quote or a backslash is not picked (the listing gets its own round trip)', () => {
    for (const bad of ['a"b', 'a\\b']) {
      const text = borgJson([[bad, '2026-12-02T01:00:00.000000']]);
      expect(rule(text)).toBe(bad);
      expect(nodePick(text)).toBe('');
    }
  });
});
