#!/usr/bin/env bash
# Iterative output through the partita CLI (docs/design.md, "Iterative output"): --output FILE written by every rank
# collectively when the job completes, read back with h5py (an independent reader) and compared bit for bit with a
# serial computation made here (tests/jobs/heat_field.py); at 1-4 ranks, after a kill and a restart at another rank
# count, after a crash while the output is written; a stopped run leaves no FILE; another job's FILE is refused;
# heat from an HDF5 initial field; bad initial fields; a changed input on restart; the cap on the final gather.
# Usage: iterative_output_test.sh CASE PATH/TO/partita
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
python=/usr/bin/python3
field="$python $(dirname "$0")/heat_field.py"
work=$(mktemp -d /tmp/partita-iterout.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
ck=$work/ck
out=$work/out.h5
bx=4 by=4 side=16 steps=60
job=(run heat --param blocks_x=$bx --param blocks_y=$by --param block=$side --param steps=$steps --param refine=4
     --quiet --threads 1)
result() { $python -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1"; }
one_line() {  # exit code $1 expected, and exactly one line mentioning $2 in the log
  local want=$1 pattern=$2 rc=$3
  [ "$rc" = "$want" ] || fail "exit code $rc, expected $want"
  [ "$(grep -c -- "$pattern" "$work/log")" = 1 ] || fail "expected one line with '$pattern'"
}
check() {  # the output file $1 equals the serial field ($2: the initial field, if any)
  $field check "$1" $bx $by $side $steps ${2:-} || fail "the output differs from the serial computation"
  "$partita" verify "$1" > "$work/verify" 2>&1 || fail "partita verify: $(cat "$work/verify")"
}
no_output() {
  [ ! -e "$out" ] || fail "a run that did not complete left $out"
}

case $case_name in
any_ranks)
  # Bitwise the serial field at 1-4 ranks, with migrations; the same file at every rank count.
  for np in 1 2 3 4; do
    $mpirun -n $np "$partita" "${job[@]}" --rebalance-every 10 --output "$work/n$np.h5" --summary-json "$work/s.json" \
      > "$work/log" 2>&1 || fail "run at $np ranks exited $?"
    check "$work/n$np.h5"
    $field same "$work/n1.h5" "$work/n$np.h5" || fail "$np ranks wrote another field than 1 rank"
    [ "$($python -c "import json,sys;print(json.load(open(sys.argv[1]))['output']['file'])" "$work/s.json")" = "$work/n$np.h5" ] \
      || fail "the summary does not name the output"
  done
  ls "$work"/*.tmp > /dev/null 2>&1 && fail "a .tmp was left behind"
  true ;;
pagerank)
  # pagerank writes its ranks (/partitions/<id>/rank) the same at any rank count; they sum to about 1.
  for np in 1 3; do
    $mpirun -n $np "$partita" run pagerank --param vertices=5000 --param blocks=9 --quiet --threads 1 \
      --output "$work/p$np.h5" > "$work/log" 2>&1 || fail "pagerank at $np ranks exited $?"
  done
  $field same "$work/p1.h5" "$work/p3.h5" || fail "pagerank wrote another field at 3 ranks"
  $python -c "import sys; s=float(sys.argv[1]); sys.exit(0 if abs(s-1)<1e-6 else 1)" "$($field sum "$work/p3.h5" rank)" \
    || fail "the ranks do not sum to 1"
  "$partita" verify "$work/p3.h5" > "$work/log" 2>&1 || fail "verify failed" ;;
restart_other_ranks)
  # Killed at 3 ranks (no output), restarted at 2 from the last checkpoint: the output is exact.
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 10 --inject kill:rank=1:after=35 \
    --output "$out" > "$work/log" 2>&1 && fail "the job was not killed"
  no_output
  $mpirun -n 2 "$partita" "${job[@]}" --checkpoint-dir "$ck" --restart auto --output "$out" \
    --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "the restart exited $?"
  [ "$($python -c "import json,sys;print(json.load(open(sys.argv[1]))['checkpoints']['restored_from'] != '')" "$work/s.json")" = True ] \
    || fail "did not restart from a checkpoint"
  check "$out" ;;
crash_in_output)
  # Ranks killed while the output is written: before the write or after the .tmp is closed there is no FILE; after
  # the rename (the commit) FILE is whole. Either way a restart from the last checkpoint writes it, exact.
  for point in output.before_write output.after_tmp_close output.after_fsync output.after_rename; do
    rm -rf "$ck" "$out" "$out.tmp"
    PARTITA_CRASH_AT="$point" $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 20 \
      --output "$out" > "$work/log" 2>&1 && fail "the job was not killed at $point"
    grep -q "crash point '$point' reached" "$work/log" || fail "no crash at $point"
    if [ $point = output.after_rename ]; then check "$out"; else no_output; fi
    $mpirun -n 4 "$partita" "${job[@]}" --checkpoint-dir "$ck" --restart auto --output "$out" > "$work/log" 2>&1 \
      || fail "the restart after $point exited $?"
    check "$out"
  done ;;
walltime)
  # --walltime shorter than the job: checkpointed and stopped (75), no FILE; the restart writes it, exact.
  side=128 steps=6000
  job=(run heat --param blocks_x=$bx --param blocks_y=$by --param block=$side --param steps=$steps --quiet --threads 1)
  $mpirun -n 2 "$partita" "${job[@]}" --checkpoint-dir "$ck" --walltime 1.5 --output "$out" > "$work/log" 2>&1; rc=$?
  [ $rc = 75 ] || fail "expected exit 75 at the wall time, got $rc"
  no_output
  [ ! -e "$out.tmp" ] || fail "a stopped run left $out.tmp"
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --restart auto --output "$out" > "$work/log" 2>&1 \
    || fail "the restart exited $?"
  check "$out" ;;
other_job_refused)
  # An output of another job (or parameters, or not Partita's) is refused before the first step, one line, exit 2;
  # --overwrite-output replaces it; the same job's is replaced.
  $mpirun -n 1 "$partita" run pagerank --param vertices=500 --param blocks=3 --quiet --output "$out" > "$work/log" 2>&1 \
    || fail "pagerank exited $?"
  $mpirun -n 2 "$partita" "${job[@]}" --output "$out" > "$work/log" 2>&1; rc=$?
  one_line 2 "another job ('pagerank')" $rc
  grep -q -- "--overwrite-output" "$work/log" || fail "the refusal does not name the fix"
  $mpirun -n 2 "$partita" "${job[@]}" --output "$out" --overwrite-output > "$work/log" 2>&1 || fail "overwrite exited $?"
  check "$out"
  $mpirun -n 3 "$partita" "${job[@]}" --output "$out" > "$work/log" 2>&1 || fail "the same job again exited $?"
  check "$out"
  $mpirun -n 2 "$partita" "${job[@]}" --param steps=61 --output "$out" > "$work/log" 2>&1; rc=$?
  one_line 2 "other parameters" $rc
  echo "not hdf5" > "$work/text.h5"
  $mpirun -n 2 "$partita" "${job[@]}" --output "$work/text.h5" > "$work/log" 2>&1; rc=$?
  one_line 2 "is not a Partita output file" $rc
  [ "$(cat "$work/text.h5")" = "not hdf5" ] || fail "the refused file was touched"
  # A map/reduce job refuses --output for now.
  $mpirun -n 2 "$partita" run pi --param samples=1000 --output "$work/pi.h5" > "$work/log" 2>&1; rc=$?
  one_line 2 "applies to iterative jobs only" $rc ;;
initial_field)
  # A zero field from HDF5 gives the field made in code, bit for bit; a random one the serial field from it.
  $field make "$work/zero.h5" /u $((by * side)) $((bx * side)) zeros
  $mpirun -n 1 "$partita" "${job[@]}" --output "$work/code.h5" > "$work/log" 2>&1 || fail "run exited $?"
  $mpirun -n 3 "$partita" "${job[@]}" --param initial="$work/zero.h5:/u" --output "$work/zero_out.h5" > "$work/log" 2>&1 \
    || fail "run from the zero field exited $?"
  $field same "$work/code.h5" "$work/zero_out.h5" || fail "the zero field from HDF5 differs from the one made in code"
  $field make "$work/rand.h5" /group/field $((by * side)) $((bx * side)) random 7
  for np in 1 4; do
    $mpirun -n $np "$partita" "${job[@]}" --param initial="$work/rand.h5:/group/field" --output "$work/r$np.h5" \
      > "$work/log" 2>&1 || fail "run from the random field at $np ranks exited $?"
    check "$work/r$np.h5" "$work/rand.h5:/group/field"
  done ;;
bad_initial)
  $field make "$work/small.h5" /u 10 10 zeros
  echo "plain text" > "$work/text.h5"
  for spec in "$work/missing.h5:/u" "$work/small.h5:/nope" "$work/small.h5:/u" "$work/text.h5:/u" "$work/small.h5"; do
    $mpirun -n 2 "$partita" "${job[@]}" --param initial="$spec" > "$work/log" 2>&1; rc=$?
    one_line 2 "initial=" $rc
  done
  $mpirun -n 1 "$partita" "${job[@]}" --param initial="$work/small.h5:/u" > "$work/log" 2>&1
  grep -q "is 10 x 10, the grid is 64 x 64" "$work/log" || fail "the shape error does not give both shapes"
  $mpirun -n 1 "$partita" "${job[@]}" --param initial="$work/text.h5:/u" > "$work/log" 2>&1
  grep -q "is not an HDF5 file" "$work/log" || fail "a text file is not called what it is" ;;
changed_input)
  # Stopped (75) from an HDF5 initial field, the file then rewritten: the restart is refused, one line, exit 2.
  side=128 steps=6000
  job=(run heat --param blocks_x=$bx --param blocks_y=$by --param block=$side --param steps=$steps --quiet --threads 1)
  $field make "$work/in.h5" /u $((by * side)) $((bx * side)) random 1
  $mpirun -n 2 "$partita" "${job[@]}" --param initial="$work/in.h5:/u" --checkpoint-dir "$ck" --walltime 1.5 \
    > "$work/log" 2>&1; rc=$?
  [ $rc = 75 ] || fail "expected exit 75 at the wall time, got $rc"
  sleep 0.01
  $field make "$work/in.h5" /u $((by * side)) $((bx * side)) random 2
  $mpirun -n 2 "$partita" "${job[@]}" --param initial="$work/in.h5:/u" --checkpoint-dir "$ck" --restart auto \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "its input changed since checkpoint" $rc
  $mpirun -n 2 "$partita" "${job[@]}" --param initial="$work/in.h5:/u" --restart "$(ls "$ck"/heat.*.h5 | head -1)" \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "its input changed since checkpoint" $rc ;;
gather_limit)
  # 16 blocks of 24 x 24 cells (74 KB of state) over a 16 KB cap on the coordinator's final gather: the run that
  # writes its field with --output finishes; the same run asking for the states (heat's PGM image) fails, one line.
  side=24
  job=(run heat --param blocks_x=$bx --param blocks_y=$by --param block=$side --param steps=$steps --quiet --threads 1)
  for np in 1 3; do
    rm -f "$out"
    $mpirun -n $np "$partita" "${job[@]}" --final-gather-limit 16384 --output "$out" > "$work/log" 2>&1 \
      || fail "the run with --output exited $? at $np ranks"
    check "$out"
    rm -f "$out"
    $mpirun -n $np "$partita" "${job[@]}" --final-gather-limit 16384 --param output="$work/heat.pgm" --output "$out" \
      > "$work/log" 2>&1; rc=$?
    one_line 2 "more than --final-gather-limit" $rc
    no_output
    [ ! -e "$work/heat.pgm" ] || fail "the image was written"
  done
  $mpirun -n 2 "$partita" "${job[@]}" --param output="$work/heat.pgm" > "$work/log" 2>&1 || fail "without a cap: $?"
  [ "$(head -c 2 "$work/heat.pgm")" = P5 ] || fail "no PGM image" ;;
*)
  fail "unknown case" ;;
esac
echo "PASS [$case_name]"
