// Listening TCP sockets from /proc/<pid>/net/tcp and tcp6 (the netns of that pid), so the node needs no
// ss/netstat. Addresses are hex, each 32-bit word in host (little-endian) byte order.
import { ParseError } from '../core/types.js';

export interface Listener {
  address: string;
  port: number;
  family: 4 | 6;
}

function word(hex: string): number[] {
  // One 32-bit word stored little-endian: "0100007F" → 127.0.0.1
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

export function hexToAddress(hex: string): { address: string; family: 4 | 6 } {
  if (hex.length === 8) return { address: word(hex).join('.'), family: 4 };
  if (hex.length === 32) {
    const bytes = [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
    // IPv4-mapped ::ffff:a.b.c.d
    if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
      return { address: bytes.slice(12).join('.'), family: 4 };
    }
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
    const full = groups.join(':');
    return { address: full === '0:0:0:0:0:0:0:0' ? '::' : full.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::'), family: 6 };
  }
  throw new ParseError('/proc/net/tcp', `"${hex}" is not an address`);
}

/** Listening sockets (state 0A) of /proc/net/tcp + tcp6 text (headers allowed, concatenated). */
export function parseProcNetTcp(text: string, source: string): Listener[] {
  const out: Listener[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('sl ')) continue;
    const f = t.split(/\s+/);
    const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    if (!/^\d+:$/.test(f[0]) || !m || !/^[0-9A-Fa-f]{2}$/.test(f[3] ?? '')) {
      throw new ParseError(source, `unexpected line "${t.slice(0, 80)}"`, text.slice(0, 300));
    }
    if (f[3].toUpperCase() !== '0A') continue;
    const { address, family } = hexToAddress(m[1]);
    const port = parseInt(m[2], 16);
    const key = `${address}|${port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ address, port, family });
  }
  return out;
}

/** Whether a listener bound to `l.address` accepts connections addressed to `target`. */
export function listensOn(l: Listener, target: string): boolean {
  return l.address === '0.0.0.0' || l.address === '::' || l.address === target;
}
