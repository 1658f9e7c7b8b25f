// The framing of batched probe scripts (src/probes/sections.sh), run by bash here and split back by
// splitSections: section (a $( ) subshell, stderr inside stdout), bsection (builtins, no fork) and
// xsection (one external command, no subshell; its stderr in the exec's own stderr).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { probeScript } from '../src/core/script.js';
import { MARK, splitSections } from '../src/probes/sections.js';

const run = (body: string) => {
  const r = spawnSync('bash', ['-c', `${probeScript('sections.sh')}\nmark='${MARK}'\n${body}`], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr };
};

describe('section framing', () => {
  it('the three framings give the same sections: text, exit code, stderr (with or without a final newline)', () => {
    const cmd = `sh -c 'printf "out"; echo "a warning" >&2; exit 3'`;
    for (const f of ['section', 'xsection']) {
      const r = run(`${f} one ${cmd}\n${f} two printf 'x\\n'\n${f} missing no-such-command-here`);
      const s = splitSections(r.stdout, 'test', ['one', 'two', 'missing'], r.stderr);
      expect(s.get('one'), f).toEqual({ text: 'out', rc: 3, stderr: 'a warning' });
      expect(s.get('two'), f).toEqual({ text: 'x\n', rc: 0, stderr: '' });
      expect(s.get('missing')!.rc, f).toBe(127);
      expect(s.get('missing')!.stderr, f).toMatch(/not found/);
    }
    const b = run(`f() { printf 'b\\n'; return 4; }\nbsection three f`);
    expect(splitSections(b.stdout, 'test', ['three']).get('three')).toEqual({ text: 'b\n', rc: 4, stderr: '' });
  });

  it('xsection forks once per command (no subshell around it); section twice', () => {
    // strace counts the clone()s of the script: two commands under each framing.
    const count = (f: string) => {
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=clone,clone3,fork,vfork', '-e', 'signal=none', 'bash', '-c', `${probeScript('sections.sh')}\nmark='${MARK}'\n${f} a /bin/true\n${f} b /bin/true\n:`], { encoding: 'utf8' });
      if (r.error) return undefined;
      return r.stderr.split('\n').filter((l) => /^(\[pid +\d+\] )?(clone3?|v?fork)\(/.test(l)).length;
    };
    const x = count('xsection');
    const s = count('section');
    if (x === undefined || s === undefined) return; // strace not installed: nothing to count with
    expect(x).toBe(2);
    expect(s).toBe(4);
  });

  it('the stderr of an xsection is found only in the exec stderr given; without it the section has none', () => {
    const r = run(`xsection one sh -c 'echo err >&2'`);
    expect(splitSections(r.stdout, 'test', ['one']).get('one')!.stderr).toBe('');
    expect(splitSections(r.stdout, 'test', ['one'], r.stderr).get('one')!.stderr).toBe('err');
  });
});

describe('fsection: a file read by the shell', () => {
  it('gives the text, or rc 1 with the reason as cat would, and forks nothing', () => {
    const r = run(`fsection comm /proc/self/comm\nfsection missing /no/such/file\nfsection dir /tmp`);
    const s = splitSections(r.stdout, 'test', ['comm', 'missing', 'dir'], r.stderr);
    expect(s.get('comm')).toEqual({ text: 'bash\n', rc: 0, stderr: '' });
    expect(s.get('missing')).toEqual({ text: '', rc: 1, stderr: '/no/such/file: No such file or directory' });
    expect(s.get('dir')).toEqual({ text: '', rc: 1, stderr: '/tmp: Is a directory' });
    const t = spawnSync('strace', ['-f', '-qq', '-e', 'trace=clone,clone3,fork,vfork,execve', '-e', 'signal=none', 'bash', '-c', `${probeScript('sections.sh')}\nmark='${MARK}'\nfsection a /proc/self/comm\nfsection b /no/such\n:`], { encoding: 'utf8' });
    if (t.error) return; // strace not installed: nothing to count with
    expect(t.stderr.split('\n').filter((l) => /^(\[pid +\d+\] )?(clone3?|v?fork|execve)\(/.test(l))).toHaveLength(1); // bash's own execve
  });
});
