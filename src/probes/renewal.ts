// TLS auto-renewal facts, in one exec (renewal.sh): the node's clock, PID 1, the ACME renewal timers
// with when they last fired (systemctl show --timestamp=unix), and each self-managed certificate,
// read on the node and decoded here (notAfter, subject, SHA-256 fingerprint, DNS names). Beside
// that round trip, from the harness (no exec): the leaf each certificate's endpoints serve, by a TLS
// handshake with SNI, so a file nginx no longer serves is not taken for the served certificate.
// The checklist suite judges them.
import { X509Certificate } from 'node:crypto';
import { tlsHandshake } from './tls.js';
import { probeScript, scriptCommand } from '../core/script.js';
import { ParseError, type Host } from '../core/types.js';
import { MARK, splitSections } from './sections.js';
import { parseSystemctlShow, requireProps } from './systemd.js';

export interface AcmeTimer {
  id: string;
  loadState: string;
  activeState: string;
  /** Epoch s, null = never fired. */
  lastTrigger: number | null;
}

export interface RenewalFacts {
  now: number | null;
  systemd: boolean;
  pid1: string;
  // Not a Fact<AcmeTimer[]>: fixtures (test/checklist.test.ts) build facts in this shape.
  acme: { ok: true; timers: AcmeTimer[]; excerpt: string } | { ok: false; reason: string };
  certs: { path: string; notAfter: string; subject: string; fingerprint256?: string; serialNumber?: string; names?: string[] }[];
  certErrors: { path: string; reason: string }[];
  /** The leaves served for each certificate's endpoints (absent: not gathered). */
  served?: ServedLeaf[];
}

/** A certificate file's endpoints: given (`served`), or its DNS names on :443 of the node (`derived`). */
export interface RenewalCert {
  path: string;
  served?: string[];
  connect?: string;
}

/** The leaf an endpoint serves, seen by a client from the harness (SNI = the endpoint's host). */
export interface ServedLeaf {
  /** The certificate file it is compared with. */
  path: string;
  endpoint: string;
  connect: string;
  /** The endpoint comes from the file's own DNS names (no `served` in the expectation). */
  derived: boolean;
  ok: boolean;
  error?: string;
  /** TCP refused: nothing listens there. */
  refused?: boolean;
  timedOut?: boolean;
  fingerprint256?: string;
  notAfter?: string;
  subject?: string;
  /** The served leaf is valid for the endpoint's host (SAN). */
  covers?: boolean;
}

/** DNS names a derived comparison tries per file, at most (SANs, no wildcards). */
const MAX_DERIVED = 8;

const TIMERS_SOURCE = 'systemctl show -p Id,LoadState,ActiveState,LastTriggerUSec';

/** `systemctl show --timestamp=unix` gives `@1700000000`; older systemd prints a date. */
export function parseTriggerTime(v: string | undefined): number | null {
  if (!v || v === 'n/a' || v === '0') return null;
  const m = /^@(\d+)$/.exec(v.trim());
  if (m) return Number(m[1]);
  const t = Date.parse(v.replace(/^[A-Z][a-z]{2} /, '').replace(/ ([A-Z]{3,4})$/, ' $1'));
  if (Number.isNaN(t)) throw new ParseError('systemctl show -p LastTriggerUSec', `unreadable time "${v}"`);
  return Math.floor(t / 1000);
}

/** The timers' `systemctl show` blocks, strictly (KEY=VALUE lines, Id/LoadState/ActiveState in each); none is no timer. */
export function parseTimers(text: string): AcmeTimer[] {
  const blocks = requireProps(parseSystemctlShow(text, TIMERS_SOURCE), ['Id', 'LoadState', 'ActiveState'], TIMERS_SOURCE, { allowNone: true });
  return blocks.map((p) => ({ id: p.Id, loadState: p.LoadState, activeState: p.ActiveState, lastTrigger: parseTriggerTime(p.LastTriggerUSec) }));
}

/** The command that prints the renewal facts of `certs` (renewal.sh), as sent. */
export function renewalCommand(certs: string[]): string {
  return scriptCommand(probeScript('renewal.sh'), [MARK, ...certs]);
}

/**
 * One round trip, bounded by 20 s or the run's timeout if shorter; the given endpoints' served leaves
 * are read from the harness at the same time, the derived ones (a file's DNS names on :443) once the
 * file is read. `address`: the node's address (the default `connect`).
 */
export async function gatherRenewal(host: Host, certs: RenewalCert[], timeoutMs: number, address?: string): Promise<RenewalFacts> {
  const hsMs = Math.min(timeoutMs, 5000);
  const given = Promise.all(certs.flatMap((c) => (c.served ?? []).map((ep) => servedLeaf(c.path, ep, c.connect ?? address, false, hsMs))));
  const r = await host.exec(renewalCommand(certs.map((c) => c.path)), { timeoutMs: Math.min(timeoutMs, 20_000) });
  const facts = parseRenewal(r.stdout, certs);
  const derived = certs.filter((c) => !c.served).flatMap((c) =>
    (facts.certs.find((x) => x.path === c.path)?.names ?? []).filter((n) => !n.includes('*')).slice(0, MAX_DERIVED).map((n) => servedLeaf(c.path, `${n}:443`, c.connect ?? address, true, hsMs)));
  facts.served = [...(await given), ...(await Promise.all(derived))];
  return facts;
}

/** The leaf `endpoint` (host:port) serves at `connect`; a timeout is tried once more, a client-side refusal with a permissive client. */
export async function servedLeaf(path: string, endpoint: string, connect: string | undefined, derived: boolean, timeoutMs: number): Promise<ServedLeaf> {
  const i = endpoint.lastIndexOf(':');
  const servername = endpoint.slice(0, i);
  const base = { path, endpoint, connect: connect ?? '', derived };
  if (!connect) return { ...base, ok: false, error: 'no address to connect to (the node has no host)' };
  const o = { host: connect, port: Number(endpoint.slice(i + 1)), servername, timeoutMs };
  let hs = await tlsHandshake(o);
  if (hs.timedOut) hs = await tlsHandshake(o);
  if (!hs.ok && !hs.tcpFailed && !hs.timedOut) {
    const again = await tlsHandshake({ ...o, permissive: true });
    if (again.ok) hs = again;
  }
  if (!hs.ok || !hs.certs.length) {
    return { ...base, ok: false, error: hs.ok ? 'the server sent no certificate' : hs.error, refused: hs.tcpFailed && /ECONNREFUSED/.test(hs.error ?? ''), timedOut: hs.timedOut };
  }
  const leaf = hs.certs[0];
  return {
    ...base, ok: true, fingerprint256: leaf.fingerprint256, notAfter: new Date(leaf.validTo).toISOString(), subject: leaf.subject.replace(/\n/g, ', '),
    covers: (/^[\d.]+$|:/.test(servername) ? leaf.checkIP(servername) : leaf.checkHost(servername, { subject: 'never' })) !== undefined,
  };
}

/** The DNS names of a certificate's subjectAltName. */
function dnsNames(x: X509Certificate): string[] {
  return (x.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
}

export function parseRenewal(output: string, certs: { path: string }[]): RenewalFacts {
  const s = splitSections(output, 'checklist probe', ['clock', 'pid1', 'acme', ...certs.map((_, i) => `cert${i}`)]);
  const clock = s.get('clock')!.text.trim();
  const acme = s.get('acme')!;
  const facts: RenewalFacts = {
    now: /^\d+$/.test(clock) ? Number(clock) : null,
    pid1: s.get('pid1')!.text.trim(),
    systemd: acme.rc !== 3,
    acme: acme.rc === 3 ? { ok: false, reason: 'no systemd on the node' } : acme.rc !== 0 ? { ok: false, reason: `systemctl failed (rc ${acme.rc}): ${(acme.stderr || acme.text).slice(0, 200)}` } : { ok: true, timers: [], excerpt: acme.text.slice(0, 400) },
    certs: [],
    certErrors: [],
  };
  if (facts.acme.ok) {
    try {
      facts.acme.timers = parseTimers(acme.text);
    } catch (err) {
      facts.acme = { ok: false, reason: (err as Error).message };
    }
  }
  certs.forEach((c, i) => {
    const sec = s.get(`cert${i}`)!;
    if (sec.rc !== 0) return facts.certErrors.push({ path: c.path, reason: `cannot read ${c.path}: ${(sec.stderr || sec.text).trim().slice(0, 200)}` });
    try {
      const x = new X509Certificate(sec.text);
      facts.certs.push({ path: c.path, notAfter: new Date(x.validTo).toISOString(), subject: x.subject.replace(/\n/g, ', '), fingerprint256: x.fingerprint256, serialNumber: x.serialNumber, names: dnsNames(x) });
    } catch (err) {
      facts.certErrors.push({ path: c.path, reason: `${c.path} is not a PEM certificate: ${(err as Error).message}` });
    }
  });
  return facts;
}
