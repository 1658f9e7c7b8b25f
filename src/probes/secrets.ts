// Secrets, inspected ON the node so that no secret value ever leaves it: the probe script reads
// each secret file, and prints per value only its key, length, the first 8 hex of its sha256 and a
// placeholder class; it then looks for the values (grep -F on the node) in places others can read —
// world-readable files under /etc and in store paths referenced by units, unit Environment
// (systemctl show), /proc/<pid>/environ — and lists htpasswd files and private keys (with the
// sha256 of their public key, to match CA certificates). Values live only in shell variables of
// the (bash) script and reach grep and awk through pipes (`-f <(printf …)`): never in argv, never
// in a file, so no kill, timeout or dropped connection can leave one on the node's disk. Its scratch
// (public things only) is RAM-backed and removed by traps, or swept by the next run (./scratch.ts).
import { ParseError } from '../core/types.js';
import { shq } from '../transport/container.js';
import { scratchSh } from './scratch.js';

export interface SecretFileSpec {
  path: string;
  format?: 'env' | 'raw';
}

export const CA_KEY_PATHS = ['/etc/ssl', '/etc/nginx', '/var/lib/acme', '/etc/alchemist', '/root', '/etc/pki', '/etc/secrets'];
export const SCAN_ROOTS = ['/etc'];

/** Placeholder classes, decided on the node (lowercased value): see classify() in the script. */
export type ValueClass = 'ok' | 'empty' | 'at-name' | 'your-here' | 'changeme' | 'placeholder';

export function secretsScript(files: SecretFileSpec[], opts: { caPaths?: string[]; scanRoots?: string[] } = {}): string {
  const caPaths = (opts.caPaths ?? CA_KEY_PATHS).map(shq).join(' ');
  const roots = (opts.scanRoots ?? SCAN_ROOTS).map(shq).join(' ');
  const excludeSecrets = files.map((f) => `-e ${shq(f.path)}`).join(' ') || "-e ''";
  const lines: string[] = [
    'umask 077',
    // Scratch ($S, in RAM where possible) holds only public things: file lists, store paths, certificates.
    scratchSh('S'),
    // Values (and "idx key" of each) live only in these arrays: never in a file, never in argv.
    'keys=(); vals=()',
    `classify() { l=$(printf '%s' "$1" | tr 'A-Z' 'a-z'); case "$l" in '') echo empty;; @*@) echo at-name;; *your_*_here*|*your-*-here*) echo your-here;; *changeme*|*change_me*|*change-me*) echo changeme;; placeholder|*replace_me*|*replaceme*|'<'*'>'|xxx|xxxx*|todo) echo placeholder;; *) echo ok;; esac; }`,
    // One value: record key/length/hash/class; keep it (in memory) for the leak scan when it is real.
    // A multi-line value (a PEM key) is searched by its longest line that is not armour.
    `emit() { c=$(classify "$3"); printf 'V %s %s %s %s %s\\n' "$1" "$2" "$(printf '%s' "$3" | wc -c | tr -d ' ')" "$(printf '%s' "$3" | sha256sum | cut -c1-8)" "$c"; if [ "$c" = ok ] && [ "$(printf '%s' "$3" | wc -c)" -ge 6 ]; then sv=$3; [ "$(printf '%s' "$3" | wc -l)" -gt 0 ] && sv=$(printf '%s\\n' "$3" | grep -v -- '-----' | awk 'length($0) > length(m) { m = $0 } END { print m }'); if [ "$(printf '%s' "$sv" | wc -c)" -ge 6 ]; then keys+=("$1 $2"); vals+=("$sv"); fi; fi; }`,
    'unq() { v=$1; case "$v" in \\"*\\") v=${v#\\"}; v=${v%\\"};; \\\'*\\\') v=${v#\\\'}; v=${v%\\\'};; esac; printf \'%s\' "$v"; }',
  ];
  files.forEach((f, i) => {
    const p = shq(f.path);
    lines.push(`if [ -e ${p} ]; then printf 'S ${i} %s\\n' "$(stat -L -c '%a %U %G %s %F' ${p})"; if ! err=$(cat ${p} 2>&1 >/dev/null); then printf 'R ${i} %s\\n' "$(printf '%s' "$err" | head -c 200 | tr '\\n' ' ')"; fi; else echo 'S ${i} missing'; fi`);
    if (f.format === 'raw') {
      lines.push(`[ -r ${p} ] && emit ${i} - "$(cat ${p})"`);
    } else {
      lines.push(
        `[ -r ${p} ] && while IFS= read -r line || [ -n "$line" ]; do line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/^export[[:space:]]*//; s/\\r$//'); case "$line" in ''|'#'*) continue;; esac; k=\${line%%=*}; [ "$k" != "$line" ] || { echo "X ${i} line without KEY="; continue; }; emit ${i} "$k" "$(unq "\${line#*=}")"; done < ${p}`,
      );
    }
  });
  lines.push(
    // Values reach grep and awk only through pipes (bash process substitution: /dev/fd/N in argv,
    // the values in a pipe), never as arguments (any local user reads /proc/PID/cmdline) and never
    // in a file (NixOS's /tmp is on disk; a KILLed script leaves its files). A pipe is read once:
    // every grep gets its own.
    `pats() { printf '%s\\n' "\${vals[@]}"; }`,
    // Which keys ("idx key") a file ($1) holds.
    `hits() { local n; for n in "\${!vals[@]}"; do grep -qaF -f <(printf '%s\\n' "\${vals[n]}") -- "$1" 2>/dev/null && printf '%s\\n' "\${keys[n]}"; done; }`,
    // NixOS: environment.etc and unit files point into the store (world-readable by construction).
    // Unit files are symlinks into the store, hence -R. Package directories are skipped (> 50 files):
    // what matters are the generated files units reference (scripts, configs, env files).
    `: > "$S/store"; if [ -d /nix/store ]; then { [ -e /etc/static ] && find -L /etc/static/ -type f -size -2M 2>/dev/null; grep -RhoE '/nix/store/[a-z0-9]{32}-[^/[:space:]"'"'"';]+' /etc/systemd/system/ 2>/dev/null | sort -u | head -n 1000 | while read -r sp; do [ "$(find -L "$sp" -type f 2>/dev/null | head -n 51 | wc -l)" -le 50 ] && find -L "$sp" -type f -size -2M 2>/dev/null; done; } | sort -u > "$S/store"; fi`,
    'if [ "${#vals[@]}" -gt 0 ]; then',
    // World-readable files under the scan roots (not the secret files themselves) and the store files.
    `  { find ${roots} -xdev -type f -perm -0004 -size -2M 2>/dev/null | grep -vxF ${excludeSecrets}; cat "$S/store"; } | sort -u > "$S/files"`,
    // One grep per 500 candidates; the per-key pass runs only on the (few) files that hit.
    `  mapfile -t F < "$S/files"; for ((i = 0; i < \${#F[@]}; i += 500)); do grep -laF -f <(pats) -- "\${F[@]:i:500}" 2>/dev/null; done | while IFS= read -r f; do hits "$f" | while read -r i k; do printf 'L file %s %s %s\\n' "$i" "$k" "$f"; done; done`,
    // Unit environments: readable by any user over D-Bus. Held in memory, checked block by block;
    // output that is not systemctl show's (every block starts with Id=, every line is KEY=VALUE)
    // is reported (P), never taken for "no leak". A garbled line is quoted only if it holds no value.
    '  if [ -d /run/systemd/system ]; then',
    `    U=$(systemctl show --no-pager -p Id,Environment '*' 2>/dev/null); urc=$?`,
    `    if [ "$urc" -ne 0 ]; then echo "P unit systemctl show -p Id,Environment exited $urc"; else printf '%s\\n' "$U" | awk -v K=<(printf '%s\\n' "\${keys[@]}") -v V=<(pats) '${UNIT_AWK}'; fi`,
    '  fi',
    // Process environments, read straight from /proc (no copy), all in one grep (-a: NULs are just bytes).
    `  grep -laF -f <(pats) -- /proc/[0-9]*/environ 2>/dev/null | while IFS= read -r e; do d=\${e%/environ}; p=\${d#/proc/}; [ "$p" = "$$" ] && continue; c=$(cat "$d/comm" 2>/dev/null); hits "$e" | while read -r i k; do printf 'L environ %s %s %s %s\\n' "$i" "$k" "$p" "$c"; done; done`,
    'fi',
    // htpasswd files: named so, or named by nginx's auth_basic_user_file.
    `{ find ${roots} /etc/nginx /etc/static/nginx/ -name '*htpasswd*' 2>/dev/null; { grep -rhoE 'auth_basic_user_file[[:space:]]+[^;]+' /etc/nginx /etc/static/nginx/ 2>/dev/null; xargs -d '\\n' -r grep -hoE 'auth_basic_user_file[[:space:]]+[^;]+' < "$S/store" 2>/dev/null; } | awk '{print $2}' | tr -d '"'"'"; } | sort -u | while read -r h; do [ -f "$h" ] || continue; printf 'H %s %s %s %s\\n' "$(stat -L -c '%a' "$h")" "$(grep -c '{PLAIN}' "$h")" "$(grep -c . "$h")" "$h"; done`,
    // Private keys and certificates where keys usually sit; a key whose public half matches a CA:TRUE certificate is a CA key.
    `find ${caPaths} -maxdepth 5 -type f -size -256k 2>/dev/null | head -n 3000 > "$S/kc"`,
    `xargs -d '\\n' -r grep -l 'PRIVATE KEY-----' < "$S/kc" 2>/dev/null > "$S/kf"`,
    `while IFS= read -r f; do ph=$(openssl pkey -in "$f" -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-16); [ -n "$ph" ] && [ "$ph" != "e3b0c44298fc1c14" ] || ph=-; printf 'K %s %s %s\\n' "$(stat -c '%a' "$f")" "$ph" "$f"; done < "$S/kf"`,
    // Certificates only matter when there is a key to match; bundles (> 3 certs) are public trust stores.
    `if [ -s "$S/kf" ] && command -v openssl >/dev/null; then xargs -d '\\n' -r grep -c 'BEGIN CERTIFICATE' < "$S/kc" 2>/dev/null | awk -F: '$NF>=1 && $NF<=3 {sub(/:[0-9]+$/, ""); print}' | while IFS= read -r f; do rm -f "$S"/c.*; awk -v T="$S" '/BEGIN CERTIFICATE/{n++} n{print > (T "/c." n)}' "$f"; for c in "$S"/c.*; do [ -f "$c" ] || continue; ca=$(openssl x509 -in "$c" -noout -ext basicConstraints 2>/dev/null | grep -c 'CA:TRUE'); ph=$(openssl x509 -in "$c" -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-16); printf 'C %s %s %s\\n' "$ca" "$ph" "$f"; done; done; fi`,
    'command -v openssl >/dev/null || echo "O no-openssl"',
    'echo END',
  );
  // bash: arrays and process substitution. The script text holds no value, only paths.
  return `exec bash -c ${shq(lines.join('\n'))}`;
}

/**
 * awk over `systemctl show -p Id,Environment '*'` (stdin), with "idx key" lines in file K and the
 * values in file V (both pipes): prints `L unit idx key UNIT` per value found in a unit's block, or
 * one `P unit …` line when the output is not systemctl show's (and then nothing else).
 */
const UNIT_AWK = [
  'function bad(why, line,  j, s) { s = line; for (j = 1; j <= nv; j++) if (index(line, v[j])) s = "(withheld: holds a secret value)"; gsub(/[^[:print:]]/, "?", s); printf "P unit systemctl show printed %s at line %d: %s\\n", why, NR, substr(s, 1, 60); broken = 1; exit }',
  'function flush(  j) { if (!n) return; blocks++; for (j = 1; j <= nv; j++) if (index(text, v[j])) print "L unit " k[j] " " id; n = 0; text = "" }',
  'BEGIN { while ((getline x < K) > 0) k[++nk] = x; while ((getline x < V) > 0) v[++nv] = x }',
  '/^$/ { flush(); next }',
  '{ if (!n && $0 !~ /^Id=./) bad("a block without Id= first", $0); if ($0 !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("a line that is not KEY=VALUE", $0); if (!n) id = substr($0, 4); n++; text = text "\\n" $0 }',
  'END { if (broken) exit; flush(); if (!blocks) print "P unit systemctl show printed no unit" }',
].join('\n');

export interface SecretValueFact {
  key: string;
  length: number;
  /** First 8 hex of sha256(value). */
  sha: string;
  cls: ValueClass;
}

export interface SecretFileFact {
  path: string;
  exists: boolean;
  mode?: string;
  owner?: string;
  group?: string;
  size?: number;
  type?: string;
  readError?: string;
  values: SecretValueFact[];
  malformed: number;
}

export interface LeakFact {
  where: 'file' | 'unit' | 'environ';
  file: number;
  key: string;
  /** File path, unit id, or "pid comm". */
  location: string;
  pid?: number;
  comm?: string;
}

export interface SecretsProbe {
  files: SecretFileFact[];
  leaks: LeakFact[];
  htpasswd: { path: string; mode: string; plain: number; lines: number }[];
  keys: { path: string; mode: string; pubSha: string }[];
  certs: { path: string; ca: boolean; pubSha: string }[];
  openssl: boolean;
  /** Places the leak scan could not read (unit environments that were not systemctl show's output). */
  problems: { where: 'unit'; reason: string }[];
}

export function parseSecrets(text: string, specs: SecretFileSpec[], source: string): SecretsProbe {
  if (!/^END$/m.test(text)) throw new ParseError(source, 'probe output is truncated (no END marker)', text.slice(-300));
  const files: SecretFileFact[] = specs.map((s) => ({ path: s.path, exists: false, values: [], malformed: 0 }));
  const out: SecretsProbe = { files, leaks: [], htpasswd: [], keys: [], certs: [], openssl: true, problems: [] };
  const file = (i: string) => {
    const f = files[Number(i)];
    if (!f) throw new ParseError(source, `refers to secret file #${i}, which was not asked for`);
    return f;
  };
  for (const [n, line] of text.split('\n').entries()) {
    if (!line || line === 'END') continue;
    let m: RegExpExecArray | null;
    if ((m = /^S (\d+) missing$/.exec(line))) file(m[1]).exists = false;
    else if ((m = /^S (\d+) (\d+) (\S+) (\S+) (\d+) (.+)$/.exec(line))) Object.assign(file(m[1]), { exists: true, mode: m[2].padStart(4, '0'), owner: m[3], group: m[4], size: Number(m[5]), type: m[6] });
    else if ((m = /^R (\d+) (.*)$/.exec(line))) file(m[1]).readError = m[2].trim() || 'unreadable';
    else if ((m = /^V (\d+) (\S+) (\d+) ([0-9a-f]{8}) (ok|empty|at-name|your-here|changeme|placeholder)$/.exec(line))) file(m[1]).values.push({ key: m[2], length: Number(m[3]), sha: m[4], cls: m[5] as ValueClass });
    else if ((m = /^X (\d+) /.exec(line))) file(m[1]).malformed++;
    else if ((m = /^L (file|unit) (\d+) (\S+) (.+)$/.exec(line))) out.leaks.push({ where: m[1] as 'file' | 'unit', file: Number(m[2]), key: m[3], location: m[4] });
    else if ((m = /^L environ (\d+) (\S+) (\d+) ?(.*)$/.exec(line))) out.leaks.push({ where: 'environ', file: Number(m[1]), key: m[2], location: `pid ${m[3]} (${m[4]})`, pid: Number(m[3]), comm: m[4] });
    else if ((m = /^H (\d+) (\d+) (\d+) (.+)$/.exec(line))) out.htpasswd.push({ mode: m[1].padStart(4, '0'), plain: Number(m[2]), lines: Number(m[3]), path: m[4] });
    else if ((m = /^K (\d+) (\S+) (.+)$/.exec(line))) out.keys.push({ mode: m[1].padStart(4, '0'), pubSha: m[2], path: m[3] });
    else if ((m = /^C (\d+) (\S+) (.+)$/.exec(line))) out.certs.push({ ca: m[1] !== '0', pubSha: m[2], path: m[3] });
    else if (line === 'O no-openssl') out.openssl = false;
    else if ((m = /^P (unit) (.+)$/.exec(line))) out.problems.push({ where: m[1] as 'unit', reason: m[2] });
    // Never echo the line: the probe guarantees no values in its output, a garbled line might not.
    else throw new ParseError(source, `line ${n + 1} of the probe output has an unexpected shape`);
  }
  return out;
}
