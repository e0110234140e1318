#!/usr/bin/env bash
# A user's own iterative program (partita::main / partita::program) ends a run like `partita run`, also for the
# launcher: through slurm/partita-launch.sh under `mpirun --enable-recovery` (which exits 0 whatever the ranks do),
# it must write the job's word to PARTITA_STATUS_FILE and make a failure seen. Cases:
#   completed       exit 0, launched once, the result line printed once
#   sigusr1_stop    SIGUSR1 stops the first launch at a checkpoint (exit 75), the launcher relaunches it with
#                   --restart auto, and it finishes: the result line printed once, the same as an uninterrupted run's
#                   (a slowed ring, so the signal lands mid-run on a loaded machine)
#   kernel_throws   exit 1, the partition named once
# Usage: iterative_program_launched.sh CASE LAUNCHER RING_DIFFUSION THROWING_RING
set -u
case_=$1 launch=$2 ring=$3 throwing=$4
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-launched.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/out" 2>/dev/null; exit 1; }
count() { grep -c -- "$1" "$2" || true; }
# once LINE WHAT: the output has LINE exactly once.
once() {
  local n
  n=$(count "$1" "$work/out")
  [ "$n" -eq 1 ] || fail "$2 was printed $n times, expected once"
}
# The launcher had the job's own word: its exit status in PARTITA_STATUS_FILE, or mpirun's non-zero exit.
said_its_word() {
  grep -q "never said it finished" "$work/out" && fail "the program left the launcher to guess how it ended (no exit status)"
}
# The launcher under mpirun --enable-recovery, 3 ranks; one relaunch unless told otherwise.
launched() {
  local relaunches=$1
  shift
  "$launch" --via mpirun -n 3 --mpirun-args "--oversubscribe --enable-recovery --mca mpi_yield_when_idle 1" \
    --max-relaunch "$relaunches" --start-retry-delay 1 --history "$work/history" -- "$@" >"$work/out" 2>&1
}

case "$case_" in
completed)
  launched 1 "$ring" --quiet --checkpoint-dir "$work/ck"
  rc=$?
  [ "$rc" -eq 0 ] || fail "exit $rc, expected 0"
  once "settled after" "the result line"
  grep -q "relaunching" "$work/out" && fail "a completed run was relaunched"
  said_its_word
  ;;
sigusr1_stop)
  # The throwing ring that never throws, 400 steps of 5 ms per partition (about 2 s at 3 ranks): long enough that the
  # signal lands mid-run whatever the machine's load (the ring example settles in a fraction of a second).
  slow=(--quiet --param steps=400 --param step_ms=5)
  ref=$($mpirun -n 1 "$throwing" --quiet --param steps=400 | grep "ring done")
  [ -n "$ref" ] || fail "no result from the uninterrupted run"
  # SIGUSR1 (Slurm's warning before the time limit) to the ranks, not to the launcher (which would take it as
  # the end of its allocation), once the first checkpoint is committed: the run checkpoints and stops (75).
  launched 1 "$throwing" "${slow[@]}" --checkpoint-dir "$work/ck" --checkpoint-every 20 &
  pid=$!
  for _ in $(seq 3000); do [ -e "$work/ck/throwing_ring.1.h5" ] && break; sleep 0.02; done
  [ -e "$work/ck/throwing_ring.1.h5" ] || fail "no first checkpoint within 60 s"
  pkill -USR1 -f "^$throwing ${slow[*]} --checkpoint-dir $work/ck"
  wait $pid
  rc=$?
  [ "$rc" -eq 0 ] || fail "exit $rc after the relaunch, expected 0"
  grep -q "relaunching with --restart auto" "$work/out" || fail "the run was not stopped by SIGUSR1"
  once "ring done" "the result line"
  got=$(grep "ring done" "$work/out")
  [ "$got" = "$ref" ] || fail "the relaunched result '$got' differs from the uninterrupted '$ref'"
  said_its_word
  ;;
kernel_throws)
  launched 0 "$throwing" --quiet --param throw_on=2 --param throw_at=3
  rc=$?
  [ "$rc" -eq 1 ] || fail "exit $rc for a throwing kernel, expected 1"
  once "the kernel threw on partition 2: segment 2 overheated" "the failure"
  grep -q "ring done" "$work/out" && fail "a failed run printed a result"
  grep -q "terminate called" "$work/out" && fail "std::terminate"
  said_its_word  # mpirun --enable-recovery was made to exit non-zero: the launcher did not have to guess
  ;;
*) echo "unknown case $case_"; exit 2 ;;
esac
echo "PASS $case_"
