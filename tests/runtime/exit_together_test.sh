#!/usr/bin/env bash
# exit_together: the first rank's message gets out even when it is the slowest rank, and a rank
# that never joins cannot hang the others. Usage: exit_together_test.sh <probe> <case>
set -u
probe=$1; case_name=$2
mpirun=${PARTITA_MPIRUN:?PARTITA_MPIRUN is set by CTest}
out=$(mktemp); trap 'rm -f "$out"' EXIT
fail() { echo "FAIL [$case_name]: $*"; cat "$out"; exit 1; }
case "$case_name" in
slow_first)
  for i in 1 2 3; do
    timeout 60 $mpirun -n 4 "$probe" slow-first > "$out" 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "run $i: exit code $rc, expected 2"
    n=$(grep -c "the message of the first rank" "$out")
    [ "$n" -eq 1 ] || fail "run $i: message printed $n times, expected once"
  done ;;
one_missing)
  start=$(date +%s)
  timeout 60 $mpirun -n 3 "$probe" one-missing > "$out" 2>&1; rc=$?
  took=$(( $(date +%s) - start ))
  [ $rc -ne 124 ] || fail "hung: a rank that never joins held the others"
  [ $rc -ne 0 ] || fail "exit code 0, expected non-zero"
  [ $took -lt 30 ] || fail "took ${took}s, expected about the 1.5 s patience"
  grep -q "the message of the first rank" "$out" || fail "first rank's message missing" ;;
*) echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS [$case_name]"
