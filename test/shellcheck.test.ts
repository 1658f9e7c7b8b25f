// The shell that runs on nodes (src/probes/*.sh) is shellcheck-clean: a quoting slip there runs on
// every certified node. In CI a missing shellcheck is a failure (scripts/install-deps.sh installs it).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const scripts = readdirSync(join(root, 'src/probes')).filter((f) => f.endsWith('.sh')).map((f) => join('src/probes', f));
const have = spawnSync('shellcheck', ['--version']).status === 0;
const inCI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

describe('probe scripts', () => {
  it.runIf(inCI)('in CI, shellcheck is installed', () => expect(have, 'apt-get install shellcheck (scripts/install-deps.sh)').toBe(true));
  it('there are probe scripts to lint', () => expect(scripts.length).toBeGreaterThan(0));
  it.skipIf(!have).each(scripts)('%s passes shellcheck -s bash', (f) => {
    const r = spawnSync('shellcheck', ['-s', 'bash', '-f', 'gcc', f], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  it.skipIf(!have)('shellcheck can fail (a planted unquoted expansion is reported)', () => {
    const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: 'f=$1\nrm -rf $f/x\n', encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});
