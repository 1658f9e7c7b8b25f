// The bench and its peer specs parse (performance itself is measured by `npm run bench`, never here).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('bench', () => {
  it('scripts/bench.js and scripts/bench-backup.js are valid JavaScript', () => {
    for (const f of ['scripts/bench.js', 'scripts/bench-backup.js']) {
      const r = spawnSync(process.execPath, ['--check', f], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });
  it.skipIf(!existsSync('/usr/bin/python3'))('the testinfra peer spec compiles', () => {
    const r = spawnSync('/usr/bin/python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', 'bench/peers/test_subset.py'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
  it.skipIf(spawnSync('ruby', ['-v']).status !== 0)('the serverspec peer spec compiles', () => {
    const r = spawnSync('ruby', ['-c', 'bench/peers/subset_spec.rb'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});
