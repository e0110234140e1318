#!/usr/bin/env bash
# Two-level scheduling end to end (docs/design.md, "Two-level scheduling"): several simulated nodes on one machine
# (--ranks-per-node), real mpirun, real SIGKILLs. Every case compares the job's result with a one-level run's.
# Usage: two_level_test.sh CASE PATH/TO/partita; PARTITA_MPIRUN holds the mpirun command with its flags.
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-2l.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
result() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1"; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }
run_np() { local np=$1; shift; timeout 120 $mpirun -n "$np" "$partita" "$@"; }

case $case_name in
same_result)
  # Bitwise the one-level result at 4, 6 and 9 ranks on 2-3 simulated nodes, for several policies; an integer
  # checksum (synthetic) and a floating-point sum (pi, folded in partition-id order by the root).
  syn=(run synthetic --param partitions=600 --param median_us=50 --param dist=bimodal --quiet)
  pi=(run pi --param samples=100000 --param partitions=45 --quiet)
  run_np 3 "${syn[@]}" --scheduler-levels 1 --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  run_np 3 "${pi[@]}" --scheduler-levels 1 --summary-json "$work/pref.json" > "$work/log" 2>&1 || fail "pi reference exited $?"
  ref=$(result "$work/ref.json"); pref=$(result "$work/pref.json")
  for layout in "4 2" "6 3" "9 3"; do
    set -- $layout; np=$1; k=$2
    for policy in static dynamic guided adaptive cost; do
      run_np "$np" "${syn[@]}" --policy $policy --scheduler-levels 2 --ranks-per-node "$k" --summary-json "$work/s.json" \
        > "$work/log" 2>&1 || fail "np=$np k=$k policy=$policy exited $?"
      [ "$(result "$work/s.json")" = "$ref" ] || fail "np=$np k=$k policy=$policy gave '$(result "$work/s.json")', expected '$ref'"
      python3 - "$work/s.json" "$np" <<'PY' || fail "np=$np policy=$policy: summary rows"
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
rows = s["workers"]
assert [w["rank"] for w in rows] == list(range(n)), rows
assert not any(w["lost"] for w in rows), rows
# every rank ran partitions and is counted on its own row (not folded into its node scheduler's). "executed", not
# "partitions" (the results that counted): under load a slow rank can lose every one of its results to speculative
# copies at the tail (seen 2026-12-07: rank 1 executed 34, all 34 won by copies on ranks 0, 2 and 6)
assert all(w["executed"] > 0 for w in rows if w["threads"] > 0), rows
assert sum(w["partitions"] for w in rows) >= 600, rows
PY
    done
    run_np "$np" "${pi[@]}" --scheduler-levels 2 --ranks-per-node "$k" --summary-json "$work/p.json" > "$work/log" 2>&1 \
      || fail "pi np=$np exited $?"
    [ "$(result "$work/p.json")" = "$pref" ] || fail "pi np=$np k=$k gave '$(result "$work/p.json")', expected '$pref'"
  done
  # The topology is logged once, by the root.
  run_np 4 "${syn[@]}" --quiet=false --scheduler-levels 2 --ranks-per-node 2 --scheduler-rank 0 > "$work/log" 2>&1 \
    || fail "logged run exited $?"
  [ "$(grep -c "two-level scheduling: 1 node scheduler(s) between the root (rank 0) and 4 ranks" "$work/log")" -eq 1 ] \
    || fail "topology not logged once" ;;
node_scheduler_killed)
  # Ranks 0-2 and 3-5 are two nodes; rank 3 is the second node's scheduler and is SIGKILLed after 60 partitions.
  # The root re-queues what the node held; ranks 4 and 5 turn to the root; the result is exact, in the same mpirun.
  args=(run synthetic --param partitions=1500 --param median_us=400 --quiet --scheduler-rank 0)
  run_np 3 "${args[@]}" --scheduler-levels 1 --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  timeout 150 $mpirun --enable-recovery -n 6 "$partita" "${args[@]}" --scheduler-levels 2 --ranks-per-node 3 \
    --inject kill:rank=3:after=60 --timeout 3 --heartbeat 0.5 --failure-history "$work/history" \
    --summary-json "$work/s.json" > "$work/log" 2>&1; rc=$?
  ended=$(date +%s.%N)
  [ $rc -eq 0 ] || fail "exit code $rc (124: hung)"
  grep -q "worker rank 3 silent for 3 s: declared lost" "$work/log" || fail "the root did not declare the node scheduler lost"
  # The ranks leave soon after the root wrote the summary: none waits for its sends to the dead node scheduler
  # to complete (the last flush gives up after 10 s).
  python3 -c "import os,sys;sys.exit(float(sys.argv[2]) - os.path.getmtime(sys.argv[1]) > 5)" "$work/s.json" "$ended" \
    || fail "mpirun exited $(python3 -c "import os,sys;print(round(float(sys.argv[2]) - os.path.getmtime(sys.argv[1]), 1))" \
                              "$work/s.json" "$ended") s after the summary was written"
  for r in 4 5; do
    grep -q "rank $r turns to the scheduler (rank 0)" "$work/log" || fail "rank $r did not turn to the root"
  done
  grep -q "rank 3 of job 'synthetic' lost" "$work/history" || fail "the loss is not in the failure history"
  python3 - "$work/ref.json" "$work/s.json" <<'PY' || fail "results differ or the loss is not in the summary"
import json, sys
ref, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["result"] == ref["result"], (got["result"], ref["result"])
assert [w["lost"] for w in got["workers"]] == [False, False, False, True, False, False], got["workers"]
# ranks 4 and 5 outlived their node scheduler and reported their own figures to the root
assert got["workers"][4]["busy_seconds"] > 0 and got["workers"][5]["busy_seconds"] > 0, got["workers"]
PY
  ;;
member_killed)
  # Rank 4 (served by node scheduler 3) is SIGKILLed: its node scheduler re-queues its chunks into the node's pool
  # and records the loss; the root never notices, and the result is exact.
  args=(run synthetic --param partitions=1500 --param median_us=400 --quiet --scheduler-rank 0)
  run_np 3 "${args[@]}" --scheduler-levels 1 --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  timeout 150 $mpirun --enable-recovery -n 6 "$partita" "${args[@]}" --scheduler-levels 2 --ranks-per-node 3 \
    --inject kill:rank=4:after=60 --timeout 3 --heartbeat 0.5 --failure-history "$work/history" \
    --summary-json "$work/s.json" > "$work/log" 2>&1; rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc (124: hung)"
  grep -q "node scheduler rank 3: rank 4 silent for 3 s: declared lost" "$work/log" || fail "the node scheduler did not declare rank 4 lost"
  grep -q "rank 4 of job 'synthetic' lost" "$work/history" || fail "the loss is not in the failure history"
  python3 - "$work/ref.json" "$work/s.json" <<'PY' || fail "results differ or the loss is not in the summary"
import json, sys
ref, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["result"] == ref["result"], (got["result"], ref["result"])
assert [w["lost"] for w in got["workers"]] == [False, False, False, False, True, False], got["workers"]
PY
  ;;
restart_across_levels)
  # A checkpoint written by a two-level run restarts at one level and other rank counts, and the other way round.
  job=(run synthetic --param partitions=2000 --param median_us=300 --param dist=lognormal --param sigma=1.0 --quiet)
  run_np 2 "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  ref=$(result "$work/ref.json")
  for way in "2 4 1 3" "1 3 2 6"; do
    set -- $way; from=$1; np1=$2; to=$3; np2=$4
    ck=$work/ck-$from; mkdir -p "$ck"
    PARTITA_CRASH_AT="ckpt.after_latest:2" timeout 120 $mpirun -n "$np1" "$partita" "${job[@]}" --scheduler-rank 0 \
      --scheduler-levels "$from" --ranks-per-node 2 --checkpoint-dir "$ck" --checkpoint-every 300 > "$work/log" 2>&1; rc=$?
    [ $rc -ne 0 ] || fail "levels $from: the scheduler was not killed"
    grep -q "crash point 'ckpt.after_latest' reached" "$work/log" || fail "levels $from: no crash after the second checkpoint"
    run_np "$np2" "${job[@]}" --scheduler-levels "$to" --ranks-per-node 3 --checkpoint-dir "$ck" --restart auto \
      --summary-json "$work/re.json" > "$work/log" 2>&1 || fail "restart $from -> $to levels exited $?"
    [ "$(result "$work/re.json")" = "$ref" ] || fail "restart $from -> $to levels gave '$(result "$work/re.json")', expected '$ref'"
    [ "$(field "$work/re.json" "d['checkpoints']['restored_done']")" -ge 300 ] || fail "restart $from -> $to: not from a checkpoint"
  done ;;
speculation_slow_member)
  # Rank 4 (behind node scheduler 3) runs 8x slower. Speculation stays at the root: copies of its overdue
  # partitions go to the other node (ranks 0-2), never back to its own; the result is bitwise unchanged.
  args=(run synthetic --param partitions=200 --param median_us=20000 --param dist=uniform --threads 2
        --scheduler-rank 0 --quiet)
  run_np 6 "${args[@]}" --scheduler-levels 1 --no-speculate --summary-json "$work/ref.json" > "$work/log" 2>&1 \
    || fail "reference exited $?"
  run_np 6 "${args[@]}" --scheduler-levels 2 --ranks-per-node 3 --param slow_rank=4 --param slow_factor=8 --speculate \
    --summary-json "$work/on.json" > "$work/log" 2>&1 || fail "speculating run exited $?"
  python3 - "$work/ref.json" "$work/on.json" <<'PY' || fail "result or speculation counts"
import json, sys
ref, on = (json.load(open(f)) for f in sys.argv[1:])
assert on["result"] == ref["result"], (on["result"], ref["result"])
assert on["scheduler"]["levels"] == 2, on["scheduler"]
s = on["speculation"]
assert s["copies"] > 0 and 0 <= s["won"] <= s["copies"], s
assert sum(w["copies"] for w in on["workers"][:3]) == s["copies"], on["workers"]
PY
  ;;
take_back_slow_member)
  # Rank 4 (behind node scheduler 3) runs 8x slower, speculation off. Once the root and the node's pool are dry,
  # ranks 3 and 5 take back the back of what waits on rank 4 (it skips those): inside the node, since the root
  # takes back nothing from a node scheduler. The result is bitwise unchanged, and the job ends sooner than with
  # --no-take-back.
  args=(run synthetic --param partitions=200 --param median_us=20000 --param dist=uniform --threads 2
        --scheduler-rank 0 --no-speculate --quiet)
  run_np 6 "${args[@]}" --scheduler-levels 1 --summary-json "$work/ref.json" > "$work/log" 2>&1 \
    || fail "reference exited $?"
  for mode in take-back no-take-back; do
    run_np 6 "${args[@]}" --scheduler-levels 2 --ranks-per-node 3 --param slow_rank=4 --param slow_factor=8 \
      --"$mode" --summary-json "$work/$mode.json" > "$work/log" 2>&1 || fail "--$mode run exited $?"
  done
  python3 - "$work/ref.json" "$work/take-back.json" "$work/no-take-back.json" <<'PY' || fail "result or take-backs"
import json, sys
ref, on, off = (json.load(open(f)) for f in sys.argv[1:])
assert on["result"] == ref["result"] and off["result"] == ref["result"], (on["result"], off["result"], ref["result"])
taken = [w["taken_back"] for w in on["workers"]]
assert sum(taken[3:]) > 0 and taken[4] == 0, taken
assert all(w["taken_back"] == 0 for w in off["workers"]), off["workers"]
assert on["wall_seconds"] < 0.85 * off["wall_seconds"], (on["wall_seconds"], off["wall_seconds"])
print("take-back inside the node: %s partitions by ranks 3-5; wall %.2f s with, %.2f s without"
      % (taken[3:], on["wall_seconds"], off["wall_seconds"]))
PY
  ;;
kernel_failure)
  # A kernel throws on the second node (static: ids 150-299 go to node scheduler 3 and its ranks): the failure
  # goes up, the abort comes down through the node scheduler, every rank stops, and the error is printed once.
  timeout 120 $mpirun -n 6 "$partita" run synthetic --param partitions=300 --param median_us=100 --param fail_at=260 \
    --policy static --scheduler-rank 0 --scheduler-levels 2 --ranks-per-node 3 --quiet > "$work/out" 2>&1; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "exit code $rc (0: not failed, 124: hung)"
  n=$(grep -c "failed: the kernel threw on partition 260: synthetic failure injected at partition 260" "$work/out" || true)
  [ "$n" -eq 1 ] || fail "error printed $n times: $(cat "$work/out")" ;;
bad_levels)
  run_np 2 run pi --scheduler-levels 3 > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "exit code $rc, expected 2"
  [ "$(grep -c -- "--scheduler-levels" "$work/out")" -eq 1 ] || fail "error not printed once: $(cat "$work/out")"
  run_np 2 run pi --ranks-per-node 0 > "$work/out" 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "--ranks-per-node 0: exit code $rc, expected 2" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
