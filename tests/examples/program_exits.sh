#!/usr/bin/env bash
# A user's own program behaves like `partita run`: exit codes 0/1/2/75, one-line messages, and a stopped run
# never prints a result. Usage: program_exits.sh CASE QUICKSTART HISTOGRAM FILE_CHECKSUMS
set -u
case_=$1 quickstart=$2 histogram=$3 checksums=$4
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/out" 2>/dev/null; exit 1; }
count() { grep -c -- "$1" "$2" || true; }

case "$case_" in
walltime_stop_then_restart)
  # The wall time runs out at once: the program checkpoints, prints no result and exits 75 on every rank.
  $mpirun -n 2 "$quickstart" --walltime 0.01 --checkpoint-dir "$work/ck" >"$work/out" 2>&1
  rc=$?
  [ "$rc" -eq 75 ] || fail "exit $rc after --walltime, expected 75"
  grep -q "H(10^8) =" "$work/out" && fail "a stopped run printed a result"
  grep -q "restart auto" "$work/out" || fail "no line says how to finish the job"
  $mpirun -n 1 "$quickstart" --quiet >"$work/ref" 2>&1 || fail "uninterrupted run failed"
  ref=$(grep "H(10^8) =" "$work/ref")
  [ -n "$ref" ] || fail "no result from the uninterrupted run"
  # Restart on another rank count: exit 0 and bitwise the uninterrupted result.
  $mpirun -n 3 "$quickstart" --quiet --restart auto --checkpoint-dir "$work/ck" >"$work/out" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || fail "exit $rc after the restart"
  grep -q "restart: from" "$work/out" || fail "did not restart from the checkpoint"
  got=$(grep "H(10^8) =" "$work/out")
  [ "$got" = "$ref" ] || fail "restarted result '$got' differs from the uninterrupted '$ref'" ;;
sigusr1_stop)
  # SIGUSR1 (Slurm's warning before the time limit) checkpoints and stops: exit 75 on every rank, no result.
  args=(--param walks=300000)
  $mpirun -n 1 "$histogram" --quiet "${args[@]}" >"$work/ref" 2>&1 || fail "uninterrupted run failed"
  ref=$(grep "walks:" "$work/ref")
  $mpirun -n 2 "$histogram" --checkpoint-dir "$work/ck" "${args[@]}" >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q "elected" "$work/out" && break; sleep 0.05; done
  sleep 0.3
  pkill -USR1 -f "example_histogram --checkpoint-dir $work/ck"
  wait $pid
  rc=$?
  [ "$rc" -eq 75 ] || fail "exit $rc after SIGUSR1, expected 75"
  grep -q "walks:" "$work/out" && fail "a stopped run printed a result"
  $mpirun -n 3 "$histogram" --quiet --restart auto --checkpoint-dir "$work/ck" "${args[@]}" >"$work/out" 2>&1 \
    || fail "restart failed"
  got=$(grep "walks:" "$work/out")
  [ -n "$ref" ] && [ "$got" = "$ref" ] || fail "restarted result '$got' differs from the uninterrupted '$ref'" ;;
kernel_throws)
  # A kernel that throws: exit 1 on every rank, the partition named once, no std::terminate (134).
  $mpirun -n 3 "$checksums" --quiet -- "$checksums" /nonexistent/file >"$work/out" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] || fail "exit $rc for a throwing kernel, expected 1"
  n=$(count "the kernel threw on partition 1: cannot open /nonexistent/file" "$work/out")
  [ "$n" -eq 1 ] || fail "the failure was printed $n times, expected once"
  grep -q "terminate called" "$work/out" && fail "std::terminate" ;;
bad_flag)
  $mpirun -n 3 "$quickstart" --policy fastest >"$work/out" 2>&1
  rc=$?
  [ "$rc" -eq 2 ] || fail "exit $rc for a bad flag, expected 2"
  n=$(count "error:" "$work/out")
  [ "$n" -eq 1 ] || fail "the error was printed $n times, expected once" ;;
*) echo "unknown case $case_"; exit 2 ;;
esac
echo "PASS $case_"
