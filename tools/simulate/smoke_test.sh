#!/usr/bin/env bash
# Smoke test of partita_simulate (ctest simulate_smoke): small runs of both topologies, a saturated scheduler,
# and a bad option. Each check can fail: a model that ignored the dispatcher, the calibration or the topology
# would break one of them.
set -euo pipefail
sim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "simulate_smoke: FAIL: $*"; exit 1; }
get() { grep "^$2=" "$1" | cut -d= -f2; }
# awk-based float check: check FILE 'expression over makespan_s lower_bound_s ...' message
check() {
  local file=$1 expr=$2 what=$3
  awk -F= -v e="$expr" '{ v[$1] = $2 } END {
      n = split("makespan_s lower_bound_s efficiency root_busy_fraction dispatches chunks partitions node_busy_fraction_max root_messages", k, " ")
      s = e; for (i = 1; i <= n; i++) gsub(k[i], v[k[i]] + 0, s)
      print s }' "$file" > "$tmp/expr"
  if ! awk "BEGIN { exit !($(cat "$tmp/expr")) }"; then cat "$file"; fail "$what ($expr)"; fi
}

common=(--threads 2 --ranks-per-node 8 --partitions-per-thread 20 --median-us 1000 --sigma 0.5)
"$sim" --ranks 64 --levels 1 "${common[@]}" > "$tmp/flat.txt"
check "$tmp/flat.txt" "makespan_s >= lower_bound_s" "flat: makespan below the lower bound"
check "$tmp/flat.txt" "efficiency > 0.5" "flat: 64 ranks of 1 ms partitions should keep the threads busy"
check "$tmp/flat.txt" "root_busy_fraction > 0 && root_busy_fraction < 1" "flat: root busy fraction out of (0, 1)"
check "$tmp/flat.txt" "dispatches > 64 && chunks >= dispatches" "flat: every rank needs at least one dispatch"
[[ $(get "$tmp/flat.txt" partitions) == 2560 ]] || fail "flat: 64 ranks x 2 threads x 20 should be 2560 partitions"

"$sim" --ranks 64 --levels 2 "${common[@]}" > "$tmp/two.txt"
check "$tmp/two.txt" "makespan_s >= lower_bound_s && efficiency > 0.5" "two levels: makespan out of range"
check "$tmp/two.txt" "node_busy_fraction_max > 0 && root_messages > 0" "two levels: node schedulers did not serve"
# The root talks to 8 node schedulers instead of 63 ranks: fewer messages.
flat_msgs=$(get "$tmp/flat.txt" root_messages)
two_msgs=$(get "$tmp/two.txt" root_messages)
(( two_msgs < flat_msgs )) || fail "two levels: root received $two_msgs messages, flat $flat_msgs; expected fewer"

# A scheduler that needs 1 ms per message saturates with 64 ranks of 1 ms partitions, one partition a chunk.
printf 'message_s=1e-3\n' > "$tmp/slow.txt"
"$sim" --ranks 64 --levels 1 --chunk 1 --policy dynamic --calibration "$tmp/slow.txt" "${common[@]}" > "$tmp/sat.txt"
check "$tmp/sat.txt" "root_busy_fraction > 0.9 && efficiency < 0.3" "a 1 ms-per-message scheduler should saturate"

# Bad input: one line naming the problem, exit code 2.
if "$sim" --ranks 4 --levels 3 > "$tmp/bad.txt" 2>&1; then fail "--levels 3 was accepted"; fi
grep -q -- "--levels must be 1 or 2" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; fail "no clear error for --levels 3"; }
echo "simulate_smoke: ok (flat $(get "$tmp/flat.txt" makespan_s) s, two levels $(get "$tmp/two.txt" makespan_s) s, saturated busy $(get "$tmp/sat.txt" root_busy_fraction))"
