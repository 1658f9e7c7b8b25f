// `systemctl show -p A,B UNIT...` prints KEY=VALUE lines, one block per unit, blocks separated by an
// empty line, properties in systemd's own order (not the -p order). Limits print as bytes
// (MemoryMax=8589934592), timespans (CPUQuotaPerSecUSec=4s, 1.500000s, 500ms) or `infinity`.
import { ParseError } from '../core/types.js';
import { parseSize, parseSystemdTimespan, UnitError } from '../core/units.js';

export type UnitProps = Record<string, string>;

/** Shell test for "systemd is PID 1" (sd_booted()); systemctl exists on non-systemd hosts too. */
export const SYSTEMD_BOOTED = '[ -d /run/systemd/system ]';

export function parseSystemctlShow(text: string, source: string): UnitProps[] {
  const blocks: UnitProps[] = [];
  let cur: UnitProps | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) {
      cur = undefined;
      continue;
    }
    const i = line.indexOf('=');
    if (i <= 0 || !/^[A-Za-z][A-Za-z0-9]*$/.test(line.slice(0, i))) {
      throw new ParseError(source, `unexpected line "${line.slice(0, 80)}" (expected KEY=VALUE)`, text.slice(0, 300));
    }
    if (!cur) blocks.push((cur = {}));
    cur[line.slice(0, i)] = line.slice(i + 1);
  }
  return blocks;
}

/**
 * Strict check of parsed blocks: each has every property in `props` (`systemctl show -p` prints an
 * asked-for property even when empty, so a block without one is not systemctl's output), and there
 * is one block per unit asked for when `count` is given. Anything else is a ParseError, never a
 * verdict on partial facts.
 */
export function requireProps(blocks: UnitProps[], props: string[], source: string, opts: { count?: number; allowNone?: boolean } = {}): UnitProps[] {
  const count = opts.count;
  if (!blocks.length && !opts.allowNone) throw new ParseError(source, 'printed no unit block');
  if (count !== undefined && blocks.length !== count) {
    throw new ParseError(source, `printed ${blocks.length} unit block(s) for ${count} unit(s) asked`, blocks.map((b) => Object.entries(b).map(([k, v]) => `${k}=${v}`).join('\n')).join('\n\n').slice(0, 300));
  }
  for (const [i, b] of blocks.entries()) {
    const missing = props.filter((p) => !(p in b));
    if (missing.length) throw new ParseError(source, `unit block ${i + 1}${b.Id ? ` (${b.Id})` : ''} lacks ${missing.join(', ')}`, Object.entries(b).map(([k, v]) => `${k}=${v}`).join('\n').slice(0, 300));
  }
  return blocks;
}

/** Blocks keyed by their `Id=` (ask for -p Id). */
export function byUnitId(blocks: UnitProps[], source: string): Map<string, UnitProps> {
  const out = new Map<string, UnitProps>();
  for (const b of blocks) {
    if (!b.Id) throw new ParseError(source, 'a unit block has no Id= (was -p Id requested?)');
    out.set(b.Id, b);
  }
  return out;
}

function convert<T>(value: string | undefined, key: string, source: string, f: (v: string) => T): T | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return f(value);
  } catch (e) {
    if (e instanceof UnitError) throw new ParseError(source, `${key}=${value}: ${e.message}`);
    throw e;
  }
}

/** MemoryMax / MemoryHigh in bytes; `infinity` → Infinity. */
export function memoryProp(props: UnitProps, key: 'MemoryMax' | 'MemoryHigh', source: string): number | undefined {
  return convert(props[key], key, source, (v) => {
    if (!/^(\d+|infinity)$/.test(v)) throw new UnitError(`not a byte count`);
    return parseSize(v);
  });
}

/** CPUQuotaPerSecUSec in microseconds of CPU per second (400% → 4_000_000); `infinity` → Infinity. */
export function cpuQuotaProp(props: UnitProps, source: string): number | undefined {
  return convert(props.CPUQuotaPerSecUSec, 'CPUQuotaPerSecUSec', source, parseSystemdTimespan);
}

export function tasksMaxProp(props: UnitProps, source: string): number | undefined {
  return convert(props.TasksMax, 'TasksMax', source, (v) => {
    if (v === 'infinity') return Infinity;
    if (!/^\d+$/.test(v)) throw new UnitError('not a number');
    return Number(v);
  });
}

/** Unit name as systemd spells it: `container@alchemist` → `container@alchemist.service`. */
export function unitName(name: string): string {
  return /\.(service|slice|scope|socket|timer|target|mount)$/.test(name) ? name : `${name}.service`;
}
