// The checklist items no other suite settles: TLS auto-renewal (ACME timers present and recent, or
// self-managed certificates' days left against the renewal window, by the node's clock) and the
// items only a person can confirm (documentation, runbooks), reported as `manual` with what to
// confirm — never as passes.
import { X509Certificate } from 'node:crypto';
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { ParseError } from '../src/core/types.js';
import { parseDuration } from '../src/core/units.js';
import { section, splitSections } from '../src/probes/sections.js';
import { shq } from '../src/probes/borg.js';
import { checklistItem } from '../src/checklist.js';
import { FORMATS } from '../src/core/formats.js';

export interface ChecklistExpect {
  renewal?: {
    acme?: {
      /** Certificate names (security.acme.certs.<name>); default: every acme timer found. */
      certs?: string[];
      /** The renewal timer must have fired within this. Default 48h (daily timer + 24h random delay). */
      maxSinceLastRun?: string;
    };
    /** Self-managed certificates: days left must exceed renewBeforeDays. */
    certs?: { path: string; renewBeforeDays: number }[];
  };
}

export interface AcmeTimer {
  id: string;
  loadState: string;
  activeState: string;
  /** Epoch s, null = never fired. */
  lastTrigger: number | null;
}

export interface ChecklistFacts {
  now: number | null;
  systemd: boolean;
  pid1: string;
  acme: { ok: true; timers: AcmeTimer[]; excerpt: string } | { ok: false; reason: string };
  certs: { path: string; notAfter: string; subject: string }[];
  certErrors: { path: string; reason: string }[];
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    renewal: {
      type: 'object',
      additionalProperties: false,
      properties: {
        acme: {
          type: 'object',
          additionalProperties: false,
          properties: {
            certs: { type: 'array', items: { type: 'string' } },
            maxSinceLastRun: { type: 'string', format: FORMATS.duration },
          },
        },
        certs: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'renewBeforeDays'],
            properties: { path: { type: 'string', pattern: '^/' }, renewBeforeDays: { type: 'integer', minimum: 1 } },
          },
        },
      },
    },
  },
};

/** `systemctl show --timestamp=unix` gives `@1700000000`; older systemd prints a date. */
export function parseTriggerTime(v: string | undefined): number | null {
  if (!v || v === 'n/a' || v === '0') return null;
  const m = /^@(\d+)$/.exec(v.trim());
  if (m) return Number(m[1]);
  const t = Date.parse(v.replace(/^[A-Z][a-z]{2} /, '').replace(/ ([A-Z]{3,4})$/, ' $1'));
  if (Number.isNaN(t)) throw new ParseError('systemctl show -p LastTriggerUSec', `unreadable time "${v}"`);
  return Math.floor(t / 1000);
}

export function parseTimers(text: string): AcmeTimer[] {
  const out: AcmeTimer[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const p: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) p[line.slice(0, i)] = line.slice(i + 1);
    }
    if (p.Id) out.push({ id: p.Id, loadState: p.LoadState ?? '', activeState: p.ActiveState ?? '', lastTrigger: parseTriggerTime(p.LastTriggerUSec) });
  }
  return out;
}

async function gather(ctx: SuiteContext, e: ChecklistExpect): Promise<ChecklistFacts> {
  const certs = e.renewal?.certs ?? [];
  const script = [
    section('clock', 'date +%s'),
    section('pid1', 'cat /proc/1/comm'),
    section(
      'acme',
      `if [ -d /run/systemd/system ]; then t=$(systemctl list-units --type=timer --all --no-legend --plain --no-pager 'acme*' | awk '{print $1}'); ` +
        `[ -z "$t" ] || systemctl show --no-pager --timestamp=unix -p Id,LoadState,ActiveState,LastTriggerUSec $t; else echo 'no systemd'; exit 3; fi`,
    ),
    ...certs.map((c, i) => section(`cert${i}`, `cat ${shq(c.path)}`)),
  ].join('\n');
  const r = await ctx.host.exec(script, { timeoutMs: Math.min(ctx.options.timeoutMs, 20_000) });
  const s = splitSections(r.stdout, 'checklist probe', ['clock', 'pid1', 'acme', ...certs.map((_, i) => `cert${i}`)]);
  const clock = s.get('clock')!.text.trim();
  const acme = s.get('acme')!;
  const facts: ChecklistFacts = {
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

function manual(id: 'documentation' | 'runbooks'): Outcome {
  const item = checklistItem(id)!;
  return {
    id: `checklist.${id}`,
    title: item.title,
    subject: id,
    status: 'manual',
    severity: 'info',
    message: `a person must confirm: ${item.manual!.length} point(s) (see evidence)`,
    evidence: { source: 'src/checklist.ts (docs/checklist.md)', expected: item.manual },
    checklist: [id],
  };
}

export function evaluate(f: ChecklistFacts, e: ChecklistExpect): Outcome[] {
  const out: Outcome[] = [];
  const id = 'checklist.tls-renewal';
  const title = 'TLS certificates are renewed in time';
  const base = { id, title, checklist: ['tls-renewal'] };
  const r = e.renewal;
  if (!r || (!r.acme && !r.certs?.length)) {
    out.push({ ...base, subject: 'certificates', status: 'manual', severity: 'info', message: 'no renewal expectation (checklist.renewal): a person must confirm how each certificate is renewed', evidence: { source: 'expectation checklist.renewal' } });
  }
  if (r?.acme) {
    const maxSec = parseDuration(r.acme.maxSinceLastRun ?? '48h') / 1000;
    if (!f.acme.ok) {
      const skip = !f.systemd;
      out.push({ ...base, subject: 'acme timers', status: skip ? 'skipped' : 'error', severity: 'high', message: skip ? `cannot list ACME timers: no systemd on the node (PID 1 is ${f.pid1})` : f.acme.reason, evidence: { source: "systemctl list-units --type=timer 'acme*'" } });
    } else if (f.now === null) {
      out.push({ ...base, subject: 'acme timers', status: 'error', severity: 'high', message: 'node clock unreadable', evidence: { source: 'date +%s' } });
    } else {
      const timers = f.acme.timers;
      const wanted = r.acme.certs ?? [];
      const source = "systemctl list-units --type=timer 'acme*'; systemctl show --timestamp=unix -p LastTriggerUSec";
      if (!wanted.length && !timers.length) {
        out.push({ ...base, subject: 'acme timers', status: 'fail', severity: 'high', message: 'no acme renewal timer on the node', evidence: { source, expected: 'acme-renew-*.timer', observed: [] } });
      }
      const subjects = wanted.length ? wanted.map((c) => ({ cert: c, timer: timers.find((t) => t.id === `acme-renew-${c}.timer` || t.id === `acme-${c}.timer`) })) : timers.map((t) => ({ cert: t.id, timer: t as AcmeTimer | undefined }));
      for (const { cert, timer } of subjects) {
        const ev = { source, expected: `timer loaded, active, fired within ${r.acme.maxSinceLastRun ?? '48h'}`, observed: timer ?? null, excerpt: f.acme.excerpt };
        if (!timer || timer.loadState !== 'loaded') out.push({ ...base, subject: cert, status: 'fail', severity: 'high', message: `no renewal timer for ${cert} (acme-renew-${cert}.timer / acme-${cert}.timer)`, evidence: ev });
        else if (timer.activeState !== 'active') out.push({ ...base, subject: cert, status: 'fail', severity: 'high', message: `${timer.id} is ${timer.activeState}: renewal will not run`, evidence: ev });
        else if (timer.lastTrigger === null) out.push({ ...base, subject: cert, status: 'fail', severity: 'high', message: `${timer.id} has never fired`, evidence: ev });
        else if (f.now - timer.lastTrigger > maxSec) out.push({ ...base, subject: cert, status: 'fail', severity: 'high', message: `${timer.id} last fired ${Math.round((f.now - timer.lastTrigger) / 3600)}h ago (max ${r.acme.maxSinceLastRun ?? '48h'})`, evidence: ev });
        else out.push({ ...base, subject: cert, status: 'pass', severity: 'high', message: `${timer.id} active, last fired ${Math.round((f.now - timer.lastTrigger) / 3600)}h ago`, evidence: ev });
      }
    }
  }
  for (const c of r?.certs ?? []) {
    const err = f.certErrors.find((x) => x.path === c.path);
    const cert = f.certs.find((x) => x.path === c.path);
    const source = `cat ${c.path} (X.509 notAfter) vs node clock`;
    if (err) out.push({ ...base, subject: c.path, status: 'error', severity: 'high', message: err.reason, evidence: { source } });
    else if (!cert || f.now === null) out.push({ ...base, subject: c.path, status: 'error', severity: 'high', message: f.now === null ? 'node clock unreadable' : 'certificate not gathered', evidence: { source } });
    else {
      const days = Math.trunc((Date.parse(cert.notAfter) / 1000 - f.now) / 86400);
      const ev = { source, expected: `more than ${c.renewBeforeDays} days left (renewal window)`, observed: { notAfter: cert.notAfter, daysLeft: days, subject: cert.subject } };
      if (days < 0) out.push({ ...base, subject: c.path, status: 'fail', severity: 'high', message: `expired ${-days} day(s) ago: nothing renewed it`, evidence: ev });
      else if (days <= c.renewBeforeDays) out.push({ ...base, subject: c.path, status: 'fail', severity: 'high', message: `${days} day(s) left, inside the ${c.renewBeforeDays}-day renewal window, and nothing renews a self-managed certificate`, evidence: ev });
      else out.push({ ...base, subject: c.path, status: 'pass', severity: 'high', message: `${days} day(s) left; renewal due in ${days - c.renewBeforeDays} day(s) (self-managed: by runbook)`, evidence: ev });
    }
  }
  out.push(manual('documentation'), manual('runbooks'));
  return out;
}

export const checklistSuite: Suite<ChecklistExpect, ChecklistFacts> = {
  name: 'checklist',
  key: 'checklist',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: ['checklist.tls-renewal', 'checklist.documentation', 'checklist.runbooks'],
};
