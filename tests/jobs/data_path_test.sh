#!/usr/bin/env bash
# The map/reduce data path through the partita CLI (docs/design.md, "Map/reduce data path"): a declared HDF5 input
# cut into whole-chunk row blocks and read on the ranks that run them (h5stats), checked against a serial
# computation with h5py/numpy (tests/jobs/data_check.py) at 1-4 ranks; the reader's counters in the summary;
# restarts at another rank count; bad inputs (one line, exit 2); a changed input refused on restart.
# Usage: data_path_test.sh CASE PATH/TO/partita
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
python=/usr/bin/python3
check="$python $(dirname "$0")/data_check.py"
work=$(mktemp -d /tmp/partita-data.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
ck=$work/ck
in=$work/in.h5
json() { $python -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$@"; }
one_line() {  # exit code $1 expected, and exactly one line mentioning $2 in the log
  local want=$1 pattern=$2 rc=$3
  [ "$rc" = "$want" ] || fail "exit code $rc, expected $want"
  [ "$(grep -c -- "$pattern" "$work/log")" = 1 ] || fail "expected one line with '$pattern'"
}
# stats_ok FILE DATASET MIB [BINS LO HI]: the last run's h5stats result ($work/s.json) equals the serial one
stats_ok() {
  local rows
  rows=$($check part_rows "$1" "$2" "$3") || fail "part_rows"
  $check stats "$1" "$2" "$work/s.json" "$rows" "${4:-16}" "${5:-0}" "${6:-1}" || fail "h5stats differs from numpy ($1:$2)"
}
stats=(run h5stats --param file="$in" --param dataset=/x --param partition_mib=0.1 --threads 2)

case $case_name in
stats_any_ranks)
  # 30000 x 40 float64 in chunks of 50 rows (16 KB): 6 chunks per 0.1 MiB block, 100 blocks; exact at 1-4 ranks.
  "$partita" make-input "$in" --dataset /x --rows 30000 --cols 40 --chunk-rows 50 --seed 3 > "$work/log" 2>&1 \
    || fail "make-input exited $?"
  for np in 1 2 3 4; do
    $mpirun -n $np "$partita" "${stats[@]}" --no-speculate --no-take-back --summary-json "$work/s.json" > "$work/log" 2>&1 \
      || fail "h5stats at $np ranks exited $?"
    stats_ok "$in" /x 0.1
    json "$work/s.json" "d['result']" > "$work/r$np"
    cmp -s "$work/r1" "$work/r$np" || fail "$np ranks gave another result than 1 rank"
    # Every block read once (no speculation, no take-back, no failure): the bytes of the dataset, and read-ahead at work.
    [ "$(json "$work/s.json" "sum(w['input']['bytes'] for w in d['workers'])")" = $((30000 * 40 * 8)) ] \
      || fail "the workers did not read the dataset's bytes exactly once at $np ranks"
    [ "$(json "$work/s.json" "sum(w['input']['partitions'] for w in d['workers']) == d['partitions']")" = True ] \
      || fail "blocks read != partitions"
    # Whether a block is ready before its kernel asks is timing (a kernel may read its block itself): at most one hit
    # per block in each run, and some hits over the four runs.
    [ "$(json "$work/s.json" "all(w['input']['read_ahead_hits'] <= w['input']['partitions'] for w in d['workers'])")" = True ] \
      || fail "more read-ahead hits than blocks at $np ranks"
    hits=$((${hits:-0} + $(json "$work/s.json" "sum(w['input']['read_ahead_hits'] for w in d['workers'])")))
  done
  [ "$hits" -gt 0 ] || fail "no read-ahead hit in 400 block reads at 1-4 ranks: the reader thread never got ahead"
  # The text summary shows the reads.
  $mpirun -n 2 "$partita" "${stats[@]}" > "$work/log" 2>&1 || fail "h5stats exited $?"
  grep -q "^input: .* MB read in .* blocks" "$work/log" || fail "no input line in the summary" ;;
stats_types)
  # Other ranks and element types: 3-D int32 (chunks of 7 rows), 1-D float32 with a NaN, a contiguous float64.
  $check make "$work/i3.h5" /g/a int32_3d && $check make "$work/f1.h5" /v float32_1d && $check make "$work/c.h5" /c contiguous \
    || fail "make"
  for np in 1 3; do
    $mpirun -n $np "$partita" run h5stats --param file="$work/i3.h5" --param dataset=/g/a --param type=int32 \
      --param partition_mib=0.001 --param lo=-1000 --param hi=1000 --param bins=10 --summary-json "$work/s.json" \
      > "$work/log" 2>&1 || fail "int32 at $np ranks exited $?"
    stats_ok "$work/i3.h5" /g/a 0.001 10 -1000 1000
    $mpirun -n $np "$partita" run h5stats --param file="$work/f1.h5" --param dataset=/v --param type=float32 \
      --param partition_mib=0.002 --param lo=-3 --param hi=3 --summary-json "$work/s.json" > "$work/log" 2>&1 \
      || fail "float32 at $np ranks exited $?"
    stats_ok "$work/f1.h5" /v 0.002 16 -3 3
    $mpirun -n $np "$partita" run h5stats --param file="$work/c.h5" --param dataset=/c --param partition_mib=0.003 \
      --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "contiguous at $np ranks exited $?"
    stats_ok "$work/c.h5" /c 0.003
  done ;;
stats_restart)
  # Killed at 3 ranks after a checkpoint, restarted at 2: the same result as an uninterrupted run. The kill is the
  # crash point right after the first checkpoint's commit (a kill after K results could come before any checkpoint
  # had committed when blocks are read fast).
  "$partita" make-input "$in" --dataset /x --rows 4000 --cols 40 --chunk-rows 25 --seed 9 > /dev/null || fail "make-input"
  PARTITA_CRASH_AT=ckpt.after_latest:1 $mpirun -n 3 "$partita" "${stats[@]}" --param partition_mib=0.01 \
    --checkpoint-dir "$ck" --checkpoint-every 20 > "$work/log" 2>&1 && fail "the job was not killed"
  ls "$ck"/h5stats.*.h5 > /dev/null 2>&1 || fail "no checkpoint before the kill"
  $mpirun -n 2 "$partita" "${stats[@]}" --param partition_mib=0.01 --checkpoint-dir "$ck" --restart auto \
    --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "the restart exited $?"
  [ "$(json "$work/s.json" "d['checkpoints']['restored_from'] != ''")" = True ] || fail "did not restart from a checkpoint"
  stats_ok "$in" /x 0.01 ;;
bad_input)
  "$partita" make-input "$in" --dataset /x --rows 100 --cols 4 --chunk-rows 10 > /dev/null || fail "make-input"
  echo "plain text" > "$work/text.h5"
  $mpirun -n 2 "$partita" run h5stats --param file="$work/missing.h5" --param dataset=/x > "$work/log" 2>&1; rc=$?
  one_line 2 "cannot read the file" $rc
  $mpirun -n 2 "$partita" run h5stats --param file="$in" --param dataset=/nope > "$work/log" 2>&1; rc=$?
  one_line 2 "no such dataset" $rc
  $mpirun -n 2 "$partita" run h5stats --param file="$in" --param dataset=/x --param type=int32 > "$work/log" 2>&1; rc=$?
  one_line 2 "its elements are float64, the job wants int32" $rc
  $mpirun -n 2 "$partita" run h5stats --param file="$work/text.h5" --param dataset=/x > "$work/log" 2>&1; rc=$?
  one_line 2 "not an HDF5 file" $rc
  $mpirun -n 1 "$partita" run h5stats --param dataset=/x > "$work/log" 2>&1; rc=$?
  one_line 2 "h5stats needs a dataset" $rc ;;
changed_input)
  # Killed after a checkpoint; the input then changes: the restart is refused, one line, exit 2.
  "$partita" make-input "$in" --dataset /x --rows 4000 --cols 40 --chunk-rows 25 > /dev/null || fail "make-input"
  PARTITA_CRASH_AT=ckpt.after_latest:1 $mpirun -n 2 "$partita" "${stats[@]}" --param partition_mib=0.01 \
    --checkpoint-dir "$ck" --checkpoint-every 20 > "$work/log" 2>&1 && fail "the job was not killed"
  ls "$ck"/h5stats.*.h5 > /dev/null 2>&1 || fail "no checkpoint before the kill"
  sleep 0.01
  $check touch "$in" /x || fail "touch"
  $mpirun -n 3 "$partita" "${stats[@]}" --param partition_mib=0.01 --checkpoint-dir "$ck" --restart auto \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "its input changed since checkpoint" $rc
  $mpirun -n 2 "$partita" "${stats[@]}" --param partition_mib=0.01 --restart "$(ls "$ck"/h5stats.*.h5 | head -1)" \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "its input changed since checkpoint" $rc ;;
filter_any_ranks)
  # h5filter's output, written block by block where each block ran, bitwise the serial smoothing at 1-4 ranks, and
  # with speculative copies of a slow rank's blocks (both twins may write: the same bytes).
  "$partita" make-input "$in" --dataset /x --rows 2000 --cols 64 --chunk-rows 40 --seed 4 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param partition_mib=0.05 --threads 2)
  for np in 1 2 3 4; do
    $mpirun -n $np "$partita" "${filt[@]}" --param output="$work/o$np.h5" --summary-json "$work/s.json" \
      > "$work/log" 2>&1 || fail "h5filter at $np ranks exited $?"
    $check filter "$in" /x "$work/o$np.h5" /y || fail "output at $np ranks"
    json "$work/s.json" "d['result']" > "$work/r$np"
    cmp -s "$work/r1" "$work/r$np" || fail "$np ranks gave another summary than 1 rank"
  done
  for policy in static dynamic guided factoring adaptive cost; do
    $mpirun -n 3 "$partita" "${filt[@]}" --param output="$work/p.h5" --policy $policy > "$work/log" 2>&1 \
      || fail "h5filter with --policy $policy exited $?"
    $check filter "$in" /x "$work/p.h5" /y || fail "output with --policy $policy"
  done
  $mpirun -n 3 "$partita" "${filt[@]}" --param output="$work/spec.h5" --param slow_rank=2 --param slow_ms=150 \
    --speculate --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "with speculation exited $?"
  [ "$(json "$work/s.json" "d['speculation']['copies'] > 0")" = True ] || fail "no speculative copy ran"
  $check filter "$in" /x "$work/spec.h5" /y || fail "output with speculation" ;;
filter_restart)
  # kill -9 the scheduler rank after a checkpoint: the file says incomplete, with the checkpoint's blocks committed; the restart
  # at another rank count recomputes exactly the others; the output is exact and says complete.
  "$partita" make-input "$in" --dataset /x --rows 2400 --cols 32 --chunk-rows 20 --seed 6 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param output="$work/out.h5" --param partition_mib=0.005
        --threads 1)
  $mpirun -n 3 "$partita" "${filt[@]}" --param slow_ms=20 --checkpoint-dir "$ck" --checkpoint-every 25 --inject kill:scheduler:after=60 \
    > "$work/log" 2>&1 && fail "the job was not killed"
  read -r complete committed < <($check state "$work/out.h5") || fail "state (exit $rc)"
  [ "$complete" = 0 ] || fail "a killed run's output says complete"
  $mpirun -n 2 "$partita" "${filt[@]}" --param slow_ms=20 --checkpoint-dir "$ck" --restart auto --summary-json "$work/s.json" \
    > "$work/log" 2>&1 || fail "the restart exited $?"
  restored=$(json "$work/s.json" "d['checkpoints']['restored_done']")
  [ "$restored" -gt 0 ] || fail "did not restart from a checkpoint"
  [ "$restored" = "$committed" ] || fail "the file had $committed blocks committed, the checkpoint $restored"
  [ "$(json "$work/s.json" "d['partitions_run'] == d['partitions'] - d['checkpoints']['restored_done']")" = True ] \
    || fail "the restart did not run exactly the blocks not committed"
  $check filter "$in" /x "$work/out.h5" /y || fail "output after the restart"
  # Stopped at the wall time (75): incomplete; the restart at 4 ranks completes it.
  rm -rf "$ck" "$work/out.h5"
  $mpirun -n 2 "$partita" "${filt[@]}" --param slow_ms=40 --checkpoint-dir "$ck" --walltime 1.2 > "$work/log" 2>&1; rc=$?
  [ $rc = 75 ] || fail "expected exit 75 at the wall time, got $rc"
  read -r complete committed < <($check state "$work/out.h5") || fail "state (exit $rc)"
  [ "$complete" = 0 ] || fail "a stopped run's output says complete"
  $mpirun -n 4 "$partita" "${filt[@]}" --param slow_ms=40 --checkpoint-dir "$ck" --restart auto > "$work/log" 2>&1 \
    || fail "the restart after the wall time exited $?"
  $check filter "$in" /x "$work/out.h5" /y || fail "output after the wall-time restart" ;;
filter_crash_points)
  # The scheduler rank killed at phases of its second checkpoint, or right after a kernel returned, its block handed to
  # the writer and its partition not committed (filter_writer_crash kills the writer itself): the file says
  # incomplete; a restart at another rank count makes it exact and complete.
  "$partita" make-input "$in" --dataset /x --rows 1200 --cols 32 --chunk-rows 20 --seed 8 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param output="$work/out.h5" --param partition_mib=0.005
        --param slow_ms=20 --threads 1)
  for point in ckpt.after_tmp_close:2 ckpt.after_rename:2 ckpt.after_latest:2 partition.done@0:12; do
    rm -rf "$ck" "$work/out.h5"
    PARTITA_CRASH_AT="$point" $mpirun -n 3 "$partita" "${filt[@]}" --checkpoint-dir "$ck" --checkpoint-every 10 \
      > "$work/log" 2>&1 && fail "the job was not killed at $point"
    grep -q "crash point '${point%%[@:]*}' reached" "$work/log" || fail "no crash at $point"
    read -r complete committed < <($check state "$work/out.h5") || fail "state after $point"
    [ "$complete" = 0 ] || fail "the output says complete after a crash at $point"
    $mpirun -n 2 "$partita" "${filt[@]}" --checkpoint-dir "$ck" --restart auto > "$work/log" 2>&1 \
      || fail "the restart after $point exited $?"
    $check filter "$in" /x "$work/out.h5" /y || fail "output after a crash at $point"
  done ;;
filter_refusals)
  # An output file of another job (other parameters), or not Partita's: refused, one line, exit 2, untouched;
  # --overwrite-output replaces it; the same job's is replaced.
  "$partita" make-input "$in" --dataset /x --rows 300 --cols 16 --chunk-rows 10 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param output="$work/out.h5" --param partition_mib=0.01)
  $mpirun -n 2 "$partita" "${filt[@]}" > "$work/log" 2>&1 || fail "h5filter exited $?"
  $mpirun -n 2 "$partita" "${filt[@]}" > "$work/log" 2>&1 || fail "the same job again exited $?"
  $check filter "$in" /x "$work/out.h5" /y || fail "output"
  $mpirun -n 2 "$partita" "${filt[@]}" --param partition_mib=0.02 > "$work/log" 2>&1; rc=$?
  one_line 2 "with other parameters" $rc
  grep -q -- "--overwrite-output" "$work/log" || fail "the refusal does not name the fix"
  $mpirun -n 2 "$partita" "${filt[@]}" --param partition_mib=0.02 --overwrite-output > "$work/log" 2>&1 \
    || fail "--overwrite-output exited $?"
  $check filter "$in" /x "$work/out.h5" /y || fail "output after --overwrite-output"
  cp "$in" "$work/other.h5"
  $mpirun -n 2 "$partita" "${filt[@]}" --param output="$work/other.h5" > "$work/log" 2>&1; rc=$?
  one_line 2 "is not a Partita output file" $rc
  cmp -s "$in" "$work/other.h5" || fail "the refused file was touched"
  # A 3-D input is not what h5filter smooths: the kernel's usage error fails the job.
  $check make "$work/i3.h5" /g/a int32_3d || fail "make"
  $mpirun -n 2 "$partita" run h5filter --param file="$work/i3.h5" --param dataset=/g/a --param output="$work/o3.h5" \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "its elements are int32, the job wants float64" $rc ;;
filter_verify)
  # A fault-free run without speculation or take-back writes each block once and reads each once (the summary's counters), and
  # `partita verify` says OK at 1-4 ranks; one flipped byte inside a block: exit 1 naming that block and its rows; a file
  # that is neither an output nor a checkpoint: one line, exit 1; with speculative copies (both twins may write: the
  # same bytes, the same CRC-32) the output still verifies.
  "$partita" make-input "$in" --dataset /x --rows 2000 --cols 64 --chunk-rows 40 --seed 4 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param partition_mib=0.05 --threads 2)
  for np in 1 2 3 4; do
    $mpirun -n $np "$partita" "${filt[@]}" --no-speculate --no-take-back --param output="$work/o$np.h5" --summary-json "$work/s.json" \
      > "$work/log" 2>&1 || fail "h5filter at $np ranks exited $?"
    grep -q "^output: .* MB written in .* blocks" "$work/log" || fail "no output line in the summary at $np ranks"
    parts=$(json "$work/s.json" "d['partitions']")
    [ "$(json "$work/s.json" "sum(w['output']['partitions'] for w in d['workers'])")" = "$parts" ] \
      || fail "blocks written != $parts partitions at $np ranks"
    [ "$(json "$work/s.json" "sum(w['input']['partitions'] for w in d['workers'])")" = "$parts" ] \
      || fail "blocks read != $parts partitions at $np ranks"
    [ "$(json "$work/s.json" "sum(w['output']['bytes'] for w in d['workers'])")" = $((2000 * 64 * 8)) ] \
      || fail "the workers did not write the dataset's bytes exactly once at $np ranks"
    $check filter "$in" /x "$work/o$np.h5" /y || fail "output at $np ranks"
    "$partita" verify "$work/o$np.h5" > "$work/log" 2>&1 || fail "verify at $np ranks exited $?"
    grep -q "OK (output of job 'h5filter', /y: all $parts blocks committed" "$work/log" || fail "verify's OK line"
  done
  "$partita" inspect "$work/o4.h5" > "$work/log" 2>&1 || fail "inspect exited $?"
  grep -q "blocks  *$parts of $parts committed; complete" "$work/log" || fail "inspect does not say complete"
  grep -q "dataset  */y, shape 2000x64, float64" "$work/log" || fail "inspect does not name the dataset"
  read -r first last < <($check flip "$work/o2.h5" /y 7) || fail "flip"
  "$partita" verify "$work/o2.h5" > "$work/log" 2>&1; rc=$?
  one_line 1 "BAD: block of partition 7 (rows $first..$last of /y)" $rc
  "$partita" verify "$work/o3.h5" > /dev/null 2>&1 || fail "another file is damaged too"
  "$partita" verify "$in" > "$work/log" 2>&1; rc=$?
  [ "$(wc -l < "$work/log")" = 1 ] || fail "verify of a plain HDF5 file: $(cat "$work/log")"
  one_line 1 "BAD" $rc
  $mpirun -n 3 "$partita" "${filt[@]}" --param output="$work/spec.h5" --param slow_rank=2 --param slow_ms=150 \
    --speculate --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "with speculation exited $?"
  [ "$(json "$work/s.json" "d['speculation']['copies'] > 0")" = True ] || fail "no speculative copy ran"
  $check filter "$in" /x "$work/spec.h5" /y || fail "output with speculation"
  "$partita" verify "$work/spec.h5" > "$work/log" 2>&1 || fail "verify after speculation: $(cat "$work/log")" ;;
filter_verify_restart)
  # The scheduler killed as its second checkpoint starts (checkpoints every 25 results; a named crash point, not a
  # count of results, which can arrive in one batch under load): the file records the first checkpoint's blocks, the
  # same ones the restart continues from. verify says incomplete (exit 1) with that count, and their CRC-32s are
  # right; the restart at another rank count writes exactly the others; then OK.
  "$partita" make-input "$in" --dataset /x --rows 2400 --cols 32 --chunk-rows 20 --seed 6 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param output="$work/out.h5" --param partition_mib=0.005
        --param slow_ms=20 --threads 1 --no-speculate --no-take-back --checkpoint-dir "$ck")
  PARTITA_CRASH_AT=ckpt.before_write:2 $mpirun -n 3 "$partita" "${filt[@]}" --checkpoint-every 25 > "$work/log" 2>&1 \
    && fail "the job was not killed"
  grep -q "crash point 'ckpt.before_write' reached" "$work/log" || fail "no crash at the second checkpoint"
  read -r complete committed < <($check state "$work/out.h5") || fail "state"
  [ "$complete" = 0 ] && [ "$committed" -gt 0 ] || fail "after the kill: complete $complete, $committed committed"
  $check crc "$work/out.h5" /y || fail "a committed block's recorded CRC-32 after the kill"
  "$partita" verify "$work/out.h5" > "$work/log" 2>&1; rc=$?
  one_line 1 "INCOMPLETE: $committed of 120 blocks committed" $rc
  $mpirun -n 2 "$partita" "${filt[@]}" --restart auto --summary-json "$work/s.json" > "$work/log" 2>&1 \
    || fail "the restart exited $?"
  [ "$(json "$work/s.json" "d['partitions']")" = 120 ] || fail "expected 120 partitions"
  written=$(json "$work/s.json" "sum(w['output']['partitions'] for w in d['workers'])")
  [ "$written" = $((120 - committed)) ] || fail "the restart wrote $written blocks, not the $((120 - committed)) not committed"
  [ "$(json "$work/s.json" "sum(w['input']['partitions'] for w in d['workers'])")" = $((120 - committed)) ] \
    || fail "the restart did not read exactly the blocks not committed"
  $check filter "$in" /x "$work/out.h5" /y || fail "output after the restart"
  "$partita" verify "$work/out.h5" > "$work/log" 2>&1 || fail "verify after the restart: $(cat "$work/log")"
  grep -q "OK (output of job 'h5filter', /y: all 120 blocks" "$work/log" || fail "verify's OK line" ;;
filter_direct)
  # Output blocks that are whole pages at a page are written with O_DIRECT (no copy into the page cache), the rest
  # through the page cache: exact either way. 64 columns: blocks of 80 rows, 40960 bytes, all direct (when the file
  # system takes O_DIRECT, asked here independently); 63 columns: 40320-byte blocks, only those that start on a page
  # have a direct part; --output-io page-cache: none direct.
  total=$((2000 * 64 * 8))
  "$partita" make-input "$in" --dataset /x --rows 2000 --cols 64 --chunk-rows 40 --seed 4 > /dev/null || fail "make-input"
  "$partita" make-input "$work/odd.h5" --dataset /x --rows 2000 --cols 63 --chunk-rows 40 --seed 5 > /dev/null \
    || fail "make-input"
  takes=$($python -c "import os,sys
try: os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_DIRECT)); print(1)
except OSError: print(0)" "$work/probe")
  direct_bytes() { json "$work/s.json" "sum(w['output']['direct_bytes'] for w in d['workers'])"; }
  filt=(run h5filter --param dataset=/x --param partition_mib=0.05 --threads 2 --no-speculate --no-take-back --summary-json "$work/s.json")
  for np in 1 3; do
    $mpirun -n $np "$partita" "${filt[@]}" --param file="$in" --param output="$work/d.h5" > "$work/log" 2>&1 \
      || fail "h5filter at $np ranks exited $?"
    $check filter "$in" /x "$work/d.h5" /y || fail "output at $np ranks"
    [ "$(direct_bytes)" = $((takes * total)) ] \
      || fail "$(direct_bytes) bytes written with O_DIRECT at $np ranks, not $((takes * total)) (O_DIRECT taken: $takes)"
    $mpirun -n $np "$partita" "${filt[@]}" --param file="$work/odd.h5" --param output="$work/odd_o.h5" \
      > "$work/log" 2>&1 || fail "h5filter over 63 columns at $np ranks exited $?"
    $check filter "$work/odd.h5" /x "$work/odd_o.h5" /y || fail "output over 63 columns at $np ranks"
    odd=$(direct_bytes)
    [ "$odd" -lt $((2000 * 63 * 8)) ] || fail "all $odd bytes of unaligned blocks written with O_DIRECT"
    [ "$takes" = 0 ] || [ "$odd" -gt 0 ] || fail "no part of the 63-column blocks that start on a page went direct"
    $mpirun -n $np "$partita" "${filt[@]}" --param file="$in" --param output="$work/c.h5" --output-io page-cache \
      > "$work/log" 2>&1 || fail "h5filter --output-io page-cache at $np ranks exited $?"
    $check filter "$in" /x "$work/c.h5" /y || fail "output through the page cache at $np ranks"
    [ "$(direct_bytes)" = 0 ] || fail "$(direct_bytes) bytes written with O_DIRECT under --output-io page-cache"
  done
  "$partita" run h5filter --param file="$in" --param dataset=/x --param output="$work/x.h5" --output-io fast \
    > "$work/log" 2>&1; rc=$?
  one_line 2 "--output-io" $rc ;;
filter_direct_refused)
  # On a file system that refuses O_DIRECT (a ramfs, mounted in a mount namespace of its own: needs root), every block
  # goes through the page cache, none direct, and the output is exact and verifies. (tmpfs takes O_DIRECT since
  # Linux 6.6.)
  mkdir -p "$work/ram"
  if ! unshare -m sh -c 'mount -t ramfs none "$1"' _ "$work/ram" 2> /dev/null; then
    echo "SKIP [$case_name]: cannot mount a ramfs here (needs root and unshare -m)"
    exit 77
  fi
  "$partita" make-input "$in" --dataset /x --rows 2000 --cols 64 --chunk-rows 40 --seed 4 > /dev/null || fail "make-input"
  unshare -m bash -c '
    mount -t ramfs none "$1" || exit 4
    if '"$python"' -c "import os,sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_DIRECT))" "$1/probe" \
      2> /dev/null; then exit 3; fi
    '"$mpirun"' -n 2 "$2" run h5filter --param file="$3" --param dataset=/x --param partition_mib=0.05 --threads 2 \
      --no-speculate --no-take-back --param output="$1/o.h5" --summary-json "$4/s.json" > "$4/log" 2>&1 || exit 5
    cp "$1/o.h5" "$4/ram_o.h5"' _ "$work/ram" "$partita" "$in" "$work"
  rc=$?
  [ $rc = 3 ] && fail "this ramfs takes O_DIRECT: the refusal cannot be checked here"
  [ $rc = 0 ] || fail "h5filter with its output on a ramfs failed (rc $rc)"
  $check filter "$in" /x "$work/ram_o.h5" /y || fail "output on a ramfs"
  [ "$(json "$work/s.json" "sum(w['output']['direct_bytes'] for w in d['workers'])")" = 0 ] \
    || fail "bytes written with O_DIRECT on a ramfs"
  [ "$(json "$work/s.json" "sum(w['output']['bytes'] for w in d['workers'])")" = $((2000 * 64 * 8)) ] \
    || fail "not every block written once on a ramfs"
  "$partita" verify "$work/ram_o.h5" > "$work/log" 2>&1 || fail "verify of the ramfs output: $(cat "$work/log")" ;;
filter_writer_crash)
  # A rank's writer thread killed while blocks wait for it (docs/design.md, "Map/reduce data path"): a batch taken but
  # not written (a worker), written but not yet fdatasync'ed (the scheduler rank, which also runs partitions), synced
  # but not yet released (another worker). Nothing is committed that is not in the file: every block the file records
  # as committed has its recorded CRC-32 (a block committed before its write would be zeros); the restart at another
  # rank count writes exactly the blocks its checkpoint had not committed; the output is exact and verifies.
  "$partita" make-input "$in" --dataset /x --rows 1200 --cols 32 --chunk-rows 20 --seed 8 > /dev/null || fail "make-input"
  filt=(run h5filter --param file="$in" --param dataset=/x --param output="$work/out.h5" --param partition_mib=0.005
        --param slow_ms=20 --threads 1 --no-speculate --no-take-back --checkpoint-dir "$ck")
  for point in output.before_write@1:2 output.after_write@0:3 output.after_sync@2:2; do
    rm -rf "$ck" "$work/out.h5"
    PARTITA_CRASH_AT="$point" $mpirun -n 3 "$partita" "${filt[@]}" --checkpoint-every 10 > "$work/log" 2>&1 \
      && fail "the job was not killed at $point"
    grep -q "crash point '${point%%[@:]*}' reached" "$work/log" || fail "no crash at $point"
    read -r complete committed < <($check state "$work/out.h5") || fail "state after $point"
    [ "$complete" = 0 ] || fail "the output says complete after a crash at $point"
    $check crc "$work/out.h5" /y || fail "a block committed after a crash at $point is not in the file"
    $mpirun -n 2 "$partita" "${filt[@]}" --restart auto --summary-json "$work/s.json" > "$work/log" 2>&1 \
      || fail "the restart after $point exited $?"
    [ "$(json "$work/s.json" "sum(w['output']['partitions'] for w in d['workers']) + d['checkpoints']['restored_done']")" \
      = 60 ] || fail "the restart after $point did not write exactly the blocks its checkpoint had not committed"
    $check filter "$in" /x "$work/out.h5" /y || fail "output after a crash at $point"
    "$partita" verify "$work/out.h5" > "$work/log" 2>&1 || fail "verify after a crash at $point: $(cat "$work/log")"
  done ;;
*)
  fail "unknown case" ;;
esac
echo "PASS [$case_name]"
