// Text echoed on the console or in a one-line error must stay one line whatever a node, an
// inventory or a command line put in it.

const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** Control characters as JSON-style escapes (`\n`, `\t`, `\r`, `\u001b`); everything else as is. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
