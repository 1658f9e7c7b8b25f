// Every unit in leafcert is parsed here, once: inventory sizes (8G, 2GB), percentages (400%),
// durations (26h, 500ms), systemd's printed timespans (4s, 1.500000s, infinity) and PostgreSQL's
// (setting, unit) pairs. Callers compare plain numbers.

export class UnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

const SIZE_SUFFIX: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/**
 * Bytes from a size. Binary multiples throughout, as systemd (MemoryMax=8G → 8589934592) and
 * PostgreSQL (2GB = 2 GiB) both read them. `infinity`/`max` → Infinity.
 */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`size ${value} is not a non-negative number`);
    return value;
  }
  const s = value.trim().toLowerCase();
  if (s === 'infinity' || s === 'max') return Infinity;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(s);
  if (!m || !(m[2] in SIZE_SUFFIX)) {
    throw new UnitError(`"${value}" is not a size (expected e.g. 512M, 8G, 2GB, 1048576)`);
  }
  return Math.round(Number(m[1]) * SIZE_SUFFIX[m[2]]);
}

/** CPU quota as a fraction of one CPU: "400%" → 4, "50%" → 0.5. */
export function parsePercent(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`percentage ${value} is not a non-negative number`);
    return value / 100;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (!m) throw new UnitError(`"${value}" is not a percentage (expected e.g. 400%)`);
  return Number(m[1]) / 100;
}

/**
 * A memory limit as systemd takes it (MemoryMax=, MemoryHigh=): bytes, or a share of the node's
 * memory ("75%" → { share: 0.75 }), which systemd turns into whole pages of physical memory.
 */
export function parseMemoryLimit(value: string): { bytes: number } | { share: number } {
  if (!/%\s*$/.test(value)) return { bytes: parseSize(value) };
  const share = parsePercent(value);
  if (share > 1) throw new UnitError(`"${value}" is more than all of the node's memory`);
  return { share };
}

/** systemd's physical_memory_scale: a share of MemTotal in whole 4 KiB pages, rounded down. */
export function scaleMemory(share: number, memTotal: number): number {
  const pages = Math.floor(memTotal / 4096);
  return Math.floor((pages * Math.round(share * 10_000)) / 10_000) * 4096;
}

// systemd prints `month` and `y` for long spans and `us` or `µs`/`μs` for short ones.
const DURATION_MS: Record<string, number> = {
  us: 0.001, usec: 0.001, 'µs': 0.001, 'μs': 0.001, ms: 1, msec: 1, '': 1000, s: 1000, sec: 1000,
  m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000,
  month: 2_629_800_000, y: 31_557_600_000,
};

/** Milliseconds from "500ms", "30s", "26h", "7d", "1h30m", "1min 30s", or a bare number of seconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`duration ${value} is not a non-negative number of seconds`);
    return value * 1000;
  }
  const s = value.trim().toLowerCase();
  if (s === 'infinity') return Infinity;
  const re = /(\d+(?:\.\d+)?)\s*(usec|us|µs|μs|msec|ms|sec|s|month|min|m|h|d|w|y)?/gy;
  let total = 0;
  let parts = 0;
  let bare = false;
  let matched = 0;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_MS[m[2] ?? ''];
    parts++;
    if (m[2] === undefined) bare = true;
    matched = re.lastIndex;
    while (s[re.lastIndex] === ' ') re.lastIndex++;
  }
  // A bare number means seconds only on its own: "1 2" or "5 3s" is a typo, not 3 or 8 seconds.
  if (matched === 0 || re.lastIndex < s.length || (bare && parts > 1)) {
    throw new UnitError(`"${value}" is not a duration (expected e.g. 500ms, 30s, 26h, 7d)`);
  }
  return total;
}

/** systemd's printed timespan (`CPUQuotaPerSecUSec=4s`, `1.500000s`, `500ms`, `infinity`) in microseconds. */
export function parseSystemdTimespan(value: string): number {
  const ms = parseDuration(value);
  return ms === Infinity ? Infinity : Math.round(ms * 1000);
}

/** PostgreSQL units as pg_settings reports them ("8kB", "kB", "MB", "ms", "s", "min"). */
const PG_UNIT_BYTES: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const PG_UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

export type PgValue = { kind: 'bytes' | 'ms' | 'number' | 'text'; value: number | string };

/** Normalise a pg_settings row (setting, unit) to bytes / ms / number / text. */
export function pgSettingValue(setting: string, unit: string | null | undefined): PgValue {
  // -1 means "not set / use another setting" (autovacuum_work_mem, log_min_duration_statement):
  // scaling it by the unit would invent a size.
  if (unit && /^-\d+$/.test(setting)) return { kind: 'number', value: Number(setting) };
  if (unit) {
    const m = /^(\d*)\s*([A-Za-z]+)$/.exec(unit);
    if (m) {
      const mult = m[1] ? Number(m[1]) : 1;
      if (m[2] in PG_UNIT_BYTES) return { kind: 'bytes', value: Number(setting) * mult * PG_UNIT_BYTES[m[2]] };
      if (m[2] in PG_UNIT_MS) return { kind: 'ms', value: Number(setting) * mult * PG_UNIT_MS[m[2]] };
    }
  }
  if (/^-?\d+(\.\d+)?$/.test(setting)) return { kind: 'number', value: Number(setting) };
  return { kind: 'text', value: setting };
}

/** Normalise an expected PostgreSQL value ("2GB", "10MB", "200ms", 1.1, "on") to compare with pgSettingValue. */
export function pgExpectedValue(value: string | number | boolean, kind: PgValue['kind']): PgValue {
  if (typeof value === 'boolean') return { kind: 'text', value: value ? 'on' : 'off' };
  if (kind === 'bytes') {
    if (typeof value === 'number') return { kind, value };
    return { kind, value: parseSize(value.replace(/B$/i, '')) };
  }
  if (kind === 'ms') {
    // A bare number is in the setting's unit as PostgreSQL reports it (ms), as a string too.
    if (typeof value === 'number') return { kind, value };
    if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return { kind, value: Number(value) };
    return { kind, value: parseDuration(value) };
  }
  if (kind === 'number') {
    const n = Number(value);
    if (typeof value === 'string' && (value.trim() === '' || Number.isNaN(n))) throw new UnitError(`"${value}" is not a number`);
    return { kind, value: n };
  }
  const s = String(value);
  return { kind: 'text', value: ({ yes: 'on', true: 'on', no: 'off', false: 'off' } as Record<string, string>)[s] ?? s };
}

/** Human form of a byte count for messages: 8589934592 → "8G". */
export function formatSize(bytes: number): string {
  if (bytes === Infinity) return 'infinity';
  for (const [suffix, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${suffix}`;
  }
  return String(bytes);
}
