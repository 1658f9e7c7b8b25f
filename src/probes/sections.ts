// Batched probes print several commands' output in one exec, each behind a marker line, with the
// command's exit code and (separately) its stderr, so a warning on stderr never corrupts the data a
// parser reads. This splits it back. A probe that lost its markers is garbled → ParseError.
import { ParseError } from '../core/types.js';

export const MARK = '@@leafcert';

/**
 * POSIX sh snippet: run `cmd` labelled `name`. stdout streams through fd 3; stderr is captured in
 * a variable and printed after the exit code. The newline before the rc marker keeps it on its own
 * line when the output lacks a final newline (stripped again by splitSections).
 */
export function section(name: string, cmd: string): string {
  return (
    `echo '${MARK} ${name}'; ` +
    `{ __e=$( { ${cmd} ; } 2>&1 1>&3 3>&- ); __r=$?; } 3>&1; ` +
    `printf '\\n${MARK}-rc ${name} %s\\n' "$__r"; ` +
    `[ -n "$__e" ] && printf '${MARK}-stderr ${name}\\n%s\\n${MARK}-stderr-end ${name}\\n' "$__e"; :`
  );
}

export interface Section {
  text: string;
  rc: number;
  stderr: string;
}

/**
 * The sections of a batched probe's stdout. Sections made by `xsection` have their stderr in the
 * exec's own stderr: pass it as `stderr` (blocks found in stdout, from `section`, are read too).
 */
export function splitSections(output: string, source: string, expected: string[], stderr = ''): Map<string, Section> {
  const out = new Map<string, Section>();
  const re = new RegExp(`^${MARK} (\\S+)\\n([\\s\\S]*?)^${MARK}-rc \\1 (\\d+)$`, 'gm');
  let m: RegExpExecArray | null;
  while ((m = re.exec(output)) !== null) out.set(m[1], { text: m[2].replace(/\n$/, ''), rc: Number(m[3]), stderr: '' });
  for (const text of stderr ? [output, stderr] : [output]) {
    const er = new RegExp(`^${MARK}-stderr (\\S+)\\n([\\s\\S]*?)\\n${MARK}-stderr-end \\1$`, 'gm');
    while ((m = er.exec(text)) !== null) {
      const s = out.get(m[1]);
      // $( ) drops the final newlines of what it captures; a streamed block keeps them: the same text either way.
      if (s) s.stderr = m[2].replace(/\n+$/, '');
    }
  }
  const missing = expected.filter((e) => !out.has(e));
  if (missing.length) throw new ParseError(source, `probe output lacks section(s) ${missing.join(', ')}`, output.slice(0, 400));
  return out;
}
