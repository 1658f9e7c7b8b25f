// tls.hsts: the Strict-Transport-Security expectation (what plan reads from nginx's add_header
// line), the header's directives, and the judgement of the response head the tls probe reads on the
// handshake's own connection.
import type { Outcome } from '../../src/core/types.js';
import type { TlsHandshake } from '../../src/probes/tls.js';

export interface HstsExpect {
  /** The header's max-age must be at least this many seconds (and not 0). */
  minMaxAge: number;
  /** The header must also carry includeSubDomains. */
  includeSubDomains?: boolean;
  /** Declared with nginx's `always`: the header is due on every status, not only 2xx/3xx. */
  always?: boolean;
  /** Path requested (default "/"). */
  path?: string;
}

export const hstsSchema = {
  type: 'object', additionalProperties: false, required: ['minMaxAge'],
  properties: {
    minMaxAge: { type: 'integer', minimum: 1 },
    includeSubDomains: { type: 'boolean' },
    always: { type: 'boolean' },
    path: { type: 'string', pattern: '^/[^\\s]*$' },
  },
};

/** The directives of a Strict-Transport-Security value (RFC 6797 §6.1): max-age (seconds), includeSubDomains. */
export function parseHsts(value: string): { maxAge?: number; includeSubDomains: boolean; error?: string } {
  const dirs = value.split(';').map((d) => d.trim()).filter(Boolean);
  let maxAge: number | undefined;
  let error: string | undefined;
  for (const d of dirs) {
    const m = /^max-age\s*=\s*(?:"(\d+)"|(\d+))$/i.exec(d);
    if (m) {
      if (maxAge !== undefined) error = 'max-age given twice';
      maxAge = Number(m[1] ?? m[2]);
    } else if (/^max-age\b/i.test(d)) error = `unparseable ${d}`;
  }
  if (maxAge === undefined && !error) error = 'no max-age directive';
  return { maxAge: error ? undefined : maxAge, includeSubDomains: dirs.some((d) => /^includesubdomains$/i.test(d)), ...(error ? { error } : {}) };
}

/** Statuses nginx's add_header decorates without `always`. */
const ADD_HEADER_STATUSES = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];

/** tls.hsts from the response head read after the handshake. */
export function judgeHsts(http: TlsHandshake['http'], e: HstsExpect): { status: Outcome['status']; message: string; observed: unknown } {
  const path = e.path ?? '/';
  if (!http) return { status: 'error', message: 'no HTTP request was made on the connection', observed: null };
  if (http.error) return { status: 'error', message: `GET ${path}: ${http.error}`, observed: { error: http.error } };
  const values = http.headers?.['strict-transport-security'] ?? [];
  const observed = { status: http.status, strictTransportSecurity: values.length ? values : null };
  if (!values.length) {
    if (!e.always && !ADD_HEADER_STATUSES.includes(http.status!))
      return { status: 'error', message: `GET ${path} answered ${http.status} with no Strict-Transport-Security: nginx's add_header without \`always\` does not decorate a ${http.status}, so this says nothing; set hsts.path to a URL that answers 2xx/3xx (or declare the header \`always\`)`, observed };
    return { status: 'fail', message: `GET ${path} answered ${http.status} with no Strict-Transport-Security header`, observed };
  }
  // A client acts on the first header only (RFC 6797 §8.1).
  const h = parseHsts(values[0]);
  const more = values.length > 1 ? ` (${values.length} headers sent; clients use the first)` : '';
  if (h.error) return { status: 'fail', message: `Strict-Transport-Security "${values[0]}" is invalid (${h.error}): clients ignore it${more}`, observed };
  const problems: string[] = [];
  if (h.maxAge! < e.minMaxAge) problems.push(`max-age=${h.maxAge} < ${e.minMaxAge}${h.maxAge === 0 ? ' (0 deletes the policy)' : ''}`);
  if (e.includeSubDomains && !h.includeSubDomains) problems.push('no includeSubDomains');
  return problems.length
    ? { status: 'fail', message: `GET ${path} (${http.status}): Strict-Transport-Security "${values[0]}": ${problems.join('; ')}${more}`, observed }
    : { status: 'pass', message: `GET ${path} (${http.status}): Strict-Transport-Security "${values[0]}" (max-age ${h.maxAge} ≥ ${e.minMaxAge})${more}`, observed };
}

/**
 * The expectation an nginx `add_header Strict-Transport-Security "max-age=N; …" [always];` line
 * makes: undefined when its value is not literal (a variable) or its max-age is 0 or unreadable.
 */
export function declaredHsts(line: string): HstsExpect | undefined {
  const m = /^add_header\s+["']?Strict-Transport-Security["']?\s+(?:"([^"]*)"|'([^']*)'|([^\s;]+))\s*(always)?\s*;?\s*$/i.exec(line.trim());
  if (!m) return undefined;
  const value = m[1] ?? m[2] ?? m[3];
  if (value.includes('$')) return undefined;
  const h = parseHsts(value);
  if (h.error || !h.maxAge) return undefined;
  return { minMaxAge: h.maxAge, ...(h.includeSubDomains ? { includeSubDomains: true } : {}), ...(m[4] ? { always: true } : {}) };
}
