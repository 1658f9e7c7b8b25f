// Making node output safe for reports: a hostile or broken node must not be able to corrupt XML,
// inject terminal escapes or bloat a report.
import { createHash } from 'node:crypto';

export const MAX_TEXT_BYTES = 8 * 1024;

// CSI/OSC/other ESC sequences (the usual strip-ansi pattern).
const ANSI =
  // eslint-disable-next-line no-control-regex
  /[\u001b\u009b][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-nq-uy=><~]))/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Control characters other than tab/newline shown as `\u001b`-style escapes; lone surrogates and XML-illegal code points too. */
export function showControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/\r\n/g, '\n')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * Cap at `max` bytes (UTF-8), noting the full size and the sha256 of the original bytes so an
 * auditor can match the raw output.
 */
export function cap(s: string, max = MAX_TEXT_BYTES, clean: (t: string) => string = (t) => t): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return clean(s);
  const sha = createHash('sha256').update(buf).digest('hex');
  let head = buf.subarray(0, max).toString('utf8');
  if (head.endsWith('\ufffd')) head = head.slice(0, -1); // cut on a character boundary
  return `${clean(head)}… [truncated, ${buf.length} bytes, sha256 ${sha}]`;
}

/** The one function reporters call on any text that came from a node. */
export function safeText(s: string | undefined, max = MAX_TEXT_BYTES): string {
  if (!s) return '';
  return cap(s, max, (t) => showControls(stripAnsi(t)));
}

/** A value (expected/observed) as readable text: strings as-is, the rest as compact JSON. */
export function show(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
