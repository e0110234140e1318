#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz for a bounded time, side by side, and prints executions/s and
# coverage for each; exits 1 when one found a crash, a hang, a leak or a broken invariant (its log and the
# saved input are named, with the command that replays it).
#
#   tests/fuzz/run_fuzzers.sh [--seconds S] [--fuzz-build DIR] [--build DIR] [TARGET...]
#
#   --seconds S       fuzzing time per target (default 60); all targets run at the same time
#   --fuzz-build DIR  the -DPARTITA_FUZZ=ON build with bin/fuzz_<target> (default build-fuzz)
#   --build DIR       a normal build, for the seeds: bin/partita runs real jobs whose checkpoints seed the
#                     checkpoint target (make_seed_checkpoints.sh), bin/fuzz_replay_<target> writes crafted
#                     variants of them and the message targets' seeds (default build)
#   TARGET            checkpoint, protocol, wire (default: all three)
#
# Corpora grow in DIR/corpus/<target> (kept between runs), seeds go to DIR/seeds/<target>, logs to
# DIR/fuzz-logs/<target>.log, crashing inputs to DIR/crashes/<target>/. The committed inputs of
# tests/fuzz/regressions/<target>/ are always part of the corpus.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=60 fuzz=build-fuzz build=build targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --fuzz-build) fuzz=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    checkpoint|protocol|wire) targets+=("$1"); shift ;;
    *) echo "run_fuzzers: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint protocol wire)
[[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "run_fuzzers: --seconds needs a whole number > 0" >&2; exit 2; }

# Per target: libFuzzer limits. Messages: at most 4 KiB in, 1 MiB per allocation. Checkpoints: the size of
# the largest seed, 16 MiB per allocation (HDF5's caches take ~2.6 MiB in all); leaks are checked at exit,
# not after each input (HDF5 1.10 leaks cache entries on a corrupt file's error paths, suppressed in
# tools/lsan-suppressions.txt, and a leak scan after each such input would cost a third of the speed).
declare -A flags=(
  [checkpoint]="-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=16 -detect_leaks=0"
  [protocol]="-max_len=4096 -timeout=5 -rss_limit_mb=512 -malloc_limit_mb=1"
  [wire]="-max_len=4096 -timeout=5 -rss_limit_mb=512 -malloc_limit_mb=1"
)
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/../../tools/lsan-suppressions.txt:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "${targets[@]}"; do
  [ -x "$fuzz/bin/fuzz_$t" ] || { echo "run_fuzzers: $fuzz/bin/fuzz_$t missing; build it: cmake --build $fuzz --target partita_fuzzers" >&2; exit 2; }
  mkdir -p "$fuzz/corpus/$t" "$fuzz/seeds/$t" "$fuzz/crashes/$t" "$fuzz/fuzz-logs"
  if [ "$t" = checkpoint ]; then
    if [ -z "$(ls -A "$fuzz/seeds/$t")" ]; then
      [ -x "$build/bin/partita" ] || { echo "run_fuzzers: the checkpoint target's seeds come from real jobs: build $build/bin/partita (cmake --build $build --target partita_cli) or pass --build DIR" >&2; exit 2; }
      bash "$here/make_seed_checkpoints.sh" "$build/bin/partita" "$fuzz/seeds/$t"
      if [ -x "$build/bin/fuzz_replay_$t" ]; then  # crafted variants, each reaching one of the reader's checks
        "$build/bin/fuzz_replay_$t" --write-seeds "$fuzz/seeds/$t"
      fi
    fi
  elif [ -x "$build/bin/fuzz_replay_$t" ]; then
    "$build/bin/fuzz_replay_$t" --write-seeds "$fuzz/seeds/$t" > /dev/null
  fi
done

pids=()
for t in "${targets[@]}"; do
  # shellcheck disable=SC2086  # flags are word lists
  "$fuzz/bin/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 ${flags[$t]} \
    -artifact_prefix="$fuzz/crashes/$t/" "$fuzz/corpus/$t" "$fuzz/seeds/$t" "$here/regressions/$t" \
    > "$fuzz/fuzz-logs/$t.log" 2>&1 &
  pids+=($!)
done
echo "fuzzing ${targets[*]} for $seconds s (side by side; logs in $fuzz/fuzz-logs/)"

failed=0
printf '%-11s %10s %9s %7s %7s %7s  %s\n' target runs exec/s cov ft corpus result
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  log=$fuzz/fuzz-logs/$t.log
  rc=0
  wait "${pids[$i]}" || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc)"
    failed=1
  fi
  printf '%-11s %10s %9s %7s %7s %7s  %s\n' "$t" "${runs:--}" "${speed:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$result"
done
if [ "$failed" -ne 0 ]; then
  for t in "${targets[@]}"; do
    log=$fuzz/fuzz-logs/$t.log
    grep -q 'Test unit written to\|ERROR:' "$log" || continue
    echo
    echo "== $t: $(grep -m1 -E 'ERROR|invariant|runtime error' "$log" || echo 'see the log')"
    grep -E 'Seed:|runtime error|invariant|ERROR|SUMMARY|Test unit written' "$log" | head -12
    unit=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    [ -z "$unit" ] || echo "replay: $fuzz/bin/fuzz_$t $unit   (once fixed, commit it to tests/fuzz/regressions/$t/)"
    echo "full log: $log"
  done
  exit 1
fi
