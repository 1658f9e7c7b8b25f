// Reading firewall extraCommands as the shell runs them: continued lines joined, comments dropped,
// `;`/`&&`/`||` lists split, and shell functions run where they are called (NixOS's NAT module
// writes its rules inside flushNat()/setupNat()), so a rule is judged once per execution, never
// per physical line.

/** Splits a line on `;`, `&&`, `||` and `|` outside quotes, and drops a trailing comment. */
function splitList(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]))) break;
    else if (ch === ';' || ch === '|' || (ch === '&' && line[i + 1] === '&')) {
      if (line[i + 1] === ch) i++;
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

const FUNC = /^(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\s*\)\s*(\{)?(.*)$/;

/** The simple commands `script` executes, in order (function bodies expanded at each call). */
export function shellCommands(script: string): string[] {
  const lines = script.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const funcs = new Map<string, string[]>();
  const top: string[] = [];
  let fn: { name: string; body: string[]; depth: number; open: boolean } | undefined;
  for (const raw of lines) {
    for (const cmd of splitList(raw)) {
      if (!fn) {
        const m = FUNC.exec(cmd);
        if (m) {
          fn = { name: m[1], body: [], depth: m[2] ? 1 : 0, open: !!m[2] };
          const rest = m[3].trim();
          if (rest) feed(rest);
          continue;
        }
        top.push(cmd);
      } else feed(cmd);
    }
  }
  function feed(cmd: string): void {
    if (!fn) return;
    if (!fn.open) {
      if (!cmd.startsWith('{')) return;
      fn.open = true;
      fn.depth = 1;
      cmd = cmd.slice(1).trim();
      if (!cmd) return;
    }
    if (cmd === '}' || (cmd.endsWith(' }') && fn.depth === 1)) {
      const body = cmd === '}' ? '' : cmd.slice(0, -1).trim();
      if (body) fn.body.push(body);
      fn.depth -= 1;
      if (fn.depth === 0) {
        funcs.set(fn.name, fn.body);
        fn = undefined;
      }
      return;
    }
    if (/\{\s*$/.test(cmd)) fn.depth += 1;
    fn.body.push(cmd);
  }
  const out: string[] = [];
  const run = (cmds: string[], depth: number) => {
    for (const c of cmds) {
      const word = c.split(/\s+/)[0];
      const body = funcs.get(word);
      if (body && depth < 8) run(body, depth + 1);
      else if (!body) out.push(c);
    }
  };
  run(top, 0);
  return out;
}
