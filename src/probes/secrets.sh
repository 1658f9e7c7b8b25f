#!/usr/bin/env bash
# The secrets probe (src/probes/secrets.ts), one round trip, run ON the node so that no secret value
# ever leaves it: per value it prints only its key, length, the first 8 hex of its sha256 and a
# placeholder class, then looks for the values in places others can read and lists htpasswd files,
# private keys and certificates. Output lines (parseSecrets): D discovered file, W where it was
# found, S stat, A has a POSIX ACL, R read error, V value, X line without KEY=, L leak, P unreadable place, I what was
# searched, H htpasswd, K private key, C certificate, O no openssl, END.
# uses: secret-discovery.sh
# shellcheck disable=SC2154 # ndecl, dkind, downers, dgroups, dfrom, PKGDB, PKGDB_PRUNE come from secret-discovery.sh
#
# Values live only in the arrays vv/vals (never exported) and reach grep, awk and sha256sum only
# through pipes (bash process substitution, or FIFOs in the RAM scratch: /dev/fd/N or a FIFO path in
# argv, the value in a pipe): never as arguments (any local user reads /proc/PID/cmdline) and never
# in a file (NixOS's /tmp is on disk; a KILLed script leaves its files). A pipe is read once: every
# grep gets its own. The script text holds no value, only paths, and those come as arguments.
# Parsing is builtins only (read, parameter expansion, case): a fixed number of processes whatever
# the number of values; openssl runs once per key and per certificate.
#
# Arguments: N, then N scan roots; M, then M key directories; 1|0 (discover the secret files the
# node's services use, secret-discovery.sh); then per secret file its format (env|raw) and its path,
# in the order of the expectation (the index in every output line; discovered files follow).
# $S, the scratch dir (RAM-backed, removed by traps, swept by the next run), is made by
# scratchSh('S') (src/probes/scratch.ts), which the probe puts in front of this text; it holds only
# public things: file lists, store paths, sshd -T's configuration, certificates, public keys, and
# empty FIFOs.
umask 077
# Bytes, not characters: lengths, case folding and grep -F compare bytes.
export LC_ALL=C

nr=$1; shift; roots=("${@:1:nr}"); shift "$nr"
nk=$1; shift; keydirs=("${@:1:nk}"); shift "$nk"
disc=$1; shift
formats=(); files=()
while [ "$#" -ge 2 ]; do formats+=("$1"); files+=("$2"); shift 2; done
# The scan roots themselves are never pruned (find -path tests, one per root).
notroot=(); for r in "${roots[@]}"; do notroot+=(! -path "$r"); done

# Caps, stated in the I lines (and so in the evidence).
LOG_CAP=64; CORE_CAP=256M; JOURNAL_LINES=100000; RAW_CAP=1048576

# Unit properties (readable by any user over D-Bus), held in memory: discovery reads the
# EnvironmentFile/LoadCredential sources, the leak scan the Environment.
U=''; urc=-1
if [ -d /run/systemd/system ]; then
  U=$(systemctl show --no-pager -p Id,Environment,EnvironmentFiles,LoadCredential,LoadCredentialEncrypted,User,Group '*' 2>/dev/null); urc=$?
fi
if [ "$disc" = 1 ]; then
  discover
  for i in "${!files[@]}"; do
    [ "$i" -ge "$ndecl" ] || continue
    printf 'D %s %s %s %s %s %s\n' "$i" "${dkind[i]}" "${downers[i]}" "${dgroups[i]}" "${formats[i]}" "${files[i]}"
    printf 'W %s %s\n' "$i" "${dfrom[i]}"
  done
fi
# The secret files themselves are not copies of their values.
exclude=(); for sf in "${files[@]}"; do exclude+=(-e "$sf"); done
[ "${#exclude[@]}" -gt 0 ] || exclude=(-e '')

# Every value: vi (file index), vk (key), vv (value). Only the real ones (vals, "idx key" in keys)
# are searched for.
vi=(); vk=(); vv=(); keys=(); vals=(); ckeys=(); cvals=()
add() { vi+=("$1"); vk+=("$2"); vv+=("$3"); }
# Placeholder classes, decided on the lowercased value (ValueClass in secrets.ts); sets CLS.
# template: a value that is entirely an unexpanded reference (${X}, $X, {{ x }}, __X__, %X%), which
# a deployment step failed to fill in. weak: a well-known credential (a dictionary word, a default
# password) or one character repeated: the first guesses of anyone who tries.
WEAK_VALUES=' secret secrets password passwd pass passw0rd p@ssw0rd p@ssword password1 password123 admin admin123 administrator root toor test test123 testing guest user default changeit letmein welcome qwerty qwerty123 abc123 123456 1234567 12345678 123456789 1234567890 12345 1234 foobar foo bar demo example sample dev development prod production null none undefined true false key token apikey api_key mysecret supersecret s3cr3t secret123 postgres mysql redis monkey dragon master login access iloveyou trustno1 '
classify() {
  local l=${1,,}
  # shellcheck disable=SC2016 # '${'*'}' is a literal ${ … }, not an expansion
  case "$l" in
    '') CLS=empty;; @*@) CLS=at-name;; *your_*_here*|*your-*-here*) CLS=your-here;; *changeme*|*change_me*|*change-me*) CLS=changeme;;
    placeholder|*replace_me*|*replaceme*|*replace-me*|'<'*'>'|xxx|xxxx*|todo) CLS=placeholder;;
    '${'*'}'|'{{'*'}}'|'{%'*'%}') CLS=template;;
    *) CLS=ok
       if [[ $l =~ ^(\$[a-z_][a-z0-9_]*|__[a-z0-9_]+__|%[a-z0-9_]+%)$ ]]; then CLS=template
       else case $WEAK_VALUES in *" $l "*) CLS=weak;; esac; [ -n "${l//"${l:0:1}"/}" ] || CLS=weak; fi;;
  esac
}
# Values shorter than this are not searched for (Q … short): a short value is found by chance in
# unrelated files (a 6-char "secret" is in ld.so.cache), and a search that finds everything finds nothing.
MIN_SEARCH=12
# What a value is searched by, in SV: itself, or for a multi-line value (a PEM key) the middle one of
# its longest lines that are not armour (the first body line of a key is mostly a shared header).
searchval() {
  SV=$1
  case $1 in *$'\n'*) ;; *) return;; esac
  local rest=$1$'\n' l m=0 best=()
  while [ -n "$rest" ]; do
    l=${rest%%$'\n'*}; rest=${rest#*$'\n'}; l=${l%$'\r'}
    case $l in *-----*) continue;; esac
    if [ "${#l}" -gt "$m" ]; then m=${#l}; best=("$l"); elif [ "${#l}" -eq "$m" ]; then best+=("$l"); fi
  done
  SV=${best[${#best[@]} / 2]:-}
}
ltrim() { REPLY=${1#"${1%%[![:space:]]*}"}; }

# Stat every existing file in one call (a file vanishing meanwhile falls back to one stat each).
have=(); for i in "${!files[@]}"; do [ -e "${files[i]}" ] && have+=("$i"); done
st=()
if [ "${#have[@]}" -gt 0 ]; then
  paths=(); for i in "${have[@]}"; do paths+=("${files[i]}"); done
  mapfile -t st < <(stat -L -c '%a %U %G %s %F' -- "${paths[@]}" 2>/dev/null)
  if [ "${#st[@]}" -ne "${#have[@]}" ]; then st=(); for i in "${have[@]}"; do st+=("$(stat -L -c '%a %U %G %s %F' -- "${files[i]}" 2>/dev/null || echo '0 ? ? 0 vanished')"); done; fi
fi
declare -A stat_of=(); for n in "${!have[@]}"; do stat_of[${have[n]}]=${st[n]}; done
# POSIX ACLs (A lines): stat's %a shows an ACL's mask as the group bits, not the users and groups it
# lets read; ls marks a file that has one with + after its mode. One ls for all, in argument order
# (-U), one line per name (-b escapes a newline in it).
declare -A acl_of=()
if [ "${#have[@]}" -gt 0 ]; then
  mapfile -t al < <(ls -ldLUb -- "${paths[@]}" 2>/dev/null)
  if [ "${#al[@]}" -eq "${#have[@]}" ]; then for n in "${!have[@]}"; do case ${al[n]%% *} in ??????????+) acl_of[${have[n]}]=1;; esac; done; fi
fi

for idx in "${!files[@]}"; do
  sf=${files[idx]}
  if [ -z "${stat_of[$idx]+x}" ]; then echo "S $idx missing"; continue; fi
  printf 'S %s %s\n' "$idx" "${stat_of[$idx]}"
  [ -z "${acl_of[$idx]:-}" ] || echo "A $idx"
  if [ -d "$sf" ]; then echo "R $idx Is a directory"; continue; fi
  if [ ! -r "$sf" ]; then echo "R $idx Permission denied"; continue; fi
  if [ "${formats[idx]}" = raw ]; then
    v=''; IFS= read -r -d '' -N "$RAW_CAP" v < "$sf"
    while [ "${v%$'\n'}" != "$v" ]; do v=${v%$'\n'}; done
    add "$idx" - "$v"
  else
    while IFS= read -r line || [ -n "$line" ]; do
      ltrim "${line%$'\r'}"; line=$REPLY
      case $line in export[[:space:]]*) ltrim "${line#export}"; line=$REPLY;; esac
      case $line in ''|'#'*) continue;; esac
      k=${line%%=*}; [ "$k" != "$line" ] || { echo "X $idx line without KEY="; continue; }
      v=${line#*=}; case $v in \"*\") v=${v#\"}; v=${v%\"};; \'*\') v=${v#\'}; v=${v%\'};; esac
      add "$idx" "$k" "$v"
    done < "$sf"
  fi
done

# sha256 of every value with one sha256sum: each value goes through its own FIFO (in the RAM
# scratch; a FIFO's data never reaches a disk), written in the order sha256sum reads them. The
# same mkfifo makes fp, fk and fv, through which this shell hands the leak scan's grep and awk their
# values and keys (FQ=1; a process substitution would cost a process each time). The (empty) FIFOs
# go with the scratch dir.
shas=(); FQ=''
if [ "${#vv[@]}" -gt 0 ]; then
  ff=(); for i in "${!vv[@]}"; do ff+=("$S/h.$i"); done
  mkfifo -m 600 -- "${ff[@]}" "$S/fp" "$S/fk" "$S/fv" 2>/dev/null && FQ=1
  if [ -n "$FQ" ] && command -v sha256sum >/dev/null; then
    exec {hfd}< <(sha256sum -- "${ff[@]}" 2>/dev/null)
    for i in "${!vv[@]}"; do printf '%s' "${vv[i]}" > "${ff[i]}"; done
    mapfile -t -u "$hfd" shas; exec {hfd}<&-
  fi
fi
for i in "${!vv[@]}"; do
  v=${vv[i]}; classify "$v"
  h=${shas[i]:-}; h=${h:0:8}
  case $h in *[!0-9a-f]*|'') h=$(printf '%s' "$v" | sha256sum | cut -c1-8);; esac
  printf 'V %s %s %s %s %s\n' "${vi[i]}" "${vk[i]}" "${#v}" "$h" "$CLS"
  [ "$CLS" = ok ] || continue
  # Command lines carry configuration too: searched there are the values of declared files, of
  # key/passphrase files, and of env files only those whose key names a secret (secretname). An env
  # file found by its name holds configuration besides: only its secret-named keys are searched.
  j=${vi[i]}; k=${vk[i]}; cok=1
  if [ "$j" -ge "$ndecl" ] && [ "$k" != - ]; then
    case ${dkind[j]:-} in
      environment-file) secretname "$k" || cok=0;;
      named) secretname "$k" || { printf 'Q %s %s config\n' "$j" "$k"; continue; };;
    esac
  fi
  searchval "$v"
  if [ "${#SV}" -lt "$MIN_SEARCH" ]; then printf 'Q %s %s short\n' "$j" "$k"; continue; fi
  keys+=("$j $k"); vals+=("$SV")
  if [ "$cok" = 1 ]; then ckeys+=("$j $k"); cvals+=("$SV"); fi
done
unset vv v SV

pats() { printf '%s\n' "${vals[@]}"; }
cpats() { printf '%s\n' "${cvals[@]}"; }
keyl() { printf '%s\n' "${keys[@]}"; }
ckeyl() { printf '%s\n' "${ckeys[@]}"; }
# awk over lines that hold a value (stdin), the "idx key" lines in file K and the values in file V
# (both pipes): prints `L WHERE idx key LOC` once per value found.
# shellcheck disable=SC2016  # an awk program: its $0 is awk's, not the shell's
MAP_AWK='BEGIN { while ((getline x < K) > 0) k[++nk] = x; while ((getline x < V) > 0) v[++nv] = x }
{ for (j = 1; j <= nv; j++) if (!(j in h) && index($0, v[j])) h[j] = 1 }
END { for (j = 1; j <= nv; j++) if (j in h) print "L " W " " k[j] " " LOC }'
# The values a stream holds: producer | found WHERE LOC. With the FIFOs, grep and awk start in the
# background and this shell then feeds them patterns, keys and values in the order they read them
# (each reads its FIFO to the end first); stdin stays grep's (0<&0: not /dev/null).
fq() { grep -aF -f "$S/fp" 0<&0 | awk -v W="$3" -v LOC="$4" -v K="$S/fk" -v V="$S/fv" "$MAP_AWK" & "$1" > "$S/fp"; "$2" > "$S/fk"; "$1" > "$S/fv"; wait "$!"; }
found() { if [ -n "$FQ" ]; then fq pats keyl "$@"; else grep -aF -f <(pats) | awk -v W="$1" -v LOC="$2" -v K=<(keyl) -v V=<(pats) "$MAP_AWK"; fi; }
# The same over the values searched in command lines.
cfound() { if [ -n "$FQ" ]; then fq cpats ckeyl "$@"; else grep -aF -f <(cpats) | awk -v W="$1" -v LOC="$2" -v K=<(ckeyl) -v V=<(cpats) "$MAP_AWK"; fi; }
# grepl PATS FILE…: the files holding one of the values PATS prints (grep -l), in HITS.
grepl() {
  local g p=$1; shift; HITS=(); [ "$#" -gt 0 ] || return 0
  if [ -n "$FQ" ]; then exec {g}< <(grep -laF -f "$S/fp" -- "$@" 2>/dev/null); "$p" > "$S/fp"
  else exec {g}< <(grep -laF -f <("$p") -- "$@" 2>/dev/null); fi
  mapfile -t -u "$g" HITS; exec {g}<&-
}
# grepc PATS FILE…: grepl over many files, in chunks of about 128 KiB of arguments (far below
# ARG_MAX), the hits of all in HITS.
grepc() {
  local p=$1 all h=() i per; shift; HITS=(); [ "$#" -gt 0 ] || return 0
  all="$*"; per=$(($# / (${#all} / 131072 + 1) + 1))
  for ((i = 1; i <= $#; i += per)); do grepl "$p" "${@:i:per}"; h+=("${HITS[@]}"); done
  HITS=("${h[@]}")
}

# NixOS: environment.etc and unit files point into the store (world-readable by construction).
# Unit files are symlinks into the store, hence -L. Package directories are skipped (> 50 files
# within two levels): what matters are the generated files units reference (scripts, configs).
: > "$S/store"
if [ -d /nix/store ]; then
  # The store paths (sorted, the first 1000) in sp; the list (unsorted: its readers sort -u it) in store.
  # Long lists go through scratch files: mapfile reads a pipe one byte per read(2), a file in blocks.
  grep -RhoE '/nix/store/[a-z0-9]{32}-[^/[:space:]"'"'"';]+' /etc/systemd/system/ > "$S/sp0" 2>/dev/null
  mapfile -t spl < "$S/sp0"
  [ "${#spl[@]}" -lt 2 ] || { sort -u -o "$S/sp0" -- "$S/sp0"; mapfile -t -n 1000 spl < "$S/sp0"; }
  [ -e /etc/static ] && find -L /etc/static/ -type f -size -2M > "$S/store" 2>/dev/null
  if [ "${#spl[@]}" -gt 0 ]; then
    printf '%s\n' "${spl[@]}" > "$S/sp"
    find -L "${spl[@]}" -maxdepth 2 -type f -size -2M 2>/dev/null | awk -v SP="$S/sp" 'BEGIN { while ((getline p < SP) > 0) top[p] = 1 } { f[NR] = $0; t = $0; while (t != "" && !(t in top)) sub(/\/[^\/]*$/, "", t); r[NR] = t; c[t]++ } END { for (i = 1; i <= NR; i++) if (c[r[i]] <= 50) print f[i] }' >> "$S/store"
  fi
fi

# awk over `systemctl show` (stdin), with "idx key" lines in file K and the values in file V (both
# pipes): prints `L unit idx key UNIT` per value found in a unit's block, or one `P unit …` line when
# the output is not systemctl show's (and then nothing else). A garbled line is quoted only if it
# holds no value. Id= may come anywhere in a block: systemd prints a service's own properties first.
# shellcheck disable=SC2016  # an awk program: its $0 is awk's, not the shell's
UNIT_AWK='function bad(why, line,  j, s) { s = line; for (j = 1; j <= nv; j++) if (index(line, v[j])) s = "(withheld: holds a secret value)"; gsub(/[^[:print:]]/, "?", s); printf "P unit systemctl show printed %s at line %d: %s\n", why, NR, substr(s, 1, 60); broken = 1; exit }
function flush(  j) { if (!n) return; if (id == "") bad("a block without Id=", substr(text, 2)); blocks++; for (j = 1; j <= nv; j++) if (index(text, v[j])) print "L unit " k[j] " " id; n = 0; text = ""; id = "" }
BEGIN { while ((getline x < K) > 0) k[++nk] = x; while ((getline x < V) > 0) v[++nv] = x }
/^$/ { flush(); next }
{ if (!n && $0 !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("a block without Id= first", $0); if ($0 !~ /^[A-Za-z][A-Za-z0-9]*=/) bad("a line that is not KEY=VALUE", $0); if ($0 ~ /^Id=./) id = substr($0, 4); n++; text = text "\n" $0 }
END { if (broken) exit; flush(); if (!blocks) print "P unit systemctl show printed no unit" }'

if [ "${#vals[@]}" -gt 0 ]; then
  # World-readable files under the scan roots (not the secret files themselves) and the store files.
  # A directory others cannot enter (no o+x) hides what is below it: pruned, unless it is a root.
  # Package managers' databases are skipped (named in the evidence): NixOS has none; where a node
  # has one (the lab's Debian tree: 3522 files, 37 MB) it was most of the scan's cost.
  # The list is discovery's walk ($S/ww, secret-discovery.sh), or this same find without discovery.
  for d in "${PKGDB[@]}"; do [ -d "$d" ] && echo "I skipped $d"; done
  [ -e "$S/ww" ] || find "${roots[@]}" -xdev "${PKGDB_PRUNE[@]}" \( -type d ! -perm -0001 "${notroot[@]}" -prune \) -o -type f -perm -0004 \( -size -2097152c -fprint "$S/ww" -o -fprint0 "$S/big" \) 2>/dev/null
  # A secret file can be in that list only if others may read it (-perm -0004): without one (its
  # stat above: no o+r bit, not missing) the list needs no grep -vxF.
  xneed=0; for i in "${!files[@]}"; do m=${stat_of[$i]:-missing}; case $m in *vanished) m=missing;; esac; case ${m%% *} in missing|*[4567]) xneed=1;; esac; done
  if [ "$xneed" = 1 ]; then sort -u -o "$S/fl" -- <(grep -vxF "${exclude[@]}" -- "$S/ww" 2>/dev/null) "$S/store"
  else sort -u -o "$S/fl" -- "$S/ww" "$S/store"; fi
  mapfile -t F < "$S/fl"
  # Logs: files under /var/log that a user other than root can read (o+r, g+r of a group that is
  # not root's, or owned by another user), each up to $LOG_CAP MiB; compressed ones are not read.
  lg=(); ll=()
  if [ -d /var/log ]; then
    find /var/log -xdev -type f \( -perm -0004 -o \( -perm -0040 ! -group 0 \) -o ! -user 0 \) -printf '%s %p\n' > "$S/lg" 2>/dev/null
    mapfile -t -n 5000 lg < "$S/lg"
    declare -A isx=(); for sf in "${files[@]}"; do [ -n "$sf" ] && isx[$sf]=1; done
    lz=0; lb=0; lu=()
    # As awk did: s = $1; sub(/^[0-9]+ /, ""); s > cap, numeric when s is a number, else as
    # strings (the tail of a name with a newline in it).
    cap=$((LOG_CAP * 1048576)); bl=$' \t'
    for l in "${lg[@]}"; do
      s=${l#"${l%%[!"$bl"]*}"}; s=${s%%["$bl"]*}
      f=$l; case ${l%% *} in ''|*[!0-9]*) ;; *) [ "${l%% *}" = "$l" ] || f=${l#* };; esac
      # shellcheck disable=SC2071 # a string comparison on purpose, as awk's for a non-number
      case $s in ''|*[!0-9]*) [[ $s > $cap ]];; *) [ "$s" -gt "$cap" ];; esac; over=$?
      case $f in *.gz|*.xz|*.zst|*.bz2|*.lz4) lz=$((lz + 1)); lu+=("$f");; *) if [ "$over" = 0 ]; then lb=$((lb + 1)); lu+=("$f"); elif [ -z "${isx[$f]+x}" ]; then ll+=("$f"); fi;; esac
    done
  fi
  # Process environments, read straight from /proc (no copy), and command lines: /proc/PID/cmdline
  # is readable by every local user (no hidepid on NixOS), so a value passed as an argument
  # (--password=…, a URL with credentials) is exposed whoever runs it. When every value searched is
  # searched in command lines too (cvals = vals), they go with the environments.
  if [ "${#cvals[@]}" -eq "${#vals[@]}" ]; then P=(/proc/[0-9]*/environ /proc/[0-9]*/cmdline); else P=(/proc/[0-9]*/environ); fi
  # One grep -l (in chunks) over the files, the logs and /proc; its hits, a subsequence of its
  # arguments, are told apart by position (a walk only when there is a hit).
  grepc pats "${F[@]}" "${ll[@]}" "${P[@]}"
  fh=(); lh=(); PH=()
  if [ "${#HITS[@]}" -gt 0 ]; then
    A=("${F[@]}" "${ll[@]}" "${P[@]}"); j=0
    for h in "${HITS[@]}"; do
      k=$j; while [ "$k" -lt "${#A[@]}" ] && [[ ${A[k]} != "$h" ]]; do k=$((k + 1)); done
      [ "$k" -lt "${#A[@]}" ] || continue
      if [ "$k" -lt "${#F[@]}" ]; then fh+=("$h"); elif [ "$k" -lt $((${#F[@]} + ${#ll[@]})) ]; then lh+=("$h"); else PH+=("$h"); fi
      j=$((k + 1))
    done
    unset A
  fi
  printf 'I files %s\n' "${#F[@]}"; unset F
  # World-readable files of 2 MiB or more were not searched: how many, and the first 20 by name
  # (a newline in a name shown as ?).
  big=(); [ -s "$S/big" ] && mapfile -d '' big < "$S/big"
  printf 'I big %s 2MiB\n' "${#big[@]}"
  for f in "${big[@]:0:20}"; do printf 'I big-file %s\n' "${f//[$'\n\r']/?}"; done; unset big
  # shellcheck disable=SC2094 # found only reads the file it names
  for f in "${fh[@]}"; do found file "$f" < "$f"; done
  if [ -d /var/log ]; then
    printf 'I logs %d %d %d %dM\n' "${#lg[@]}" "$lz" "$lb" "$LOG_CAP"
    for f in "${lu[@]:0:20}"; do echo "I log-unread $f"; done
    # shellcheck disable=SC2094 # found only reads the file it names
    for f in "${lh[@]}"; do found log "$f" < "$f"; done
  fi
  # Unit environments: read block by block by awk; output that is not systemctl show's (every block
  # starts with Id=, every line is KEY=VALUE) is reported (P), never taken for "no leak".
  if [ -d /run/systemd/system ]; then
    if [ "$urc" -ne 0 ]; then echo "P unit systemctl show -p Id,Environment exited $urc"
    elif [ -n "$FQ" ]; then awk -v K="$S/fk" -v V="$S/fv" "$UNIT_AWK" < <(printf '%s\n' "$U") & keyl > "$S/fk"; pats > "$S/fv"; wait "$!"
    else printf '%s\n' "$U" | awk -v K=<(keyl) -v V=<(pats) "$UNIT_AWK"; fi
  fi
  # Per process hit its comm and unit (cgroup), read with builtins.
  [ "${#cvals[@]}" -eq "${#vals[@]}" ] || [ "${#cvals[@]}" -eq 0 ] || { grepl cpats /proc/[0-9]*/cmdline; PH+=("${HITS[@]}"); }
  for e in "${PH[@]}"; do
    d=${e%/*}; p=${d#/proc/}; [ "$p" = "$$" ] && continue
    cm=''; { read -r cm < "$d/comm"; } 2>/dev/null
    u=-; while IFS= read -r g; do g=${g##*/}; case $g in *.service|*.scope) u=$g;; esac; done < "$d/cgroup" 2>/dev/null
    case $e in
      */environ) tr '\0' '\n' < "$e" 2>/dev/null | found environ "$p $u $cm";;
      *) tr '\0' '\n' < "$e" 2>/dev/null | cfound cmdline "$p $u $cm";;
    esac
  done
  # The journal, where systemd runs it: the newest $JOURNAL_LINES messages.
  p1=''; { read -r p1 < /proc/1/comm; } 2>/dev/null
  if [ "$p1" = systemd ] && command -v journalctl >/dev/null; then
    journalctl --no-pager -q -o cat -n "$JOURNAL_LINES" 2>/dev/null | found journal journal; jrc=${PIPESTATUS[0]}
    if [ "$jrc" -eq 0 ]; then echo "I journal searched $JOURNAL_LINES"; else echo "P journal journalctl -o cat exited $jrc"; fi
  else
    echo "I journal none ${p1:-?} $(command -v journalctl >/dev/null && echo journalctl || echo no-journalctl)"
  fi
  # Core dumps: systemd-coredump's, the kernel's core_pattern dir, and core files where a service's
  # working directory puts them. Each up to $CORE_CAP; compressed ones through their decompressor.
  cp=''; { read -r cp < /proc/sys/kernel/core_pattern; } 2>/dev/null
  cdirs=(/var/lib/systemd/coredump); case $cp in /*) cdirs+=("${cp%/*}");; esac
  # Sorted (sort -u) only when there are two or more: the common case costs one process.
  cores=(); for f in /core /core.[0-9]*; do [ -f "$f" ] && cores+=("$f"); done
  mapfile -t -O "${#cores[@]}" cores < <(find /root /tmp /var/tmp /var/lib "${cdirs[@]}" -maxdepth 2 -xdev -type f \( -name core -o -name 'core.[0-9]*' -o -path "${cdirs[0]}/core*" -o -path "${cdirs[1]:-${cdirs[0]}}/core*" \) 2>/dev/null)
  [ "${#cores[@]}" -lt 2 ] || mapfile -t -n 20 cores < <(printf '%s\n' "${cores[@]}" | sort -u)
  printf 'I cores %s %s\n' "${#cores[@]}" "$CORE_CAP"
  # shellcheck disable=SC2094 # found only reads the core it names
  for f in "${cores[@]}"; do
    case $f in *.zst) z='zstdcat';; *.lz4) z='lz4cat';; *.xz) z='xzcat';; *.gz) z='zcat';; *) z='';; esac
    if [ -n "$(find "$f" -prune -size +"$CORE_CAP" 2>/dev/null)" ]; then echo "P core $f is over $CORE_CAP, not searched"
    elif [ -z "$z" ]; then found core "$f" < "$f"
    elif command -v "$z" >/dev/null; then
      # 141: head stopped it at 1 GiB of decompressed data, which was searched.
      "$z" < "$f" 2>/dev/null | head -c "$((4 * 256 * 1024 * 1024))" | found core "$f"; zrc=${PIPESTATUS[0]}
      case $zrc in 0|141) ;; *) echo "P core $f could not be decompressed ($z exited $zrc)";; esac
    else echo "P core $f is compressed and the node has no $z"; fi
  done
fi

# htpasswd files: named so, or named by nginx's auth_basic_user_file (its path: the second blank-
# separated word of the match, quotes dropped). Sorted (sort -u) only when there are two or more;
# trimmed as `read` did. Per file its mode (one stat), {PLAIN} lines and non-empty lines (one awk).
bt=$' \t'; hb='auth_basic_user_file[[:space:]]+[^;]+'
mapfile -t hc < <(find "${roots[@]}" /etc/nginx /etc/static/nginx/ -name '*htpasswd*' 2>/dev/null)
mapfile -t hl < <(grep -rhoE "$hb" /etc/nginx /etc/static/nginx/ 2>/dev/null)
[ -s "$S/store" ] && mapfile -t -O "${#hl[@]}" hl < <(xargs -d '\n' -r grep -hoE "$hb" < "$S/store" 2>/dev/null)
for h in "${hl[@]}"; do case $h in *["$bt"]*) h=${h#*["$bt"]}; h=${h#"${h%%[!"$bt"]*}"}; h=${h%%["$bt"]*};; *) h='';; esac; hc+=("${h//[\"\']/}"); done
[ "${#hc[@]}" -lt 2 ] || mapfile -t hc < <(sort -u <(printf '%s\n' "${hc[@]}"))
hf=(); for h in "${hc[@]}"; do h=${h#"${h%%[!"$bt"]*}"}; h=${h%"${h##*[!"$bt"]}"}; [ -f "$h" ] && hf+=("$h"); done
if [ "${#hf[@]}" -gt 0 ]; then
  declare -A hm=(); while read -r m h; do hm[$h]=$m; done < <(stat -L -c '%a %n' -- "${hf[@]}" 2>/dev/null)
  # shellcheck disable=SC2016  # an awk program: its $0 is awk's, not the shell's
  mapfile -t hn < <(awk 'BEGIN { for (a = 1; a < ARGC; a++) { p = n = 0; while ((getline l < ARGV[a]) > 0) { if (index(l, "{PLAIN}")) p++; if (l != "") n++ } close(ARGV[a]); print p, n } }' "${hf[@]}")
  for i in "${!hf[@]}"; do printf 'H %s %s %s %s\n' "${hm[${hf[i]}]:-}" "${hn[i]%% *}" "${hn[i]#* }" "${hf[i]}"; done
fi

# Private keys and certificates where keys usually sit; a key whose public half matches a CA:TRUE
# certificate is a CA key. One openssl per key and per distinct certificate; the public keys (PEM,
# public) go to scratch and are fingerprinted together: sha256 of the base64 body of the
# SubjectPublicKeyInfo.
# One awk reads the candidates (find's list, at most 3000; %m is stat's %a): it writes the key files
# ("MODE PATH", kf) and, when there is a key and openssl, splits the certificates of files with 1 to
# 3 of them into c.N (their files in cmap): certificates only matter when there is a key to match;
# bundles (> 3 certs) are public trust stores. A c.N identical to an earlier c.M ("N M" in cdup:
# ACME's cert.pem, chain.pem, fullchain.pem and full.pem repeat two certificates) gets no openssl
# of its own: it prints c.M's result.
: > "$S/kf"; ossl=0; command -v openssl >/dev/null && ossl=1
# shellcheck disable=SC2016  # an awk program: its $0 is awk's, not the shell's
awk -v T="$S" -v O="$ossl" '{ if (NR > 3000) exit; m = $1; f = substr($0, length(m) + 2); key = 0; c = 0
    while ((getline l < f) > 0) { if (index(l, "PRIVATE KEY-----")) key = 1; if (index(l, "BEGIN CERTIFICATE")) c++ }
    close(f); if (key) { nk++; print m " " f > (T "/kf") } if (c >= 1 && c <= 3) cf[++ncf] = f }
  END { if (!nk || !O) exit; for (i = 1; i <= ncf; i++) { f = cf[i]; while ((getline l < f) > 0) { if (l ~ /BEGIN CERTIFICATE/) { n++; o = T "/c." n; b = ""; print f > (T "/cmap") } if (o != "") { print l > o; b = b l "\n" } if (l ~ /END CERTIFICATE/) { close(o); o = ""; if (b in seen) print n, seen[b] > (T "/cdup"); else seen[b] = n } } close(f) } }' < <(find "${keydirs[@]}" -maxdepth 5 -type f -size -256k -printf '%m %p\n' 2>/dev/null)
if [ "$ossl" = 1 ]; then
  n=0; while IFS= read -r f; do n=$((n + 1)); openssl pkey -in "${f#* }" -pubout > "$S/x.k.$n" 2>/dev/null; done < "$S/kf"
  declare -A cdup=(); [ -s "$S/cdup" ] && while read -r a b; do cdup[$a]=$b; done < "$S/cdup"
  m=0; [ -s "$S/cmap" ] && while IFS= read -r f; do m=$((m + 1)); [ -n "${cdup[$m]+x}" ] || openssl x509 -in "$S/c.$m" -noout -ext basicConstraints -pubkey > "$S/x.c.$m" 2>/dev/null; done < "$S/cmap"
  # Per x.* file (a few PEM lines, read by builtins) its CA flag and public key body (in p.*), then
  # one sha256sum over them.
  for x in "$S"/x.*; do
    [ -f "$x" ] || continue
    ca=0; b=''; on=0
    while IFS= read -r l || [ -n "$l" ]; do
      case $l in *CA:TRUE*) ca=1;; esac; case $l in *-----END*) on=0;; esac
      [ "$on" = 0 ] || b+=$l; case $l in *'-----BEGIN PUBLIC KEY'*) on=1;; esac
    done < "$x"
    p=${x/\/x./\/p.}; printf '%s' "$b" > "$p"; echo "$ca" > "$p.ca"
  done
  declare -A psha=()
  ps=(); for p in "$S"/p.*; do case $p in *.ca) ;; *) [ -s "$p" ] && ps+=("$p");; esac; done
  [ "${#ps[@]}" -eq 0 ] || while read -r h p; do psha[${p##*/}]=${h:0:16}; done < <(sha256sum -- "${ps[@]}" 2>/dev/null)
  n=0; while IFS= read -r f; do n=$((n + 1)); printf 'K %s %s %s\n' "${f%% *}" "${psha[p.k.$n]:--}" "${f#* }"; done < "$S/kf"
  m=0; [ -s "$S/cmap" ] && while IFS= read -r f; do m=$((m + 1)); c=${cdup[$m]:-$m}; ca=0; [ -f "$S/p.c.$c.ca" ] && read -r ca < "$S/p.c.$c.ca"; printf 'C %s %s %s\n' "$ca" "${psha[p.c.$c]:--}" "$f"; done < "$S/cmap"
else
  while IFS= read -r f; do printf 'K %s - %s\n' "${f%% *}" "${f#* }"; done < "$S/kf"
  echo "O no-openssl"
fi
echo END
