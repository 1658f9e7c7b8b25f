// TLS auto-renewal facts, in one exec (renewal.sh): the node's clock, PID 1, the ACME renewal timers
// with when they last fired (systemctl show --timestamp=unix), and each self-managed certificate,
// read on the node and decoded here (notAfter, subject). The checklist suite judges them.
import { X509Certificate } from 'node:crypto';
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
  certs: { path: string; notAfter: string; subject: string }[];
  certErrors: { path: string; reason: string }[];
}

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

/** One round trip, bounded by 20 s or the run's timeout if shorter. */
export async function gatherRenewal(host: Host, certs: { path: string }[], timeoutMs: number): Promise<RenewalFacts> {
  const r = await host.exec(renewalCommand(certs.map((c) => c.path)), { timeoutMs: Math.min(timeoutMs, 20_000) });
  return parseRenewal(r.stdout, certs);
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
      facts.certs.push({ path: c.path, notAfter: new Date(x.validTo).toISOString(), subject: x.subject.replace(/\n/g, ', ') });
    } catch (err) {
      facts.certErrors.push({ path: c.path, reason: `${c.path} is not a PEM certificate: ${(err as Error).message}` });
    }
  });
  return facts;
}
