#!/usr/bin/env bash
# Folding aligned id blocks end to end (docs/design.md, "Folding aligned id blocks"): the synthetic job's result,
# whose floating-point sum is not associative (its bits show the fold's shape), is bitwise the same at 1, 2, 3, 4
# and 9 ranks, at one and two levels, under every policy, and after a kill and a --restart auto at another rank
# count and level count; with two levels the root commits whole blocks that node schedulers folded.
# Usage: node_fold_test.sh CASE PATH/TO/partita; PARTITA_MPIRUN holds the mpirun command with its flags.
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-fold.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
result() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1"; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }
run_np() { local np=$1; shift; timeout 120 $mpirun -n "$np" "$partita" "$@"; }

# 600 partitions: blocks of 4 (the largest power of two whose fourth power is at most 600).
syn=(run synthetic --param partitions=600 --param median_us=50 --param dist=bimodal --scheduler-rank 0 --quiet)

# layout: ranks, then "1" (one level) or "2:K" (two levels, K ranks per node: node schedulers at 4 ranks (K=2: one)
# and 9 ranks (K=3: two)).
same_bits() {
  local policies=$1
  run_np 1 "${syn[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  ref=$(result "$work/ref.json")
  case $ref in *"over 600 partitions"*", sum "*) ;; *) fail "unexpected reference result '$ref'" ;; esac
  for layout in "2 1" "3 1" "4 1" "9 1" "4 2:2" "9 2:3"; do
    set -- $layout; np=$1; lv=${2%%:*}; k=${2#*:}
    levels=(--scheduler-levels "$lv")
    [ "$lv" = 2 ] && levels+=(--ranks-per-node "$k")
    for policy in $policies; do
      run_np "$np" "${syn[@]}" --policy "$policy" "${levels[@]}" --summary-json "$work/s.json" > "$work/log" 2>&1 \
        || fail "np=$np levels=$2 policy=$policy exited $?"
      got=$(result "$work/s.json")
      [ "$got" = "$ref" ] || fail "np=$np levels=$2 policy=$policy gave '$got', expected '$ref'"
      # Every partition is committed once: one by one, or in a block of 4.
      python3 - "$work/s.json" <<'PY' || fail "np=$np levels=$2 policy=$policy: scheduler counts"
import json, sys
s = json.load(open(sys.argv[1]))["scheduler"]
assert s["fold_block"] == 4, s
assert s["results_committed"] + 4 * s["blocks_committed"] >= 600, s
assert s["results_committed"] <= 600, s
PY
    done
  done
}

case $case_name in
same_bits_guided_factoring)
  same_bits "guided factoring" ;;
same_bits_adaptive_static)
  same_bits "adaptive static" ;;
same_bits_dynamic_cost)
  same_bits "dynamic cost" ;;
root_commits_blocks)
  # Two nodes of three ranks behind node schedulers, the root's own node of three: the node schedulers fold the
  # blocks handed to them whole, so the root commits far fewer items than partitions. One level: none.
  args=(run synthetic --param partitions=4000 --param median_us=100 --param dist=lognormal --param sigma=0.5
        --scheduler-rank 0 --quiet)
  run_np 9 "${args[@]}" --scheduler-levels 1 --summary-json "$work/flat.json" > "$work/log" 2>&1 || fail "flat exited $?"
  run_np 9 "${args[@]}" --scheduler-levels 2 --ranks-per-node 3 --summary-json "$work/two.json" > "$work/log" 2>&1 \
    || fail "two levels exited $?"
  [ "$(result "$work/two.json")" = "$(result "$work/flat.json")" ] || fail "results differ"
  python3 - "$work/flat.json" "$work/two.json" <<'PY' || fail "the root did not commit folded blocks"
import json, sys
flat, two = (json.load(open(f))["scheduler"] for f in sys.argv[1:3])
print("flat:", flat)
print("two levels:", two)
assert flat["fold_block"] == 4 and two["fold_block"] == 4
assert flat["blocks_committed"] == 0 and flat["results_committed"] == 4000, flat
assert two["blocks_committed"] > 0, two
items = two["results_committed"] + two["blocks_committed"]
assert two["results_committed"] + 4 * two["blocks_committed"] >= 4000, two
# The two node schedulers run 6 of the 9 threads: most of their partitions arrive as blocks.
assert items < 0.8 * 4000, (items, two)
# Node schedulers send their blocks in index order, and the root commits a run of consecutive ones as one range
# (never more commits than blocks; fewer once any message carried two consecutive blocks).
assert 0 < two["block_commits"] < two["blocks_committed"], two
PY
  ;;
restart_other_shape)
  # Killed after its second checkpoint at one shape (ranks, levels), restarted with --restart auto at another:
  # the uninterrupted result, bit for bit, from the checkpoint.
  job=(run synthetic --param partitions=2000 --param median_us=200 --param dist=lognormal --param sigma=1.0 --quiet)
  run_np 1 "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  ref=$(result "$work/ref.json")
  for way in "9 2:3 2 1" "3 1 9 2:3" "4 2:2 1 1"; do
    set -- $way; np1=$1; from=$2; np2=$3; to=$4
    ck=$work/ck-$np1; mkdir -p "$ck"
    lv1=(--scheduler-levels "${from%%:*}"); [ "${from%%:*}" = 2 ] && lv1+=(--ranks-per-node "${from#*:}")
    lv2=(--scheduler-levels "${to%%:*}"); [ "${to%%:*}" = 2 ] && lv2+=(--ranks-per-node "${to#*:}")
    PARTITA_CRASH_AT="ckpt.after_latest:2" timeout 120 $mpirun -n "$np1" "$partita" "${job[@]}" --scheduler-rank 0 \
      "${lv1[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 > "$work/log" 2>&1; rc=$?
    [ $rc -ne 0 ] || fail "$np1 ranks, levels $from: the scheduler was not killed"
    grep -q "crash point 'ckpt.after_latest' reached" "$work/log" || fail "$np1 ranks: no crash after the second checkpoint"
    run_np "$np2" "${job[@]}" "${lv2[@]}" --checkpoint-dir "$ck" --restart auto --summary-json "$work/re.json" \
      > "$work/log" 2>&1 || fail "restart $np1/$from -> $np2/$to exited $?"
    [ "$(result "$work/re.json")" = "$ref" ] || fail "restart $np1/$from -> $np2/$to gave '$(result "$work/re.json")', expected '$ref'"
    [ "$(field "$work/re.json" "d['checkpoints']['restored_done']")" -ge 300 ] || fail "restart $np1/$from -> $np2/$to: not from a checkpoint"
  done ;;
scheduler_killed)
  # The root of a two-level run is SIGKILLed at its 500th commit (a result or a folded block: --inject), then the
  # job restarts flat at 3 ranks from its last checkpoint: the uninterrupted result. Partitions of ~2 ms, so that
  # the 500 commits take many rounds of the root's loop and checkpoints (every 100) come before the kill (with
  # 0.2 ms partitions the first 500 results could arrive before any checkpoint: "not from a checkpoint").
  job=(run synthetic --param partitions=2000 --param median_us=2000 --param dist=uniform --quiet)
  run_np 1 "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  ck=$work/ck; mkdir -p "$ck"
  timeout 120 $mpirun -n 9 "$partita" "${job[@]}" --scheduler-rank 0 --scheduler-levels 2 --ranks-per-node 3 \
    --checkpoint-dir "$ck" --checkpoint-every 100 --inject kill:scheduler:after=500 > "$work/log" 2>&1; rc=$?
  [ $rc -ne 0 ] || fail "the root was not killed"
  grep -q "crash point 'scheduler.commit' reached" "$work/log" || fail "the root was not killed at a commit"
  run_np 3 "${job[@]}" --checkpoint-dir "$ck" --restart auto --summary-json "$work/re.json" > "$work/log" 2>&1 \
    || fail "restart exited $?"
  [ "$(result "$work/re.json")" = "$(result "$work/ref.json")" ] || fail "restart gave '$(result "$work/re.json")'"
  [ "$(field "$work/re.json" "d['checkpoints']['restored_done']")" -ge 100 ] || fail "not from a checkpoint" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
