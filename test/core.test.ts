// The ground floor: quoting that survives hostile values, scripts with positional arguments, the
// check registry, and Fact<T>.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sh, shq } from '../src/core/quote.js';
import { scriptCommand } from '../src/core/script.js';
import { checkDef, defineChecks, outcome } from '../src/core/checks.js';
import { gatherFact } from '../src/core/fact.js';

const run = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });

describe('core', () => {
  const hostile = [`a'b`, '$(touch /tmp/leafcert-pwned)', 'x;y', 'new\nline', '', '"q"', '\\'];

  it('sh`` quotes every value, arrays as words', () => {
    for (const v of hostile) expect(run(sh`printf %s ${v}`)).toBe(v);
    expect(run(sh`printf '[%s]' ${hostile}`)).toBe(hostile.map((v) => `[${v}]`).join(''));
    expect(shq(`it's`)).toBe(`'it'\\''s'`);
  });

  it('scriptCommand passes values as $1.., never into the script text', () => {
    const cmd = scriptCommand('for a in "$@"; do printf "<%s>" "$a"; done', hostile);
    expect(run(cmd)).toBe(hostile.map((v) => `<${v}>`).join(''));
  });

  it('a check is defined once: outcome() takes its metadata from the definition', () => {
    const C = defineChecks('coretest', { one: { title: 'One', severity: 'low', checklist: ['hardening'], description: 'd', fix: 'f' } });
    expect(checkDef('coretest.one')).toBe(C.one);
    expect(() => defineChecks('coretest', { one: { title: 'Again', severity: 'low', checklist: [], description: '', fix: '' } })).toThrow(/defined twice/);
    const o = outcome(C.one, 'subj', 'pass', 'ok', { source: 's' });
    expect(o).toMatchObject({ id: 'coretest.one', title: 'One', severity: 'low', checklist: ['hardening'], status: 'pass' });
  });

  it('gatherFact turns a thrown error into a missing fact with its sentence', async () => {
    const f = await gatherFact('probe', async () => {
      throw Object.assign(new Error('connection lost'), { excerpt: 'raw' });
    });
    expect(f).toEqual({ ok: false, reason: 'connection lost', source: 'probe', excerpt: 'raw' });
    expect(await gatherFact('probe', async () => 3)).toEqual({ ok: true, value: 3, source: 'probe' });
  });
});
