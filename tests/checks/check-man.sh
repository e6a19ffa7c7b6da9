#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man pages are clean roff: `groff -man -ww -z`, `man --warnings` at 80 and 120 columns,
# and `mandoc -T lint` (warnings and errors; its style notes are not checked) print nothing.
# groff and man exit 0 even when they warn, so any output fails the check.
# Usage: check-man.sh PAGE...
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: check-man.sh PAGE..." >&2; exit 2; }
for tool in groff man mandoc; do
  command -v "$tool" >/dev/null || { echo "check-man.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
status=0
report() {
  if [[ -n $2 ]]; then
    printf '%s:\n%s\n' "$1" "$2" >&2
    status=1
  fi
}
for page in "$@"; do
  [[ -s $page ]] || { echo "$page: missing or empty" >&2; status=1; continue; }
  report "groff -man -ww -z $page" "$(groff -man -ww -z "$page" 2>&1)"
  for width in 80 120; do
    report "man --warnings -l $page (MANWIDTH=$width)" \
      "$(MANWIDTH=$width MAN_KEEP_FORMATTING=0 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)"
  done
  report "mandoc -T lint -W warning $page" "$(mandoc -T lint -W warning "$page" 2>&1)"
done
[[ $status -eq 0 ]] && echo "man pages: $# clean ($*)"
exit $status
