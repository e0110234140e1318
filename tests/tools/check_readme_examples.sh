#!/usr/bin/env bash
# Every `<!-- example: FILE -->` marker in README.md must be followed by a fenced code block whose text is
# exactly FILE, so the README's examples cannot drift from the examples that tests build and run.
# Usage: check_readme_examples.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
readme=$root/README.md
[ -f "$readme" ] || { echo "no README.md in $root"; exit 2; }
markers=$(grep -c '^<!-- example: .* -->$' "$readme")
[ "$markers" -gt 0 ] || { echo "README.md has no <!-- example: FILE --> marker"; exit 1; }
status=0
while IFS= read -r file; do
  block=$(awk -v marker="<!-- example: $file -->" '
    $0 == marker { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$readme")
  if [ ! -f "$root/$file" ]; then
    echo "README.md names $file, which does not exist"; status=1
  elif ! diff <(printf '%s\n' "$block") "$root/$file" > /tmp/readme-diff.$$ 2>&1; then
    echo "README.md's copy of $file differs from the file (paste the file after its marker):"
    cat /tmp/readme-diff.$$; status=1
  else
    lines=$(wc -l < "$root/$file")
    echo "README.md shows $file verbatim ($lines lines)"
  fi
  rm -f /tmp/readme-diff.$$
done < <(sed -n 's/^<!-- example: \(.*\) -->$/\1/p' "$readme")
exit $status
