#!/usr/bin/env bash
# The backup probe's read-only round trips (src/probes/backup.ts), one exec each, run after the
# scratch prelude of src/probes/scratch.ts (scratchSh: sweep, $S made in RAM, traps that remove it).
# Every borg call goes through the job wrapper (it carries BORG_REPO and the passphrase command),
# with stdin from /dev/null (a missing passphrase fails at once) under `timeout -k 5` (a hung borg or
# a held lock is an error, never a hung run).
#   $1  mode: list | contents | restore
#   $2  the job wrapper (borg-job-NAME)     $3  seconds for each borg call
#   $4  borg's environment (BORG_ENV in borg.ts: NAME=VALUE words)
#   list:     $5 section marker, $6 the job's service unit, $7 canary archive prefix (- : do not read
#             the newest archive here), $8-$11 as contents' $7-$10, $12.. the units to show
#   contents: $5 section marker, $6 archive, $7 1 when the archive's command line is wanted,
#             $8 the listing format, $9 the expected roots (joined by the two characters \n: awk -v
#             turns them back into newlines), $10 the listing filter's awk program (borg.ts)
#   restore:  $5 archive, $6 run id, $7.. the archived paths to restore (no leading /)
# shellcheck disable=SC2154 # $S is made by the scratch prelude this file is appended to
# uses: sections.sh (defines section(), which reads $mark)
mode=$1 wrapper=$2 secs=$3
# NAME=VALUE words without spaces or glob characters: split on purpose.
# shellcheck disable=SC2206
benv=($4)
shift 4
E="$S/err"

borg_() { env "${benv[@]}" timeout -k 5 "$secs" "$wrapper" "$@" </dev/null; }
# A whole file, read by the shell (no cat: the node pays for every process).
slurp() { local t=''; [ -r "$1" ] || return 1; IFS= read -r -d '' t < "$1"; printf '%s' "$t"; }

# The newest archive of `borg list --json` (file $1) that is neither an interrupted `.failed` one
# nor a canary (prefix $2): newestArchive() in backup.ts, which checks the pick. borg prints one key
# per line, sorted (name before start); a name with an escape is not picked here.
# shellcheck disable=SC2016 # an awk program
NEWEST_AWK='/^        \{/ { n = "" } /^            "name": "/ { n = $0; sub(/^            "name": "/, "", n); sub(/",?$/, "", n) }
/^            "start": "/ { t = $0; sub(/^            "start": "/, "", t); sub(/",?$/, "", t)
  if (n == "" || n ~ /[\\"]/ || n ~ /\.failed$/ || index(n, P) == 1) next
  if (best == "" || t >= bt) { best = n; bt = t } }
END { if (best != "") print best }'

# Round trip 1: the job's state, the node's clock, PID 1, the units, the wrapper, the archive list,
# and (unless $3 is -) what the newest archive holds, as round trip 2 reads it.
list_mode() {
  mark=$1 unit=$2 canary=$3 c_info=$4 c_format=$5 c_roots=$6 c_awk=$7
  shift 7
  # Read-only borg commands still take the repository lock; a scheduled job starting meanwhile
  # would wait for it and may fail. While the job runs we leave the repository alone.
  J=$([ -d /run/systemd/system ] && systemctl is-active "$unit" 2>/dev/null)
  # Sections made of builtins run in this shell (bsection: no fork each); the clock is bash's own
  # printf %()T (one instant, no date process).
  bsection job-state echo "${J:-none}"
  clock() { printf '%(%s)T\n%(%z)T\n' -1 -1; }
  bsection clock clock
  bsection pid1 slurp /proc/1/comm
  units() {
    if [ -d /run/systemd/system ]; then
      systemctl show --no-pager -p Id,LoadState,ActiveState,Result,UnitFileState,LastTriggerUSec "$@"
    else
      echo "no systemd (PID 1 is $(cat /proc/1/comm))"
      return 3
    fi
  }
  section units units "$@"
  bsection wrapper command -v "$wrapper"
  list() {
    case "$J" in active|activating|deactivating|reloading) echo "job running: $J"; return 4;; esac
    borg_ list --json >"$S/list" 2>"$E"
    local rc=$?
    echo "$rc" >"$S/list.rc"
    slurp "$S/list"
    return $rc
  }
  section list list
  bsection list-err slurp "$E"
  local lrc=x pick
  { read -r lrc <"$S/list.rc"; } 2>/dev/null
  [ "$canary" != - ] && [ "$lrc" = 0 ] || return 0
  pick=$(awk -v P="$canary" "$NEWEST_AWK" "$S/list")
  [ -n "$pick" ] || return 0
  bsection picked echo "$pick"
  contents_mode "$mark" "$pick" "$c_info" "$c_format" "$c_roots" "$c_awk"
}

# Round trip 2: what the newest archive holds (listing through the awk filter: entries under each
# expected root and a sample of small files), and its command line when the paths are not given.
contents_mode() {
  # shellcheck disable=SC2034 # mark is read by section() (sections.sh)
  mark=$1 archive=$2 info=$3 format=$4 roots=$5 awkprog=$6
  if [ "$info" = 1 ]; then
    info_() { borg_ info --json "::$archive" 2>"$E"; local rc=$?; [ $rc = 0 ] || cat "$E"; return $rc; }
    section info info_
  fi
  # borg's exit code survives the pipe through a file; on failure its stderr follows the awk lines.
  contents() {
    { borg_ list --format "$format" "::$archive" 2>"$E"; echo $? >"$E.rc"; } | awk -v R="$roots" "$awkprog"
    local rc
    read -r rc < "$E.rc"
    [ "$rc" = 0 ] || { cat "$E"; return "$rc"; }
  }
  section contents contents
}

# Round trip 4: extract the sample into a fresh scratch dir (in RAM where the node has a tmpfs: a
# sampled secrets file must not land on disk; removed by the traps), then hash restored and live files.
restore_mode() {
  local archive=$1 d="$S/restore-$2" i=0 p l
  shift 2
  if ! mkdir "$d" || ! cd "$d"; then printf 'EXTRACT\t97\n'; exit 0; fi
  borg_ extract "::$archive" "$@" >&2
  printf 'EXTRACT\t%s\n' $?
  # One stat and one sha256sum for all the files (not a process per file), NUL-terminated so no
  # name is escaped: mtime of each live path that exists, sha256 of each regular file, live and
  # restored ("-" where there is none; empty, which the parser rejects, where hashing failed).
  local -A mt sum
  local live=() files=()
  for p in "$@"; do
    [ -e "/$p" ] && live+=("/$p")
    [ -f "/$p" ] && files+=("/$p")
    [ -f "$d/$p" ] && files+=("$d/$p")
  done
  if [ ${#live[@]} -gt 0 ]; then
    while IFS= read -r -d '' l; do mt[${l#*$'\t'}]=${l%%$'\t'*}; done < <(stat --printf '%Y\t%n\0' -- "${live[@]}")
  fi
  if [ ${#files[@]} -gt 0 ]; then
    while IFS= read -r -d '' l; do sum[${l:66}]=${l:0:64}; done < <(sha256sum -z -- "${files[@]}")
  fi
  local lh rh
  for p in "$@"; do
    lh=- rh=-
    [ -f "/$p" ] && lh=${sum[/$p]-}
    [ -f "$d/$p" ] && rh=${sum[$d/$p]-}
    printf 'FILE\t%s\t%s\t%s\t%s\n' "$i" "${mt[/$p]:--}" "$lh" "$rh"
    i=$((i + 1))
  done
}

case $mode in
  list) list_mode "$@" ;;
  contents) contents_mode "$@" ;;
  restore) restore_mode "$@" ;;
  *) echo "backup.sh: unknown mode $mode" >&2; exit 2 ;;
esac
