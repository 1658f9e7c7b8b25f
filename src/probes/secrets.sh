#!/usr/bin/env bash
# The secrets probe (src/probes/secrets.ts), one round trip, run ON the node so that no secret value
# ever leaves it: per value it prints only its key, length, the first 8 hex of its sha256 and a
# placeholder class, then looks for the values in places others can read and lists htpasswd files,
# private keys and certificates. Output lines (parseSecrets): S stat, R read error, V value, X line
# without KEY=, L leak, P unreadable place, H htpasswd, K private key, C certificate, O no openssl, END.
#
# Values live only in the arrays keys/vals (never exported) and reach grep and awk only through pipes
# (bash process substitution: /dev/fd/N in argv, the values in a pipe): never as arguments (any local
# user reads /proc/PID/cmdline) and never in a file (NixOS's /tmp is on disk; a KILLed script leaves
# its files). A pipe is read once: every grep gets its own. The script text holds no value, only
# paths, and those come as arguments.
#
# Arguments: N, then N scan roots; M, then M key directories; then per secret file its format
# (env|raw) and its path, in the order of the expectation (the index in every output line).
# $S, the scratch dir (RAM-backed, removed by traps, swept by the next run), is made by
# scratchSh('S') (src/probes/scratch.ts), which the probe puts in front of this text; it holds only
# public things: file lists, store paths, certificates.
umask 077

nr=$1; shift; roots=("${@:1:nr}"); shift "$nr"
nk=$1; shift; keydirs=("${@:1:nk}"); shift "$nk"
formats=(); files=()
while [ "$#" -ge 2 ]; do formats+=("$1"); files+=("$2"); shift 2; done
# The secret files themselves are not copies of their values.
exclude=(); for sf in "${files[@]}"; do exclude+=(-e "$sf"); done
[ "${#exclude[@]}" -gt 0 ] || exclude=(-e '')

# Values (and "idx key" of each) live only in these arrays: never in a file, never in argv.
keys=(); vals=()
# Placeholder classes, decided on the lowercased value (ValueClass in secrets.ts).
# shellcheck disable=SC2018,SC2019  # ASCII case folding is meant: values are compared as bytes
classify() { l=$(printf '%s' "$1" | tr 'A-Z' 'a-z'); case "$l" in '') echo empty;; @*@) echo at-name;; *your_*_here*|*your-*-here*) echo your-here;; *changeme*|*change_me*|*change-me*) echo changeme;; placeholder|*replace_me*|*replaceme*|'<'*'>'|xxx|xxxx*|todo) echo placeholder;; *) echo ok;; esac; }
# One value: record key/length/hash/class; keep it (in memory) for the leak scan when it is real.
# A multi-line value (a PEM key) is searched by its longest line that is not armour.
emit() { c=$(classify "$3"); printf 'V %s %s %s %s %s\n' "$1" "$2" "$(printf '%s' "$3" | wc -c | tr -d ' ')" "$(printf '%s' "$3" | sha256sum | cut -c1-8)" "$c"; if [ "$c" = ok ] && [ "$(printf '%s' "$3" | wc -c)" -ge 6 ]; then sv=$3; [ "$(printf '%s' "$3" | wc -l)" -gt 0 ] && sv=$(printf '%s\n' "$3" | grep -v -- '-----' | awk 'length($0) > length(m) { m = $0 } END { print m }'); if [ "$(printf '%s' "$sv" | wc -c)" -ge 6 ]; then keys+=("$1 $2"); vals+=("$sv"); fi; fi; }
unq() { v=$1; case "$v" in \"*\") v=${v#\"}; v=${v%\"};; \'*\') v=${v#\'}; v=${v%\'};; esac; printf '%s' "$v"; }

for idx in "${!files[@]}"; do
  sf=${files[idx]}
  if [ -e "$sf" ]; then printf 'S %s %s\n' "$idx" "$(stat -L -c '%a %U %G %s %F' "$sf")"; if ! err=$(cat "$sf" 2>&1 >/dev/null); then printf 'R %s %s\n' "$idx" "$(printf '%s' "$err" | head -c 200 | tr '\n' ' ')"; fi; else echo "S $idx missing"; fi
  if [ "${formats[idx]}" = raw ]; then
    [ -r "$sf" ] && emit "$idx" - "$(cat "$sf")"
  else
    [ -r "$sf" ] && while IFS= read -r line || [ -n "$line" ]; do line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/^export[[:space:]]*//; s/\r$//'); case "$line" in ''|'#'*) continue;; esac; k=${line%%=*}; [ "$k" != "$line" ] || { echo "X $idx line without KEY="; continue; }; emit "$idx" "$k" "$(unq "${line#*=}")"; done < "$sf"
  fi
done

pats() { printf '%s\n' "${vals[@]}"; }
# Which keys ("idx key") a file ($1) holds.
hits() { local n; for n in "${!vals[@]}"; do grep -qaF -f <(printf '%s\n' "${vals[n]}") -- "$1" 2>/dev/null && printf '%s\n' "${keys[n]}"; done; }

# NixOS: environment.etc and unit files point into the store (world-readable by construction).
# Unit files are symlinks into the store, hence -R. Package directories are skipped (> 50 files):
# what matters are the generated files units reference (scripts, configs, env files).
: > "$S/store"; if [ -d /nix/store ]; then { [ -e /etc/static ] && find -L /etc/static/ -type f -size -2M 2>/dev/null; grep -RhoE '/nix/store/[a-z0-9]{32}-[^/[:space:]"'"'"';]+' /etc/systemd/system/ 2>/dev/null | sort -u | head -n 1000 | while read -r sp; do [ "$(find -L "$sp" -type f 2>/dev/null | head -n 51 | wc -l)" -le 50 ] && find -L "$sp" -type f -size -2M 2>/dev/null; done; } | sort -u > "$S/store"; fi

# awk over `systemctl show -p Id,Environment '*'` (stdin), with "idx key" lines in file K and the
# values in file V (both pipes): prints `L unit idx key UNIT` per value found in a unit's block, or
# one `P unit …` line when the output is not systemctl show's (and then nothing else). A garbled
# line is quoted only if it holds no value.
# shellcheck disable=SC2016  # an awk program: its $0 is awk's, not the shell's
UNIT_AWK='function bad(why, line,  j, s) { s = line; for (j = 1; j <= nv; j++) if (index(line, v[j])) s = "(withheld: holds a secret value)"; gsub(/[^[:print:]]/, "?", s); printf "P unit systemctl show printed %s at line %d: %s\n", why, NR, substr(s, 1, 60); broken = 1; exit }
function flush(  j) { if (!n) return; blocks++; for (j = 1; j <= nv; j++) if (index(text, v[j])) print "L unit " k[j] " " id; n = 0; text = "" }
BEGIN { while ((getline x < K) > 0) k[++nk] = x; while ((getline x < V) > 0) v[++nv] = x }
/^$/ { flush(); next }
{ if (!n && $0 !~ /^Id=./) bad("a block without Id= first", $0); if ($0 !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("a line that is not KEY=VALUE", $0); if (!n) id = substr($0, 4); n++; text = text "\n" $0 }
END { if (broken) exit; flush(); if (!blocks) print "P unit systemctl show printed no unit" }'

if [ "${#vals[@]}" -gt 0 ]; then
  # World-readable files under the scan roots (not the secret files themselves) and the store files.
  { find "${roots[@]}" -xdev -type f -perm -0004 -size -2M 2>/dev/null | grep -vxF "${exclude[@]}"; cat "$S/store"; } | sort -u > "$S/files"
  # One grep per 500 candidates; the per-key pass runs only on the (few) files that hit.
  mapfile -t F < "$S/files"; for ((i = 0; i < ${#F[@]}; i += 500)); do grep -laF -f <(pats) -- "${F[@]:i:500}" 2>/dev/null; done | while IFS= read -r f; do hits "$f" | while read -r i k; do printf 'L file %s %s %s\n' "$i" "$k" "$f"; done; done
  # Unit environments: readable by any user over D-Bus. Held in memory, checked block by block;
  # output that is not systemctl show's (every block starts with Id=, every line is KEY=VALUE)
  # is reported (P), never taken for "no leak".
  if [ -d /run/systemd/system ]; then
    U=$(systemctl show --no-pager -p Id,Environment '*' 2>/dev/null); urc=$?
    if [ "$urc" -ne 0 ]; then echo "P unit systemctl show -p Id,Environment exited $urc"; else printf '%s\n' "$U" | awk -v K=<(printf '%s\n' "${keys[@]}") -v V=<(pats) "$UNIT_AWK"; fi
  fi
  # Process environments, read straight from /proc (no copy), all in one grep (-a: NULs are just bytes).
  grep -laF -f <(pats) -- /proc/[0-9]*/environ 2>/dev/null | while IFS= read -r e; do d=${e%/environ}; p=${d#/proc/}; [ "$p" = "$$" ] && continue; c=$(cat "$d/comm" 2>/dev/null); hits "$e" | while read -r i k; do printf 'L environ %s %s %s %s\n' "$i" "$k" "$p" "$c"; done; done
fi

# htpasswd files: named so, or named by nginx's auth_basic_user_file.
{ find "${roots[@]}" /etc/nginx /etc/static/nginx/ -name '*htpasswd*' 2>/dev/null; { grep -rhoE 'auth_basic_user_file[[:space:]]+[^;]+' /etc/nginx /etc/static/nginx/ 2>/dev/null; xargs -d '\n' -r grep -hoE 'auth_basic_user_file[[:space:]]+[^;]+' < "$S/store" 2>/dev/null; } | awk '{print $2}' | tr -d '"'"'"; } | sort -u | while read -r h; do [ -f "$h" ] || continue; printf 'H %s %s %s %s\n' "$(stat -L -c '%a' "$h")" "$(grep -c '{PLAIN}' "$h")" "$(grep -c . "$h")" "$h"; done
# Private keys and certificates where keys usually sit; a key whose public half matches a CA:TRUE certificate is a CA key.
find "${keydirs[@]}" -maxdepth 5 -type f -size -256k 2>/dev/null | head -n 3000 > "$S/kc"
xargs -d '\n' -r grep -l 'PRIVATE KEY-----' < "$S/kc" 2>/dev/null > "$S/kf"
while IFS= read -r f; do ph=$(openssl pkey -in "$f" -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-16); [ -n "$ph" ] && [ "$ph" != "e3b0c44298fc1c14" ] || ph=-; printf 'K %s %s %s\n' "$(stat -c '%a' "$f")" "$ph" "$f"; done < "$S/kf"
# Certificates only matter when there is a key to match; bundles (> 3 certs) are public trust stores.
if [ -s "$S/kf" ] && command -v openssl >/dev/null; then xargs -d '\n' -r grep -c 'BEGIN CERTIFICATE' < "$S/kc" 2>/dev/null | awk -F: '$NF>=1 && $NF<=3 {sub(/:[0-9]+$/, ""); print}' | while IFS= read -r f; do rm -f "$S"/c.*; awk -v T="$S" '/BEGIN CERTIFICATE/{n++} n{print > (T "/c." n)}' "$f"; for c in "$S"/c.*; do [ -f "$c" ] || continue; ca=$(openssl x509 -in "$c" -noout -ext basicConstraints 2>/dev/null | grep -c 'CA:TRUE'); ph=$(openssl x509 -in "$c" -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-16); printf 'C %s %s %s\n' "$ca" "$ph" "$f"; done; done; fi
command -v openssl >/dev/null || echo "O no-openssl"
echo END
