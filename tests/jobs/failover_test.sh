#!/usr/bin/env bash
# Scheduler failover in the same `mpirun --enable-recovery` (docs/design.md, "Scheduler failover"): the scheduler
# rank is killed (alone, with a worker, in the middle of a checkpoint write) or frozen past the timeout; the
# survivors elect a new scheduler, which goes on from the last checkpoint plus what the workers hold. Every case
# checks: the same mpirun ends with exit 0, and the result is bitwise the uninterrupted one. The synthetic job's
# result is an order-sensitive hash plus a count of the partitions folded, so a partition committed twice (or
# never) changes it. Usage: failover_test.sh CASE PATH/TO/partita
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-failover.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -40 "$work/log"; exit 1; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }
job=(run synthetic --param partitions=1000 --param median_us=2000 --param sigma=0.5 --quiet --no-speculate)
fast=(--timeout 2 --heartbeat 0.25)

reference() {
  $mpirun -n 2 "$partita" "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference exited $?"
  ref=$(field "$work/ref.json" "d['result']")
}
# Runs the job under --enable-recovery at 4 ranks with rank 0 as the scheduler; extra flags follow. Bounded.
recover() {
  rm -f "$work/s.json"
  timeout 150 $mpirun --enable-recovery -x PARTITA_CRASH_AT -x PARTITA_STALL_AT -n 4 "$partita" "${job[@]}" "${fast[@]}" \
    --scheduler-rank 0 --failure-history "$work/history" --summary-json "$work/s.json" "$@" > "$work/log" 2>&1
}
# The run ended in this mpirun with exit 0, one result, the reference's, after one failover to rank $1.
check_recovered() {
  local rc=$1 new=$2
  [ "$rc" -eq 0 ] || fail "exit code $rc (124: hung)"
  grep -q "attempt" "$work/log" && fail "a relaunch happened"
  [ -f "$work/s.json" ] || fail "no summary"
  got=$(field "$work/s.json" "d['result']")
  [ "$got" = "$ref" ] || fail "result '$got' differs from the uninterrupted '$ref'"
  [ "$(field "$work/s.json" "d['failovers'][0]['new_scheduler']")" = "$new" ] || fail "rank $new did not take over"
  [ "$(field "$work/s.json" "d['scheduler_rank']")" = "$new" ] || fail "the summary is not rank $new's"
  grep -Eq "# rank 0 of job 'synthetic' lost" "$work/history" || fail "the lost scheduler is not in the failure history"
}
export PARTITA_CRASH_AT= PARTITA_STALL_AT=
# The pid of rank $1 of the job started in the background as process $2 (a descendant whose environment says
# OMPI_COMM_WORLD_RANK=$1), waiting up to 15 s for it.
source "$(dirname "$0")/../support/rank_pid.sh"
wait_for() { for _ in $(seq 300); do grep -q "$1" "$work/log" && return 0; sleep 0.05; done; return 1; }

case $case_name in
scheduler_killed)
  # The scheduler is SIGKILLed after 500 results: with checkpoints (every 200 results), then without any.
  reference
  recover --inject kill:scheduler:after=500 --checkpoint-dir "$work/ck" --checkpoint-every 200; rc=$?
  check_recovered $rc 1
  [ -n "$(field "$work/s.json" "d['failovers'][0]['checkpoint']")" ] || fail "the new scheduler did not read the checkpoint"
  [ "$(field "$work/s.json" "d['failovers'][0]['from_checkpoint']")" -ge 200 ] || fail "nothing came from the checkpoint"
  grep -q "failover: rank 1 is the scheduler now (term 1)" "$work/log" || fail "no failover line"
  rm -rf "$work/ck" "$work/history"
  recover --inject kill:scheduler:after=500; rc=$?
  check_recovered $rc 1
  [ "$(field "$work/s.json" "d['failovers'][0]['from_workers']")" -gt 0 ] || fail "nothing came from the workers"
  # A tiny --failover-memory: workers drop their oldest results, which run again; the result is still exact.
  rm -f "$work/history"
  recover --inject kill:scheduler:after=500 --failover-memory 2000; rc=$?
  check_recovered $rc 1
  [ "$(field "$work/s.json" "d['failovers'][0]['dropped']")" -gt 0 ] || fail "no result was dropped"
  grep -q "exceed --failover-memory" "$work/log" || fail "the drop was not logged"
  ;;
scheduler_and_worker_killed)
  # The scheduler dies, and so does rank 1, the first candidate to replace it, right after: rank 2 takes over
  # once rank 1 failed to (one more timeout).
  reference
  PARTITA_CRASH_AT=scheduler.commit@0:400 recover --checkpoint-dir "$work/ck" --checkpoint-every 150 &
  pid=$!
  wait_for "crash point 'scheduler.commit' reached" || fail "the scheduler was not killed"
  victim=$(rank_pid 1 $pid) || fail "rank 1 not found"
  kill -KILL "$victim"
  wait $pid; rc=$?
  check_recovered $rc 2
  grep -q "rank 1 did not take over" "$work/log" || fail "rank 1 was not skipped"
  [ "$(field "$work/s.json" "[w['lost'] for w in d['workers']]")" = "[True, True, False, False]" ] \
    || fail "lost ranks: $(field "$work/s.json" "[w['lost'] for w in d['workers']]")"
  ;;
survivor_dead_at_takeover)
  # The scheduler dies, and so does rank 3 right after it, before anyone elects: rank 1 takes over and waits the
  # whole --timeout for rank 3's report. Rank 2, which reported at once, must go on following rank 1 meanwhile
  # (heartbeats during the wait): before, its own timeout ran out as the wait did, it elected itself and deposed
  # rank 1 (a second failover; on a partitioned node, the cut-off rank that had taken over then left without its
  # "minority side" line: minicluster_partition_worker).
  reference
  PARTITA_CRASH_AT=scheduler.commit@0:400 recover --checkpoint-dir "$work/ck" --checkpoint-every 150 &
  pid=$!
  victim=$(rank_pid 3 $pid) || fail "rank 3 not found"
  wait_for "crash point 'scheduler.commit' reached" || fail "the scheduler was not killed"
  kill -KILL "$victim"
  wait $pid; rc=$?
  check_recovered $rc 1
  grep -q "failover: 1 rank(s) did not report" "$work/log" || fail "rank 1 did not wait for rank 3's report"
  ! grep -q "lost contact with the scheduler (rank 1)" "$work/log" || fail "a rank lost rank 1 while it took over"
  ! grep -q "this rank was replaced" "$work/log" || fail "rank 1 was deposed"
  [ "$(field "$work/s.json" "len(d['failovers'])")" = 1 ] || fail "$(field "$work/s.json" "len(d['failovers'])") failovers"
  [ "$(field "$work/s.json" "[w['lost'] for w in d['workers']]")" = "[True, False, False, True]" ] \
    || fail "lost ranks: $(field "$work/s.json" "[w['lost'] for w in d['workers']]")"
  ;;
slow_read_at_takeover)
  # The scheduler dies; the new one (rank 1) takes 3 x --timeout to find and read the newest checkpoint (a stall
  # point inside the read). Ranks 2 and 3 reported and follow it: heartbeats must go on during the read, else their
  # timeout runs out, one elects itself and deposes rank 1 (a second failover).
  reference
  PARTITA_STALL_AT=failover.read_checkpoint@1=6 recover --inject kill:scheduler:after=500 --checkpoint-dir "$work/ck" \
    --checkpoint-every 200; rc=$?
  grep -q "stall point 'failover.read_checkpoint' reached" "$work/log" || fail "rank 1 did not stall in the read"
  check_recovered $rc 1
  [ -n "$(field "$work/s.json" "d['failovers'][0]['checkpoint']")" ] || fail "the new scheduler did not read the checkpoint"
  ! grep -q "lost contact with the scheduler (rank 1)" "$work/log" || fail "a rank lost rank 1 while it read"
  ! grep -q "this rank was replaced" "$work/log" || fail "rank 1 was deposed"
  [ "$(field "$work/s.json" "len(d['failovers'])")" = 1 ] || fail "$(field "$work/s.json" "len(d['failovers'])") failovers"
  ;;
killed_in_checkpoint)
  # The scheduler is killed at each crash point of its 2nd checkpoint write; the new scheduler goes on from the
  # newest checkpoint that verifies (the 1st, or the 2nd once renamed) plus what the workers still hold.
  reference
  for point in before_write after_tmp_close after_fsync after_rename after_dir_fsync after_latest after_prune; do
    rm -rf "$work/ck" "$work/history"
    PARTITA_CRASH_AT=ckpt.$point@0:2 recover --checkpoint-dir "$work/ck" --checkpoint-every 200 --keep 1; rc=$?
    grep -q "crash point 'ckpt.$point' reached" "$work/log" || fail "$point: the scheduler was not killed there"
    check_recovered $rc 1
    echo "ckpt.$point: recovered from $(field "$work/s.json" "d['failovers'][0]['checkpoint'].split('/')[-1]") +" \
      "$(field "$work/s.json" "d['failovers'][0]['from_workers']") results from the workers"
  done
  ;;
scheduler_frozen)
  # The scheduler is frozen (SIGSTOP) past the timeout, then resumed (SIGCONT) once rank 1 has taken over: it
  # must commit nothing more (no checkpoint, no second result) and leave the job; one result, the reference's.
  reference
  job=(run synthetic --param partitions=6000 --param median_us=4000 --param sigma=0.5 --quiet --no-speculate)
  reference
  recover --checkpoint-dir "$work/ck" --checkpoint-every 200 &
  pid=$!
  sched=$(rank_pid 0 $pid) || fail "rank 0 not found"
  wait_for "checkpoint .*synthetic.1.h5" || fail "no first checkpoint"
  kill -STOP "$sched"
  wait_for "failover: rank 1 is the scheduler now" || { kill -CONT "$sched"; fail "nobody took over"; }
  sleep 0.5
  kill -CONT "$sched"
  wait $pid; rc=$?
  check_recovered $rc 1
  grep -q "rank 0@.*this rank was replaced" "$work/log" || fail "the resumed scheduler did not step down"
  after=$(sed -n '/rank 0@.*stalled/,$p' "$work/log" | grep -c "rank 0@.*checkpoint " || true)
  [ "$after" -eq 0 ] || fail "the resumed scheduler wrote $after checkpoint(s)"
  ;;
no_failover)
  # --no-failover: a lost scheduler ends the run with a non-zero exit even under --enable-recovery.
  recover --inject kill:scheduler:after=300 --no-failover; rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "exit code $rc (0: a failure reported as success; 124: hung)"
  grep -q "lost contact with the scheduler (rank 0)" "$work/log" || fail "the workers did not give up"
  ;;
*) fail "unknown case" ;;
esac
grep -hE "failover:|did not take over|was replaced|was stalled" "$work/log" | cut -c1-300
echo "PASS [$case_name]"
