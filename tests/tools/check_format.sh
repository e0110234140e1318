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
bad=0
for f in "${files[@]}"; do
  if ! "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "$f: not formatted (clang-format -i $f)"
    bad=$((bad + 1))
  fi
done
if (( bad > 0 )); then
  echo "check_format: $bad of ${#files[@]} files differ from .clang-format" >&2
  exit 1
fi
echo "check_format: OK (${#files[@]} files)"
