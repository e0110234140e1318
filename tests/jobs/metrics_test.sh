#!/usr/bin/env bash
# Live metrics through the partita CLI (--metrics-file, docs/metrics.md): real mpirun, and Debian's promtool as the
# consumer that must accept every file written, while the job runs and at its end.
# Usage: metrics_test.sh CASE PATH/TO/partita [RANKS]
#   map_reduce N | iterative N: the figures while running and at the end (done == total, as the summary says)
#   data_path N: an HDF5 input and output (h5filter): the bytes of the partitions done while running and at the end,
#     and what the ranks read and wrote (the summary's workers[].input/output) in the final write
#   unwritable: a --metrics-file in a folder that cannot be written: one line, exit 0, the same result
set -u
case_name=$1
partita=$2
np=${3:-2}
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-metrics.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name $np]: $*"; [ -f "$work/log" ] && tail -20 "$work/log"; exit 1; }
command -v promtool > /dev/null || fail "promtool is missing: apt-get install prometheus (tools/bootstrap.sh test does)"
labels='partita_job="[a-z0-9_]*",model="[a-z_]*",params_hash="0x[0-9a-f]\{16\}"'
# The value of metric $2 with extra labels $3 in file $1.
value() { sed -n "s/^$2{$labels${3:+,$3}} \(.*\)$/\1/p" "$1"; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }
check() { promtool check metrics < "$1" > "$work/promtool" 2>&1 || fail "promtool rejects $1: $(cat "$work/promtool")"; }

# Runs partita with $@ in the background and keeps copies of the metrics file while it says "running" (every change).
run_and_watch() {
  mkdir -p "$work/m" "$work/seen"
  $mpirun -n "$np" "$partita" "$@" --metrics-file "$work/m/job.prom" --metrics-interval 0.2 \
    --summary-json "$work/summary.json" > "$work/log" 2>&1 &
  local pid=$! n=0 last=""
  while kill -0 $pid 2> /dev/null; do
    # Copy first, then look at the copy: the job may replace the file between a look and a copy (a final snapshot
    # copied as if it were a running one: seen once under load, "the ranks' bytes read while running").
    if cp "$work/m/job.prom" "$work/seen/now" 2> /dev/null && grep -q 'state="running"} 1$' "$work/seen/now"; then
      if ! cmp -s "$work/seen/now" "$last"; then n=$((n + 1)); cp "$work/seen/now" "$work/seen/$n"; last=$work/seen/$n; fi
    fi
    sleep 0.05
  done
  wait $pid || fail "the job exited $?"
  seen=$n
}

final_checks() {  # $1: the unit; $2: the total
  local f=$work/m/job.prom
  [ -f "$f" ] || fail "no metrics file at the end"
  [ ! -e "$f.tmp" ] || fail "the temporary file was left behind"
  check "$f"
  [ "$(value "$f" partita_job_state 'state="completed"')" = 1 ] || fail "final state is not completed: $(grep job_state "$f")"
  [ "$(value "$f" partita_job_state 'state="running"')" = 0 ] || fail "still running at the end"
  [ "$(value "$f" partita_work_done "unit=\"$1\"")" = "$2" ] || fail "done is not $2: $(grep work_done "$f")"
  [ "$(value "$f" partita_work_size "unit=\"$1\"")" = "$2" ] || fail "total is not $2: $(grep work_total "$f")"
  [ "$(value "$f" partita_ranks)" = "$np" ] || fail "ranks is not $np"
  [ "$(grep -c '^partita_rank_busy_ratio{' "$f")" = "$np" ] || fail "not one busy ratio per rank: $(grep busy_ratio "$f")"
  [ "$(value "$f" partita_checkpoints_total)" = "$(field "$work/summary.json" "d['checkpoints']['count']")" ] \
    || fail "checkpoints differ from the summary's"
  grep -q "^partita_job_state{partita_job=\"$job\"," "$f" || fail "the job's name is not a label"
  for ((i = 1; i <= seen; i++)); do check "$work/seen/$i"; done
}

case $case_name in
map_reduce)
  job=synthetic
  # ~3.6 s of kernel time (about 2 s on 2 idle cores), so that several 0.2 s rewrites fall inside the run even when
  # this watcher loop is slowed by a loaded machine (600 partitions, 0.75 s: one snapshot seen at load 15)
  run_and_watch run synthetic --param partitions=1200 --param median_us=3000 --threads 2 --quiet --checkpoint-dir \
    "$work/ck" --checkpoint-every 400
  [ "$seen" -ge 2 ] || fail "saw $seen running snapshots, expected several over the run (every 0.2 s)"
  final_checks partitions 1200
  f=$work/m/job.prom
  [ "$(value "$f" partita_chunks_total)" = "$(field "$work/summary.json" "d['chunks']")" ] || fail "chunks differ"
  [ "$(value "$f" partita_messages_total)" = "$(field "$work/summary.json" "d['dispatches']")" ] || fail "messages differ"
  [ "$(value "$f" partita_speculative_copies_total)" = "$(field "$work/summary.json" "d['speculation']['copies']")" ] \
    || fail "speculative copies differ"
  [ "$(value "$f" partita_taken_back_partitions_total)" = "$(field "$work/summary.json" "d['take_back']['partitions']")" ] \
    || fail "taken-back partitions differ"
  [ "$(value "$f" partita_checkpoints_total)" -ge 1 ] || fail "no checkpoint counted"
  grep -q 'model="map_reduce"' "$f" || fail "no model label"
  # While running: done grew, never past the total, and the rate and ETA were there.
  prev=-1
  for ((i = 1; i <= seen; i++)); do
    d=$(value "$work/seen/$i" partita_work_done 'unit="partitions"')
    [ "$d" -ge "$prev" ] && [ "$d" -le 1200 ] || fail "done went from $prev to $d"
    prev=$d
  done
  grep -q '^partita_work_rate_per_second{' "$work/seen/$seen" || fail "no rate while running" ;;
iterative)
  job=heat
  # Large enough to run for well over one --metrics-interval at any rank count (300 steps of 32-cell blocks took
  # 0.05 s at one rank on a fast machine: no snapshot was ever seen running).
  run_and_watch run heat --param blocks_x=4 --param blocks_y=4 --param block=96 --param steps=1500 --param refine=6 \
    --threads 1 --quiet --rebalance-every 250 --checkpoint-dir "$work/ck" --checkpoint-every 500
  [ "$seen" -ge 1 ] || fail "saw no running snapshot"
  final_checks steps 1500
  f=$work/m/job.prom
  [ "$(value "$f" partita_migrations_total)" = "$(field "$work/summary.json" "d['migrations']")" ] || fail "migrations differ"
  grep -q 'model="iterative"' "$f" || fail "no model label"
  ! grep -q '^partita_chunks_total' "$f" || fail "an iterative job has no chunks" ;;
data_path)
  job=h5filter
  # 4000 rows x 64 float64 (2 KB rows) in chunks of 40 rows; blocks of 80 rows: 50 partitions, 2,048,000 bytes in
  # and the same out (h5filter's output has the input's shape and type).
  "$partita" make-input "$work/in.h5" --dataset /x --rows 4000 --cols 64 --chunk-rows 40 --seed 4 > "$work/log" 2>&1 \
    || fail "make-input"
  run_and_watch run h5filter --param file="$work/in.h5" --param dataset=/x --param output="$work/out.h5" \
    --param partition_mib=0.04 --param slow_ms=40 --threads 2 --quiet
  parts=$(field "$work/summary.json" "d['partitions']")
  [ "$parts" = 50 ] || fail "expected 50 partitions, the summary says $parts"
  final_checks partitions 50
  f=$work/m/job.prom
  [ "$(value "$f" partita_input_bytes_total)" = 2048000 ] || fail "input bytes done: $(grep input_bytes "$f")"
  [ "$(value "$f" partita_output_bytes_total)" = 2048000 ] || fail "output bytes done: $(grep output_bytes "$f")"
  [ "$(value "$f" partita_input_read_bytes_total)" = "$(field "$work/summary.json" "sum(w['input']['bytes'] for w in d['workers'])")" ] \
    || fail "bytes read differ from the summary's: $(grep input_read "$f")"
  [ "$(value "$f" partita_output_written_bytes_total)" = "$(field "$work/summary.json" "sum(w['output']['bytes'] for w in d['workers'])")" ] \
    || fail "bytes written differ from the summary's: $(grep output_written "$f")"
  # While running: the bytes of the partitions done grew with them, never past the input's size; the ranks' own
  # figures are not known yet.
  [ "$seen" -ge 1 ] || fail "saw no running snapshot"
  prev=-1
  for ((i = 1; i <= seen; i++)); do
    b=$(value "$work/seen/$i" partita_input_bytes_total)
    d=$(value "$work/seen/$i" partita_work_done 'unit="partitions"')
    [ -n "$b" ] && [ "$b" -ge "$prev" ] && [ "$b" -le 2048000 ] || fail "input bytes went from $prev to '$b'"
    [ "$b" = $((d * 40960)) ] || fail "$d partitions done but $b bytes"
    ! grep -q '^partita_input_read_bytes_total' "$work/seen/$i" || fail "the ranks' bytes read while running"
    prev=$b
  done ;;
unwritable)
  touch "$work/not-a-folder"
  $mpirun -n "$np" "$partita" run pi --param partitions=64 --quiet --summary-json "$work/ref.json" > "$work/log" 2>&1 \
    || fail "reference run exited $?"
  $mpirun -n "$np" "$partita" run pi --param partitions=64 --quiet --metrics-file "$work/not-a-folder/job.prom" \
    --metrics-interval 0.1 --summary-json "$work/s.json" > "$work/log" 2>&1 || fail "exited $? with an unwritable metrics file"
  n=$(grep -c "metrics:" "$work/log" || true)
  [ "$n" = 1 ] || fail "expected one line about the metrics file, got $n"
  grep -q "not-a-folder/job.prom.*--metrics-file" "$work/log" || fail "the line does not name the file and the fix"
  [ "$(field "$work/s.json" "d['result']")" = "$(field "$work/ref.json" "d['result']")" ] || fail "a different result" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name $np]"
