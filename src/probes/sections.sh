#!/usr/bin/env bash
# section NAME CMD...: the framing every batched probe script uses (src/probes/sections.ts splits it
# back). Prepended by probeScript() to scripts that say `# uses: sections.sh`; they set $mark first.
# CMD's stdout goes behind a "$mark NAME" line, then its exit code, then its stderr on its own, so a
# warning on stderr never corrupts what a parser reads.
# shellcheck disable=SC2154 # $mark is set by the script this is prepended to
section() {
  local name=$1 err rc
  shift
  echo "$mark $name"
  # stdout streams through fd 3; stderr is captured. CMD runs in the $( ) subshell, so an `exit`
  # in it ends only the section. The newline before the rc marker keeps it on its own line when
  # the output lacks a final newline (splitSections strips it again).
  { err=$( { "$@"; } 2>&1 1>&3 3>&-); rc=$?; } 3>&1
  printf '\n%s-rc %s %s\n' "$mark" "$name" "$rc"
  if [ -n "$err" ]; then printf '%s-stderr %s\n%s\n%s-stderr-end %s\n' "$mark" "$name" "$err" "$mark" "$name"; fi
}
# bsection NAME FUNC...: section() for a FUNC made of shell builtins only (a file read with `read`,
# printf): run in this shell with no $( ) subshell, since that fork costs the node more than the
# read itself. The framing is the same; FUNC's stderr goes to the script's stderr (not into the
# framed stdout). FUNC must not exit.
bsection() {
  local name=$1 rc
  shift
  echo "$mark $name"
  "$@"
  rc=$?
  printf '\n%s-rc %s %s\n' "$mark" "$name" "$rc"
}
# xsection NAME CMD...: section() for one external command: run straight from this shell (one fork,
# the command's own, not a $( ) subshell around it as well). Its stderr goes to the round trip's own
# stderr between marker lines, where splitSections() reads it (given the exec's stderr).
xsection() {
  local name=$1 rc
  shift
  echo "$mark $name"
  printf '%s-stderr %s\n' "$mark" "$name" >&2
  "$@"
  rc=$?
  printf '\n%s-rc %s %s\n' "$mark" "$name" "$rc"
  printf '\n%s-stderr-end %s\n' "$mark" "$name" >&2
}
# fsection NAME FILE: section() for a file's contents, read by the shell (no cat process: the node
# pays for every fork). Text up to a first NUL byte (proc and sysfs files, certificates). A file
# that cannot be opened gives rc 1 and cat's reason in the section's stderr.
fsection() {
  local name=$1 f=$2 t='' fd why='' rc=0
  echo "$mark $name"
  if [ -d "$f" ]; then why='Is a directory'
  elif { exec {fd}<"$f"; } 2>/dev/null; then
    IFS= read -r -d '' -u "$fd" t
    exec {fd}<&-
    printf '%s' "$t"
  elif [ -e "$f" ]; then why='Permission denied'
  else why='No such file or directory'; fi
  [ -z "$why" ] || rc=1
  printf '\n%s-rc %s %s\n' "$mark" "$name" "$rc"
  if [ -n "$why" ]; then printf '%s-stderr %s\n%s: %s\n%s-stderr-end %s\n' "$mark" "$name" "$f" "$why" "$mark" "$name"; fi
}
# sysctl_lines KEY...: "KEY<TAB>VALUE" per kernel parameter as /proc/sys has it in this network
# namespace (named first: "#netns net:[INODE]"), whitespace runs as one space, "!missing" where
# there is none; read by the shell, no process per parameter (hardening.sh, tuning.sh).
sysctl_lines() {
  local k p v
  echo "#netns $(readlink /proc/self/ns/net)"
  for k in "$@"; do
    p=/proc/sys/${k//.//}
    if [ -r "$p" ] && [ -f "$p" ]; then
      # read -d '' stops at the end of the file (its status 1 there is expected).
      v=''; IFS= read -r -d '' v < "$p"
      v=${v%$'\n'} v=${v//$'\t'/ }
      while [[ $v == *'  '* ]]; do v=${v//  / }; done
      printf '%s\t%s\n' "$k" "$v"
    else printf '%s\t!missing\n' "$k"; fi
  done
}
