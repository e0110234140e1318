#!/usr/bin/env bash
# Iterative jobs through the partita CLI: real mpirun, real SIGKILLs (a rank at a step, the checkpoint crash points),
# a real SIGUSR1, restarts at other rank counts. Every fault case ends by comparing the restarted job's result
# (steps, reductions and a digest of every partition's final state) with an uninterrupted run's.
# Usage: iterative_cli_test.sh CASE PATH/TO/partita
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-iter.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
ck=$work/ck
source "$(dirname "$0")/../support/rank_pid.sh"
heat=(run heat --param blocks_x=4 --param blocks_y=4 --param block=24 --param steps=120 --param refine=6 --quiet --threads 1)
job=("${heat[@]}")
result() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1"; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }
reference() {
  $mpirun -n 1 "$partita" "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference run exited $?"
  ref=$(result "$work/ref.json")
  case "$ref" in *"state "*) ;; *) fail "the result has no state digest: $ref" ;; esac
}
restart_and_compare() {
  local np=$1; shift
  $mpirun -n "$np" "$partita" "${job[@]}" --checkpoint-dir "$ck" --restart auto --summary-json "$work/re.json" "$@" \
    > "$work/log" 2>&1 || fail "restart at $np ranks exited $?"
  got=$(result "$work/re.json")
  [ "$got" = "$ref" ] || fail "restarted result '$got' differs from the uninterrupted '$ref'"
  [ "$(field "$work/re.json" "d['checkpoints']['restored_from'] != ''")" = True ] || fail "did not restart from a checkpoint"
}
# Starts the job under mpirun --enable-recovery in the background (pid in $pid): $1 ranks, a checkpoint every $2 steps.
start_with_recovery() {
  $mpirun --enable-recovery -n "$1" "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every "$2" --timeout 3 \
    --heartbeat 0.5 --summary-json "$work/rb.json" > "$work/log" 2>&1 &
  pid=$!
}
first_checkpoint() { for _ in $(seq 300); do grep -q "heat.1.h5" "$work/log" 2>/dev/null && break; sleep 0.1; done; }
one_line() {  # exit code $1 expected, and exactly one line mentioning $2 on stderr/stdout
  local want=$1 pattern=$2 rc=$3
  [ "$rc" = "$want" ] || fail "exit code $rc, expected $want"
  [ "$(grep -c -- "$pattern" "$work/log")" = 1 ] || fail "expected one line with '$pattern'"
}

case $case_name in
list_models)
  "$partita" jobs > "$work/log" 2>&1 || fail "partita jobs exited $?"
  grep -Eq '^heat +iterative ' "$work/log" || fail "heat is not listed as iterative"
  grep -Eq '^pagerank +iterative ' "$work/log" || fail "pagerank is not listed as iterative"
  grep -Eq '^pi +map_reduce ' "$work/log" || fail "pi is not listed as map_reduce" ;;
same_any_ranks)
  reference
  for np in 2 3 4; do
    $mpirun -n $np "$partita" "${job[@]}" --rebalance-every 10 --summary-json "$work/n.json" > "$work/log" 2>&1 \
      || fail "run at $np ranks exited $?"
    [ "$(result "$work/n.json")" = "$ref" ] || fail "$np ranks: '$(result "$work/n.json")' differs from 1 rank: '$ref'"
    # At 2 ranks each owns blocks whose neighbours are all its own: they step while the other rank's halos travel.
    [ $np != 2 ] || [ "$(field "$work/n.json" "d['steps_overlapped'] > 0")" = True ] || fail "no step overlapped the halo wait at 2 ranks"
  done
  [ "$(field "$work/n.json" "d['migrations'] > 0")" = True ] || fail "no migration at 4 ranks with refined blocks"
  job=(run pagerank --param vertices=5000 --param blocks=9 --quiet --threads 1)
  reference
  $mpirun -n 3 "$partita" "${job[@]}" --summary-json "$work/n.json" > "$work/log" 2>&1 || fail "pagerank at 3 ranks exited $?"
  [ "$(result "$work/n.json")" = "$ref" ] || fail "pagerank at 3 ranks differs from 1 rank" ;;
rank_killed_restart)
  reference
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 20 --inject kill:rank=1:after=50 \
    > "$work/log" 2>&1 && fail "the job was not killed"
  ls "$ck"/heat.*.h5 > /dev/null 2>&1 || fail "no checkpoint before the kill"
  restart_and_compare 2 --inject kill:rank=1:after=50
  [ "$(field "$work/re.json" "0 < d['checkpoints']['restored_done'] <= 50")" = True ] || fail "restored at the wrong step" ;;
crash_*)
  reference
  point=${case_name#crash_}
  PARTITA_CRASH_AT="ckpt.$point:2" $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 20 \
    > "$work/log" 2>&1 && fail "the job was not killed (crash point ckpt.$point never reached?)"
  grep -q "crash point 'ckpt.$point' reached" "$work/log" || fail "no crash at ckpt.$point"
  restart_and_compare 4 ;;
sigusr1)
  job=(run heat --param blocks_x=4 --param blocks_y=4 --param block=128 --param steps=6000 --quiet --threads 1)
  reference
  $mpirun -n 2 "$partita" "${job[@]}" --checkpoint-dir "$ck" --summary-json "$work/stop.json" > "$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "elected\|chosen by" "$work/log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  kill -USR1 $pid
  wait $pid; rc=$?
  [ $rc = 75 ] || fail "expected exit 75 after SIGUSR1, got $rc"
  [ "$(field "$work/stop.json" "d['status']")" = checkpointed ] || fail "summary status is not checkpointed"
  restart_and_compare 3 ;;
walltime)
  # --walltime shorter than the job: the last checkpoint lands before it, exit 75; a restart finishes the job.
  job=(run heat --param blocks_x=4 --param blocks_y=4 --param block=128 --param steps=6000 --quiet --threads 1)
  reference
  $mpirun -n 2 "$partita" "${job[@]}" --checkpoint-dir "$ck" --walltime 1.5 --summary-json "$work/stop.json" \
    > "$work/log" 2>&1; rc=$?
  [ $rc = 75 ] || fail "expected exit 75 at the wall time, got $rc"
  [ "$(field "$work/stop.json" "d['status']")" = checkpointed ] || fail "summary status is not checkpointed"
  restart_and_compare 3 ;;
other_params)
  reference
  $mpirun -n 2 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 50 > "$work/log" 2>&1 || fail "run exited $?"
  file=$(ls "$ck"/heat.*.h5 | head -1)
  $mpirun -n 2 "$partita" "${job[@]}" --param steps=130 --restart "$file" > "$work/log" 2>&1; rc=$?
  one_line 1 "parameters" $rc
  # A map/reduce checkpoint given to an iterative job: one line, exit 1.
  $mpirun -n 1 "$partita" run pi --param samples=100000 --quiet --checkpoint-dir "$work/pi" --checkpoint-every 10 \
    > "$work/log" 2>&1 || fail "pi exited $?"
  $mpirun -n 2 "$partita" "${job[@]}" --restart "$(ls "$work"/pi/pi.*.h5 | head -1)" > "$work/log" 2>&1; rc=$?
  one_line 1 "error" $rc ;;
refused_options)
  $mpirun -n 2 "$partita" "${job[@]}" --policy static > "$work/log" 2>&1; rc=$?
  one_line 2 "applies to map/reduce jobs only" $rc
  $mpirun -n 2 "$partita" "${job[@]}" --chunk 4 > "$work/log" 2>&1; rc=$?
  one_line 2 "--chunk applies to map/reduce jobs only" $rc
  $mpirun -n 2 "$partita" "${job[@]}" --output-io page-cache > "$work/log" 2>&1; rc=$?
  one_line 2 "--output-io applies to map/reduce jobs" $rc
  $mpirun -n 2 "$partita" run heat --param blocks_x=0 > "$work/log" 2>&1; rc=$?
  one_line 2 "blocks_x" $rc ;;
output_and_h5dump)
  $mpirun -n 2 "$partita" "${job[@]}" --param output="$work/heat.pgm" --checkpoint-dir "$ck" --checkpoint-every 50 \
    > "$work/log" 2>&1 || fail "run exited $?"
  [ "$(head -c 2 "$work/heat.pgm")" = P5 ] || fail "no PGM image"
  file=$(ls "$ck"/heat.*.h5 | head -1)
  h5dump -H -d /partitions/3/u "$file" > "$work/dump" 2>&1 || fail "h5dump cannot read /partitions/3/u"
  grep -q 'H5T_IEEE_F64LE' "$work/dump" || fail "/partitions/3/u is not float64: $(cat "$work/dump")"
  "$partita" verify "$file" > "$work/log" 2>&1 || fail "verify failed: $(cat "$work/log")"
  "$partita" inspect "$file" > "$work/log" 2>&1 || fail "inspect failed"
  grep -q iterative "$work/log" || fail "inspect does not show the model" ;;
rollback_worker|rollback_coordinator|rollback_no_checkpoint)
  # Under mpirun --enable-recovery a lost rank does not end the run: the survivors agree on who is left, form a
  # communicator of their own and go on from the last checkpoint (or the start) in the same mpirun; exit 0 and the
  # uninterrupted run's result, bitwise (docs/design.md, "In-job rollback").
  reference
  case $case_name in
    rollback_worker) np=4; kill=(--inject kill:rank=2:after=50); lost=2; ck_args=(--checkpoint-dir "$ck" --checkpoint-every 20) ;;
    rollback_coordinator) np=3; kill=(--inject kill:scheduler:after=50); lost=0; ck_args=(--checkpoint-dir "$ck" --checkpoint-every 20) ;;
    rollback_no_checkpoint) np=3; kill=(--inject kill:rank=1:after=30); lost=1; ck_args=() ;;
  esac
  $mpirun --enable-recovery -n $np "$partita" "${job[@]}" "${ck_args[@]}" "${kill[@]}" --timeout 3 --heartbeat 0.5     --summary-json "$work/rb.json" > "$work/log" 2>&1 || fail "exited $? (the survivors should have finished the job)"
  grep -q "in-job rollback: rank(s) $lost lost" "$work/log" || fail "no rollback line naming rank $lost"
  got=$(result "$work/rb.json")
  [ "$got" = "$ref" ] || fail "after the rollback: '$got', uninterrupted: '$ref'"
  [ "$(field "$work/rb.json" "[r['lost_ranks'] for r in d['rollbacks']]")" = "[[$lost]]" ] || fail "summary: $(field "$work/rb.json" "d['rollbacks']")"
  [ "$(field "$work/rb.json" "d['rollbacks'][0]['ranks_after']")" = $((np - 1)) ] || fail "ranks after the rollback"
  if [ ${#ck_args[@]} -gt 0 ]; then
    [ "$(field "$work/rb.json" "0 < d['rollbacks'][0]['from_step'] <= 50 and d['rollbacks'][0]['checkpoint'] != ''")" = True ] \
      || fail "did not go on from a checkpoint: $(field "$work/rb.json" "d['rollbacks']")"
    grep -q "lost: silent" "$ck/failure-history" || fail "the failure history does not record the lost rank"
  else
    [ "$(field "$work/rb.json" "d['rollbacks'][0]['from_step']")" = 0 ] || fail "without checkpoints it goes on from the start"
  fi ;;
rollback_twice)
  # Two ranks killed at once, then, after the survivors went on, a third: two rollbacks in one run, the exact result,
  # and the lost ranks named as the launch numbers them (launch rank 4 is rank 2 of the 3 left after the first).
  job=(run heat --param blocks_x=4 --param blocks_y=4 --param block=96 --param steps=8000 --quiet --threads 1)
  reference
  # Kills land between checkpoints (every 2000 steps, seconds apart; each kill a moment after a commit): a rank
  # killed inside the collective checkpoint write ends the run instead (rollback_in_checkpoint).
  start_with_recovery 5 2000
  v1=$(rank_pid 1 $pid) && v3=$(rank_pid 3 $pid) && v4=$(rank_pid 4 $pid) || fail "ranks not found under the launcher"
  first_checkpoint
  sleep 0.3
  kill -9 "$v1" "$v3"
  for _ in $(seq 300); do grep -q "in-job rollback: rank" "$work/log" 2>/dev/null && break; sleep 0.1; done
  # The survivors are stepping again once they commit a checkpoint of their own.
  before=$(cat "$ck/LATEST" 2>/dev/null)
  for _ in $(seq 600); do [ "$(cat "$ck/LATEST" 2>/dev/null)" != "$before" ] && break; sleep 0.05; done
  sleep 0.3
  kill -9 "$v4" || fail "the job ended before the third kill"
  wait $pid; rc=$?
  [ $rc = 0 ] || fail "exited $rc (the survivors should have finished the job)"
  got=$(result "$work/rb.json")
  [ "$got" = "$ref" ] || fail "after two rollbacks: '$got', uninterrupted: '$ref'"
  [ "$(field "$work/rb.json" "[(r['lost_ranks'], r['ranks_after']) for r in d['rollbacks']]")" = "[([1, 3], 3), ([4], 2)]" ] \
    || fail "summary: $(field "$work/rb.json" "d['rollbacks']")"
  grep -q "in-job rollback: rank(s) 1, 3 lost" "$work/log" && grep -q "in-job rollback: rank(s) 4 lost" "$work/log" \
    || fail "the rollback lines do not name launch ranks 1, 3 and then 4"
  [ "$(grep -c "# rank [134] of job 'heat' lost" "$ck/failure-history")" = 3 ] || fail "failure history: $(cat "$ck/failure-history")" ;;
rollback_frozen)
  # A rank frozen (SIGSTOP) past the timeout is left behind; when it resumes it hears nobody, leaves the job quietly
  # (exit 0, no result of its own), and the others' result is the uninterrupted one.
  job=(run heat --param blocks_x=4 --param blocks_y=4 --param block=96 --param steps=30000 --quiet --threads 1)
  reference
  start_with_recovery 3 1000
  victim=$(rank_pid 2 $pid) || fail "rank 2 not found under the launcher"
  first_checkpoint
  kill -STOP "$victim"
  sleep 12
  kill -CONT "$victim"
  wait $pid; rc=$?
  [ $rc = 0 ] || fail "exited $rc"
  got=$(result "$work/rb.json")
  [ "$got" = "$ref" ] || fail "after the rollback: '$got', uninterrupted: '$ref'"
  grep -q "leaves the job" "$work/log" || fail "the frozen rank did not leave the job"
  [ "$(grep -c "^result" "$work/log")" -le 1 ] || fail "more than one result printed" ;;
rollback_in_checkpoint)
  # A rank killed inside a collective checkpoint write: MPI cannot take the survivors out of it. They must not hang:
  # the stall watchdog ends the run non-zero (the launcher relaunches it), and a restart gives the exact result.
  reference
  PARTITA_CRASH_AT="ckpt.after_tmp_close@1:2" $mpirun --enable-recovery -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" \
    --checkpoint-every 20 --timeout 2 --heartbeat 0.5 > "$work/log" 2>&1 && fail "exit 0 after a rank died inside a checkpoint"
  grep -q "crash point 'ckpt.after_tmp_close' reached" "$work/log" || fail "no crash in the checkpoint"
  grep -q "a peer died inside a collective operation" "$work/log" || fail "no line from the stall watchdog"
  # A write's own limit: two --timeout windows plus what its (small) size needs, not the loop's 3 x 2 + 10 s.
  stalled=$(sed -n 's/.*no progress for \([0-9]*\) s while writing a checkpoint.*/\1/p' "$work/log" | sort -n | tail -1)
  [ -n "$stalled" ] && [ "$stalled" -le 6 ] || fail "the watchdog waited ${stalled:-?} s in the write (--timeout 2)"
  restart_and_compare 2 ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
