#!/usr/bin/env bash
# Fails (exit 1, naming each file) when a tracked C++ file is not formatted as .clang-format says, so formatting
# is never a review topic. Fix with: clang-format -i $(git ls-files '*.cpp' '*.hpp')
#   check_format.sh <repository root> <clang-format>
set -uo pipefail
root="${1:?usage: check_format.sh <repository root> <clang-format>}"
fmt="${2:?usage: check_format.sh <repository root> <clang-format>}"
cd "$root" || exit 2
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
(( ${#files[@]} > 0 )) || { echo "check_format: no C++ files found under $root (not a git checkout?)" >&2; exit 2; }
# Both cores, 40 files per clang-format: a violation is reported as "<file>:<line>:<col>: error: code should be
# clang-formatted"; any other failure (clang-format itself broken) counts as a failure too.
errors=$(printf '%s\0' "${files[@]}" | xargs -0 -P 2 -n 40 "$fmt" --dry-run --Werror 2>&1 >/dev/null)
status=$?
mapfile -t offenders < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: (error|warning): code should be clang-formatted' <<<"$errors" |
                         cut -d: -f1 | sort -u)
bad=${#offenders[@]}
for f in "${offenders[@]}"; do echo "$f: not formatted (clang-format -i $f)"; done
if (( status != 0 && bad == 0 )); then
  echo "check_format: $fmt failed (exit $status) without naming a file:" >&2
  echo "$errors" | head -20 >&2
  exit 2
fi
if (( bad > 0 )); then
  echo "check_format: $bad of ${#files[@]} files differ from .clang-format" >&2
  exit 1
fi
echo "check_format: OK (${#files[@]} files)"
