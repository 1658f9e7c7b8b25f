// The checklist items no other suite settles: TLS auto-renewal (ACME timers present and recent, or
// self-managed certificates' days left against the renewal window, by the node's clock) and the
// items only a person can confirm (documentation, runbooks), reported as `manual` with what to
// confirm — never as passes. Gathering lives in src/probes/renewal.ts (gatherRenewal, renewal.sh);
// this file judges.
import type { Outcome, Suite, SuiteContext } from '../src/core/types.js';
import { defineChecks, outcome } from '../src/core/checks.js';
import { optionPath, type Cite, type Manifest } from '../src/core/manifest.js';
import { parseDuration } from '../src/core/units.js';
import { gatherRenewal, parseTimers, parseTriggerTime, type AcmeTimer, type RenewalFacts, type ServedLeaf } from '../src/probes/renewal.js';
import { checklistItem } from '../src/checklist.js';
import { FORMATS } from '../src/core/formats.js';

export { parseTimers, parseTriggerTime, type AcmeTimer };
export type ChecklistFacts = RenewalFacts;

export interface ChecklistExpect {
  renewal?: {
    acme?: {
      /** Certificate names (security.acme.certs.<name>); default: every acme timer found. */
      certs?: string[];
      /** The renewal timer must have fired within this. Default 48h (daily timer + 24h random delay). */
      maxSinceLastRun?: string;
    };
    /**
     * Self-managed certificates: days left must exceed renewBeforeDays, and the file must be what is
     * served: the leaf each `served` endpoint (host:port, SNI = host) serves at `connect` (default the
     * node's address), or, without `served`, each DNS name of the file on :443 whose served leaf is
     * valid for that name, is the file's certificate.
     */
    certs?: RenewalCertExpect[];
  };
}

export interface RenewalCertExpect {
  path: string;
  renewBeforeDays: number;
  served?: string[];
  connect?: string;
}

// In the order of the suite's results (and of today's checkIds). The manual items take their title
// from the checklist map (src/checklist.ts), as their results always did.
const CHECKS = defineChecks('checklist', {
  'tls-renewal': {
    title: 'TLS certificates are renewed in time',
    severity: 'high',
    checklist: ['tls-renewal'],
    description: "Each expected ACME certificate has a renewal timer that is loaded, active and fired within maxSinceLastRun (default 48h); each self-managed certificate has more days left than its renewal window, by the node's clock, and is the certificate served: the leaf its endpoints (served, or its DNS names on :443) serve from the harness has the file's SHA-256 fingerprint. Without a renewal expectation it is manual.",
    fix: 'Use security.acme with services.nginx.virtualHosts.<name>.enableACME (or useACMEHost) so NixOS renews; for a self-managed certificate (sslCertificate), renew it by its runbook before the window.',
  },
  documentation: {
    title: checklistItem('documentation')!.title,
    severity: 'info',
    checklist: ['documentation'],
    description: 'A person confirms the points of the checklist item (in the evidence): no command can settle them, so the result is manual, never a pass.',
    fix: 'Write or update the documentation the evidence lists, and record who confirmed it.',
  },
  runbooks: {
    title: checklistItem('runbooks')!.title,
    severity: 'info',
    checklist: ['runbooks'],
    description: 'A person confirms the points of the checklist item (in the evidence): no command can settle them, so the result is manual, never a pass.',
    fix: 'Write or update the runbooks the evidence lists, and record who confirmed them.',
  },
});

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
            properties: {
              path: { type: 'string', pattern: '^/' },
              renewBeforeDays: { type: 'integer', minimum: 1 },
              served: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' } },
              connect: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
  },
};

async function gather(ctx: SuiteContext, e: ChecklistExpect): Promise<ChecklistFacts> {
  const address = ctx.host.address ?? ctx.node.host;
  const certs = (e.renewal?.certs ?? []).map((c) => ({ ...c, connect: c.connect === ctx.node.name ? address : c.connect }));
  return gatherRenewal(ctx.host, certs, ctx.options.timeoutMs, address);
}

// --- evaluate (pure) ---

function manual(id: 'documentation' | 'runbooks'): Outcome {
  const item = checklistItem(id)!;
  return outcome(CHECKS[id], id, 'manual', `a person must confirm: ${item.manual!.length} point(s) (see evidence)`, { source: 'src/checklist.ts (docs/checklist.md)', expected: item.manual });
}

const TLS = CHECKS['tls-renewal'];

function acmeOutcomes(f: ChecklistFacts, acme: NonNullable<NonNullable<ChecklistExpect['renewal']>['acme']>): Outcome[] {
  const maxSec = parseDuration(acme.maxSinceLastRun ?? '48h') / 1000;
  if (!f.acme.ok) {
    const skip = !f.systemd;
    return [outcome(TLS, 'acme timers', skip ? 'skipped' : 'error', skip ? `cannot list ACME timers: no systemd on the node (PID 1 is ${f.pid1})` : f.acme.reason, { source: "systemctl list-units --type=timer 'acme*'" })];
  }
  if (f.now === null) return [outcome(TLS, 'acme timers', 'error', 'node clock unreadable', { source: 'date +%s' })];
  const now = f.now;
  const out: Outcome[] = [];
  const timers = f.acme.timers;
  const wanted = acme.certs ?? [];
  const source = "systemctl list-units --type=timer 'acme*'; systemctl show --timestamp=unix -p LastTriggerUSec";
  if (!wanted.length && !timers.length) out.push(outcome(TLS, 'acme timers', 'fail', 'no acme renewal timer on the node', { source, expected: 'acme-renew-*.timer', observed: [] }));
  const subjects = wanted.length ? wanted.map((c) => ({ cert: c, timer: timers.find((t) => t.id === `acme-renew-${c}.timer` || t.id === `acme-${c}.timer`) })) : timers.map((t) => ({ cert: t.id, timer: t as AcmeTimer | undefined }));
  for (const { cert, timer } of subjects) {
    const ev = { source, expected: `timer loaded, active, fired within ${acme.maxSinceLastRun ?? '48h'}`, observed: timer ?? null, excerpt: f.acme.excerpt };
    const res = (status: Outcome['status'], message: string) => out.push(outcome(TLS, cert, status, message, ev));
    if (!timer || timer.loadState !== 'loaded') res('fail', `no renewal timer for ${cert} (acme-renew-${cert}.timer / acme-${cert}.timer)`);
    else if (timer.activeState !== 'active') res('fail', `${timer.id} is ${timer.activeState}: renewal will not run`);
    else if (timer.lastTrigger === null) res('fail', `${timer.id} has never fired`);
    else if (now - timer.lastTrigger > maxSec) res('fail', `${timer.id} last fired ${Math.round((now - timer.lastTrigger) / 3600)}h ago (max ${acme.maxSinceLastRun ?? '48h'})`);
    else res('pass', `${timer.id} active, last fired ${Math.round((now - timer.lastTrigger) / 3600)}h ago`);
  }
  return out;
}

/**
 * Is the file what is served? `differ`: endpoints serving another leaf (valid for their name);
 * `unknown`: endpoints that could not be read (a given one, or a derived one that did not answer in
 * time or garbled the handshake); `same`: endpoints serving the file.
 */
function servedMatch(served: ServedLeaf[], fingerprint: string | undefined) {
  const differ: ServedLeaf[] = [];
  const unknown: ServedLeaf[] = [];
  const same: ServedLeaf[] = [];
  for (const s of served) {
    if (!s.ok) {
      // A derived name nobody listens for on :443 is not served here; a given endpoint must answer.
      if (!(s.derived && s.refused)) unknown.push(s);
    } else if (s.fingerprint256 === fingerprint) same.push(s);
    // A derived name answered with a leaf not valid for it: the name is not served here (a default server).
    else if (!s.derived || s.covers) differ.push(s);
  }
  return { differ, unknown, same };
}

function certOutcome(f: ChecklistFacts, c: RenewalCertExpect): Outcome {
  const err = f.certErrors.find((x) => x.path === c.path);
  const cert = f.certs.find((x) => x.path === c.path);
  const served = (f.served ?? []).filter((s) => s.path === c.path);
  const source = `cat ${c.path} (X.509 notAfter, SHA-256) vs node clock${served.length ? `; served leaf of ${served.map((s) => s.endpoint).join(', ')} by a TLS handshake from the harness` : ''}`;
  if (err) return outcome(TLS, c.path, 'error', err.reason, { source });
  if (!cert || f.now === null) return outcome(TLS, c.path, 'error', f.now === null ? 'node clock unreadable' : 'certificate not gathered', { source });
  const now = f.now;
  const daysTo = (iso: string) => Math.trunc((Date.parse(iso) / 1000 - now) / 86400);
  const days = daysTo(cert.notAfter);
  const m = servedMatch(served, cert.fingerprint256);
  const servedEv = served.map((s) => ({ endpoint: s.endpoint, connect: s.connect, ...(s.ok ? { fingerprintSha256: s.fingerprint256, subject: s.subject, notAfter: s.notAfter, daysLeft: daysTo(s.notAfter!), validForName: s.covers } : { error: s.error }) }));
  const ev = {
    source, expected: `more than ${c.renewBeforeDays} days left (renewal window), and the served leaf is this file's`,
    observed: { notAfter: cert.notAfter, daysLeft: days, subject: cert.subject, fingerprintSha256: cert.fingerprint256 ?? null, served: servedEv },
  };
  const other = m.differ.length
    ? `nginx serves a certificate other than the file the renewal renews: ${m.differ.map((s) => `${s.endpoint} serves ${s.subject} (SHA-256 ${s.fingerprint256!.slice(0, 23)}…, ${daysTo(s.notAfter!)} day(s) left)`).join('; ')}; ${c.path} has ${days} day(s) left`
    : '';
  if (days < 0) return outcome(TLS, c.path, 'fail', `expired ${-days} day(s) ago: nothing renewed it${other ? `; ${other}` : ''}`, ev);
  if (days <= c.renewBeforeDays) return outcome(TLS, c.path, 'fail', `${days} day(s) left, inside the ${c.renewBeforeDays}-day renewal window, and nothing renews a self-managed certificate${other ? `; ${other}` : ''}`, ev);
  if (other) return outcome(TLS, c.path, 'fail', other, ev);
  if (m.unknown.length) return outcome(TLS, c.path, 'error', `cannot compare ${c.path} with the served certificate: ${m.unknown.map((s) => `${s.endpoint}: ${s.error}`).join('; ')}`, ev);
  const where = m.same.length ? `; served on ${m.same.map((s) => s.endpoint).join(', ')}` : served.length ? '; none of its names is served on :443 here (compared nothing)' : '';
  return outcome(TLS, c.path, 'pass', `${days} day(s) left; renewal due in ${days - c.renewBeforeDays} day(s) (self-managed: by runbook)${where}`, ev);
}

export function evaluate(f: ChecklistFacts, e: ChecklistExpect): Outcome[] {
  const out: Outcome[] = [];
  const r = e.renewal;
  if (!r || (!r.acme && !r.certs?.length)) {
    out.push(outcome(TLS, 'certificates', 'manual', 'no renewal expectation (checklist.renewal): a person must confirm how each certificate is renewed', { source: 'expectation checklist.renewal' }, { severity: 'info' }));
  }
  if (r?.acme) out.push(...acmeOutcomes(f, r.acme));
  for (const c of r?.certs ?? []) out.push(certOutcome(f, c));
  out.push(manual('documentation'), manual('runbooks'));
  return out;
}

// --- plan (leafcert plan --from-nix) ---

/** TLS renewal: ACME vhosts' renewal timers; self-managed certificates' days left. */
export function fromManifest(m: Manifest, cite: Cite): ChecklistExpect | undefined {
  const nginx = m.host.nginx;
  const tlsHosts = nginx.enable ? nginx.virtualHosts.filter((v) => v.forceSSL || v.onlySSL || v.addSSL) : [];
  const acme = tlsHosts.filter((v) => v.enableACME || v.useACMEHost);
  const files = tlsHosts.filter((v) => !v.enableACME && !v.useACMEHost && v.sslCertificate?.startsWith('/'));
  const renewal: NonNullable<ChecklistExpect['renewal']> = {};
  if (acme.length) {
    renewal.acme = { certs: [...new Set(acme.map((v) => v.useACMEHost ?? v.serverName ?? v.name))] };
    cite(['checklist', 'renewal', 'acme'], acme.map((v) => optionPath(v.path, v.useACMEHost ? 'useACMEHost' : 'enableACME')).join(', '));
  }
  const certs = [...new Set(files.map((v) => v.sslCertificate!))];
  if (certs.length) {
    // 30 days: the usual renewal window (ACME renews 30 days before expiry).
    renewal.certs = certs.map((path) => ({ path, renewBeforeDays: 30 }));
    certs.forEach((c, i) => cite(['checklist', 'renewal', 'certs', i, 'path'], optionPath(files.find((v) => v.sslCertificate === c)!.path, 'sslCertificate')));
  }
  return Object.keys(renewal).length ? { renewal } : undefined;
}

export const checklistSuite: Suite<ChecklistExpect, ChecklistFacts> = {
  name: 'checklist',
  key: 'checklist',
  schema: SCHEMA,
  gather,
  evaluate: (facts, expect) => evaluate(facts, expect ?? {}),
  checkIds: Object.values(CHECKS).map((c) => c.id),
  checks: Object.values(CHECKS),
  fromManifest,
};
