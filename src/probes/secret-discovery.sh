#!/usr/bin/env bash
# Secrets the node's services use, found from their own configuration (prepended to secrets.sh,
# which calls discover): nginx's ssl_certificate_key / ssl_password_file (the running master's -c
# file and its includes), sshd's host keys (sshd -T, else the config, else /etc/ssh/ssh_host_*_key),
# ACME keys (/var/lib/acme), borg passphrase files (BORG_PASSCOMMAND='cat FILE') and key files of
# the borg-job-* wrappers and borgbackup-job-* units, units' EnvironmentFile and LoadCredential
# sources (systemctl show, where systemd runs), agenix (/run/agenix) and sops (/run/secrets)
# outputs, and files named like secrets that others can read (under the scan roots). Only paths
# are read here, never values. Each file is appended to files/formats (after
# the declared ones, which win) with who may read it: owners and groups of the service that uses it
# ("*": any owner; "-": no group). Prints nothing; secrets.sh prints the D and W lines.
# shellcheck disable=SC2154,SC2034 # files, formats, U, urc are the calling script's; it prints dkind …
declare -A seen=()
dkind=(); downers=(); dgroups=(); dfrom=()
ndecl=0
# Package managers' databases, pruned by every walk of the scan roots (here and the leak scan's in
# secrets.sh, which names those present in its evidence): NixOS has none; on a Debian tree they are
# most of the files. PKGDB_PRUNE is find's `\( -path D -o … \) -prune -o` for them.
PKGDB=(/var/lib/dpkg /var/lib/apt /var/lib/rpm)
PKGDB_PRUNE=('('); for d in "${PKGDB[@]}"; do PKGDB_PRUNE+=(-path "$d" -o); done; PKGDB_PRUNE[-1]=')'; PKGDB_PRUNE+=(-prune -o)

# secretname KEY: whether an env key names a secret (status 0), builtins only; the one rule for
# discovery (which env files are secret files) and secrets.sh (which values of such files are
# searched). The last secret word in the name (…PASS…, PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN,
# KEY, CREDENTIAL, plural or numbered) must end it, or be followed by a name part that is not a
# qualifier of a setting about the secret: JWT_SECRET, SECRET_KEY_BASE, OPENAI_API_KEY, REDIS_PASS
# are secrets; CACHE_KEY_PREFIX, PASSWORD_MIN_LENGTH, TOKEN_TTL_SECONDS, JWT_SECRET_FILE,
# BORG_PASSCOMMAND, KEYBOARD_LAYOUT are not. A name ending in AUTH (BASIC_AUTH) is one too.
SECRET_QUALIFIERS=' PREFIX SUFFIX LENGTH LEN MIN MAX TTL EXPIRY EXPIRES EXPIRE EXPIRATION LIFETIME AGE TIMEOUT ALGORITHM ALGORITHMS ALGO ALG HEADER NAME ID IDS ENABLED ENABLE DISABLED DISABLE REQUIRED COUNT SIZE BITS TYPE USER USERNAME POLICY ROTATION ROTATE DAYS HOURS MINUTES SECONDS SECS MS FILE FILES PATH DIR URL URI ENDPOINT COMMAND CMD VERSION FORMAT MODE LOCATION REGEX PATTERN COMPLEXITY STRENGTH RESET HISTORY RETRIES ATTEMPTS INTERVAL '
secretname() {
  local k=${1^^} r re='^(.*)(PASSWORD|PASSPHRASE|PASSWD|PASS|SECRET|TOKEN|KEY|CREDENTIAL)(.*)$'
  [[ $k =~ (^|_)AUTH$ ]] && return 0
  [[ $k =~ $re ]] || return 1
  r=${BASH_REMATCH[3]}
  case $r in S|S_*) r=${r#S};; esac
  re='^[0-9]*(_([A-Z0-9]*))?'
  [[ $r =~ $re ]] || return 1
  [ "${#BASH_REMATCH[0]}" -eq "${#r}" ] || [ "${r:${#BASH_REMATCH[0]}:1}" = _ ] || return 1
  case $SECRET_QUALIFIERS in *" ${BASH_REMATCH[2]:-.} "*) return 1;; esac
  return 0
}

# dadd KIND OWNERS GROUPS FORMAT FROM PATH: a regular file (symlinks followed), at most 200 found.
dadd() {
  local p=$6 i
  case $p in /*) ;; *) return 0;; esac
  [ -f "$p" ] || return 0
  if [ -n "${seen[$p]+x}" ]; then
    i=${seen[$p]}
    [ "$i" -lt "$ndecl" ] && return 0
    downers[i]+=",$2"; dgroups[i]+=",$3"
    case "; ${dfrom[i]}; " in *"; $5; "*) ;; *) dfrom[i]+="; $5";; esac
    return 0
  fi
  [ "${#files[@]}" -lt $((ndecl + 200)) ] || return 0
  i=${#files[@]}; seen[$p]=$i
  files+=("$p"); formats+=("$4"); dkind[i]=$1; downers[i]=$2; dgroups[i]=$3; dfrom[i]=$5
}

# unq V: V without one pair of surrounding quotes, in REPLY (a builtin, no subshell).
unq() { REPLY=${1#[\"\']}; REPLY=${REPLY%[\"\']}; }

discover() {
  local i d c cl conf='' f k v ngu=nginx ngg=nginx b hk=0 line p lst=()
  ndecl=${#files[@]}
  for i in "${!files[@]}"; do seen[${files[i]}]=$i; done
  shopt -s nullglob

  # nginx: the running master's -c file (its title keeps the command line), else the default.
  for d in /proc/[0-9]*; do
    { read -r c < "$d/comm"; } 2>/dev/null || continue
    [ "$c" = nginx ] || continue
    { IFS= read -r -d '' cl < "$d/cmdline"; } 2>/dev/null
    case $cl in *'master process'*' -c '*) conf=${cl#*' -c '}; conf=${conf%% *}; break;; esac
  done
  [ -n "$conf" ] || conf=/etc/nginx/nginx.conf
  if [ -f "$conf" ]; then
    local ngfiles=("$conf") re='^[[:space:]]*include[[:space:]]+[^;]+' ifs=$' \t\n'
    # The include lines, read by builtins ([[ =~ ]] is the ERE grep -oE took; k and v split as read
    # split the match: the first word, then the rest without IFS blanks around it).
    while IFS= read -r line || [ -n "$line" ]; do
      [[ $line =~ $re ]] || continue
      v=${BASH_REMATCH[0]}; v=${v#"${v%%[!"$ifs"]*}"}; k=${v%%["$ifs"]*}; v=${v#"$k"}; v=${v#"${v%%[!"$ifs"]*}"}; v=${v%"${v##*[!"$ifs"]}"}
      unq "${v%;}"; v=$REPLY
      case $v in /*) ;; *) v=${conf%/*}/$v;; esac
      # shellcheck disable=SC2206 # an include is a glob: expanded here, as nginx does
      for f in $v; do [ -f "$f" ] && ngfiles+=("$f"); done
    done 2>/dev/null < "$conf"
    while read -r k v; do
      v=${v%;}
      case $k in
        user) ngu=${v%%[[:space:]]*}; ngg=${v#"$ngu"}; ngg=${ngg#"${ngg%%[![:space:]]*}"}; ngg=${ngg:-$ngu};;
        ssl_certificate_key|ssl_password_file) unq "$v"; v=$REPLY; case $v in *'$'*) ;; *) dadd nginx "root,$ngu" "$ngg" raw "nginx $k ($conf)" "$v";; esac;;
      esac
    done < <(grep -hoE '^[[:space:]]*(user|ssl_certificate_key|ssl_password_file)[[:space:]]+[^;]+;' "${ngfiles[@]}" 2>/dev/null)
  fi

  # sshd: the effective host keys (sshd -T lists defaults too: missing ones are skipped).
  for b in sshd /usr/sbin/sshd /run/current-system/sw/bin/sshd; do command -v "$b" >/dev/null && break; b=''; done
  if [ -n "$b" ]; then
    # Through a scratch file (public configuration): read takes a file in blocks, a pipe bytewise.
    "$b" -T > "$S/sshd-T" 2>/dev/null
    while read -r k v; do [ "$k" = hostkey ] && { hk=1; dadd sshd root - raw "sshd -T hostkey" "$v"; }; done < "$S/sshd-T"
  fi
  if [ "$hk" = 0 ]; then
    for f in /etc/ssh/ssh_host_*_key; do dadd sshd root - raw "/etc/ssh/ssh_host_*_key" "$f"; done
  fi

  # ACME (security.acme): certificate keys, the key+chain bundle, account keys.
  for f in /var/lib/acme/*/key.pem /var/lib/acme/*/full.pem; do dadd acme 'root,acme' "acme,$ngg" raw "ACME certificate key" "$f"; done
  # Lists are capped by mapfile -n (no head process): find then dies of SIGPIPE, as under head.
  if [ -d /var/lib/acme/.lego ]; then
    mapfile -t -n 100 lst < <(find /var/lib/acme/.lego -maxdepth 6 -type f -name '*.key' 2>/dev/null)
    for f in "${lst[@]}"; do dadd acme 'root,acme' acme raw "ACME account/lego key" "$f"; done
  fi

  # borg: BORG_PASSCOMMAND='cat FILE' and BORG_KEY_FILE in the job wrappers, unit files, unit environments.
  local bsrc=()
  for d in ${PATH//:/ } /run/current-system/sw/bin; do for f in "$d"/borg-job-*; do bsrc+=("$f"); done; done
  for f in /etc/systemd/system/borgbackup-job-*.service; do bsrc+=("$f"); done
  # One grep over the wrappers and, only when they name borg at all, the unit properties (a pipe).
  local bl=() be="BORG_PASSCOMMAND=[\"']?cat[[:space:]]+(--[[:space:]]+)?/[^\"'[:space:];]+|BORG_KEY_FILE=[\"']?/[^\"'[:space:];]+"
  case ${U:-} in
    *BORG_PASSCOMMAND=*|*BORG_KEY_FILE=*) mapfile -t bl < <(grep -hoE "$be" -- "${bsrc[@]}" - 2>/dev/null < <(printf '%s\n' "$U"));;
    *) [ "${#bsrc[@]}" -eq 0 ] || mapfile -t bl < <(grep -hoE "$be" -- "${bsrc[@]}" 2>/dev/null);;
  esac
  for line in "${bl[@]}"; do
    case $line in
      BORG_PASSCOMMAND=*) p=${line##*[[:space:]\"\']}; dadd borg root - raw "borg BORG_PASSCOMMAND" "$p";;
      BORG_KEY_FILE=*) unq "${line#*=}"; p=$REPLY; dadd borg root - raw "borg BORG_KEY_FILE" "$p";;
    esac
  done
  for f in /root/.config/borg/keys/*; do dadd borg root - raw "borg key file" "$f"; done

  # Units (systemd): EnvironmentFile and LoadCredential sources, readable by the unit's User/Group.
  if [ -n "${U:-}" ] && [ "${urc:-1}" -eq 0 ]; then
    while read -r k v c f; do
      [ "$k" = E ] && dadd environment-file "root,$v" "$c" env "${f%% *} EnvironmentFile" "${f#* }"
      [ "$k" = C ] && dadd credential root "$c" raw "${f%% *} LoadCredential" "${f#* }"
    done < <(awk '
      function flush(  j) { for (j = 1; j <= ne; j++) print "E", (u == "" ? "root" : u), (g == "" ? "-" : g), id " " ef[j]
        for (j = 1; j <= nc; j++) print "C", (u == "" ? "root" : u), (g == "" ? "-" : g), id " " lc[j]
        ne = nc = 0; id = u = g = "" }
      /^$/ { flush(); next }
      { i = index($0, "="); k = substr($0, 1, i - 1); v = substr($0, i + 1) }
      k == "Id" { id = v } k == "User" { u = v } k == "Group" { g = v }
      k == "EnvironmentFiles" { sub(/ \(ignore_errors=(yes|no)\)$/, "", v); if (v ~ /^\//) ef[++ne] = v }
      k ~ /^LoadCredential(Encrypted)?$/ { n = split(v, a, " "); for (j = 1; j <= n; j++) if (index(a[j], ":/")) lc[++nc] = substr(a[j], index(a[j], ":/") + 1) }
      END { flush() }' < <(printf '%s\n' "$U"))
  fi

  # agenix / sops-nix outputs (their generation dirs are behind these links).
  for d in /run/agenix /run/secrets /run/secrets-for-users; do
    [ -d "$d" ] || continue
    case $d in /run/agenix) k=agenix;; *) k=sops;; esac
    mapfile -t -n 100 lst < <(find -L "$d" -maxdepth 4 -type f 2>/dev/null)
    for f in "${lst[@]}"; do dadd "$k" '*' - raw "$k output" "$f"; done
  done

  # Secrets deployed by hand next to the declared ones, under the scan roots, that others can read
  # (the others are no exposure) in directories others can enter (package databases skipped): files
  # named like secrets (*secret*, *passphrase*, *credential*, .env, in a *secret(s)/ dir
  # or /run/keys) and env files (*.env) with a key that names a secret (…PASS…, …SECRET…, …TOKEN…,
  # …KEY…, …CREDENTIAL…: read by grep -l, no value printed). Config env files are not secrets.
  local named=() envs=()
  # The same walk lists, in $S/ww, the world-readable files the leak scan searches (secrets.sh), and
  # in $S/big (NUL-separated) those of 2 MiB or more it does not: one find over the roots, not two. /etc/pam.d and /etc/ssl/certs are skipped for names only.
  mapfile -t lst < <(find "${roots[@]}" -xdev "${PKGDB_PRUNE[@]}" \( -type d ! -perm -0001 "${notroot[@]}" -prune \) -o -type f \( \( -perm -0004 \( -size -2097152c -fprint "$S/ww" -o -fprint0 "$S/big" \) \) , \( ! -path '/etc/pam.d/*' ! -path '/etc/ssl/certs/*' -perm /0007 \( -name "*.env" -o -name .env -o -iname "*secret*" -o -ipath "*secrets/*" -o -ipath "*secret/*" -o -path "/run/keys/*" -o -iname "*passphrase*" -o -iname "*credential*" \) -print \) \) 2>/dev/null)
  for f in "${lst[@]:0:100}"; do
    [ -z "${seen[$f]+x}" ] || continue
    case ${f##*/} in
      .env) named+=("$f");;
      *.env) case ${f,,} in *secret*|*passphrase*|*credential*|*/run/keys/*) named+=("$f");; *) envs+=("$f");; esac;;
      *) named+=("$f");;
    esac
  done
  if [ "${#envs[@]}" -gt 0 ]; then
    # The keys (never the values: -o stops at the =) that hold a secret word, after their file's
    # name and a NUL (-Z: any name), judged by secretname; one grep for all the files.
    local -A hit=()
    while IFS= read -r -d '' f && IFS= read -r k; do
      [ -z "${hit[$f]+x}" ] || continue
      k=${k%=}; k=${k##*[[:space:]]}
      secretname "$k" && { hit[$f]=1; named+=("$f"); }
    done < <(grep -HoiZE '^[[:space:]]*(export[[:space:]]+)?[a-z0-9_]*(pass|secret|token|key|credential|auth)[a-z0-9_]*=' -- "${envs[@]}" 2>/dev/null)
  fi
  for f in "${named[@]}"; do
    case ${f##*/} in *.env) k='env';; *) k='raw';; esac
    dadd named "*" "*" "$k" "file named like a secret, with bits for others" "$f"
  done
  shopt -u nullglob
}
