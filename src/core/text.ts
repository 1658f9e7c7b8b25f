// Text echoed on the console or in a one-line error must stay one line whatever a node, an
// inventory or a command line put in it.

const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

// C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi overrides/isolates:
// each can break a line, or make it read differently from what it holds.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Control characters as JSON-style escapes (`\n`, `\t`, `\r`, `\u001b`); everything else as is. */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
