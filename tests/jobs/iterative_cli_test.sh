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
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
