// `ss -Hltn`: listening TCP sockets, for context in port evidence ("5432 is listening, the
// firewall is what keeps it closed" / "443 is allowed but nothing listens").
import { ParseError } from '../core/types.js';

export interface Listener {
  address: string;
  port: number;
}

export function parseSsListen(text: string, source = 'ss -Hltn'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.trim().split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port [Process]
    if (f.length < 5 || !/^\d+$/.test(f[1]) || !/^\d+$/.test(f[2])) throw new ParseError(source, 'unexpected line', line);
    const m = /^(.*):(\d+|\*)$/.exec(f[3]);
    if (!m) throw new ParseError(source, `bad local address ${f[3]}`, line);
    if (m[2] === '*') continue;
    out.push({ address: m[1].replace(/^\[|\]$/g, '').replace(/%\S+$/, ''), port: Number(m[2]) });
  }
  return out;
}
