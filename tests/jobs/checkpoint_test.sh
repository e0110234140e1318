#!/usr/bin/env bash
# Fault tests of checkpoint/restart through the partita CLI: real mpirun, real SIGKILLs at named crash points,
# real damaged files, a real SIGUSR1, a real write limit. Every case ends by comparing the restarted job's
# result with an uninterrupted run's. Usage: checkpoint_test.sh CASE PATH/TO/partita
set -u
case_name=$1
partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-ckpt.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*"; [ -f "$work/log" ] && tail -30 "$work/log"; exit 1; }
ck=$work/ck
job=(run synthetic --param partitions=2000 --param median_us=300 --param dist=lognormal --param sigma=1.0 --quiet)
result() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1"; }
field() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"; }

# The uninterrupted reference, without checkpoints, at 2 ranks.
reference() {
  $mpirun -n 2 "$partita" "${job[@]}" --summary-json "$work/ref.json" > "$work/log" 2>&1 || fail "reference run exited $?"
  ref=$(result "$work/ref.json")
}
# Restart from $ck with --restart auto at $1 ranks and compare with the reference; extra flags follow.
restart_and_compare() {
  local np=$1; shift
  $mpirun -n "$np" "$partita" "${job[@]}" --checkpoint-dir "$ck" --restart auto --summary-json "$work/re.json" "$@" \
    > "$work/log" 2>&1 || fail "restart at $np ranks exited $?"
  got=$(result "$work/re.json")
  [ "$got" = "$ref" ] || fail "restarted result '$got' differs from the uninterrupted '$ref'"
}
# A run that writes a few checkpoints and completes.
checkpointed_run() {
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 --keep 4 \
    --summary-json "$work/first.json" > "$work/log" 2>&1 || fail "checkpointed run exited $?"
}
newest() { ls "$ck"/synthetic.*.h5 | sort -t. -k2 -n | tail -1; }

# Slower jobs for the cases that must stop a running job from outside; a bigger state for full_disk.
case $case_name in
sigusr1) job=(run synthetic --param partitions=6000 --param median_us=3000 --param sigma=0.5 --quiet) ;;
walltime) job=(run synthetic --param partitions=8000 --param median_us=3000 --param sigma=0.5 --quiet) ;;
full_disk) job=(run synthetic --param partitions=5000 --param median_us=100 --quiet) ;;
esac
reference
case $case_name in
crash_*)
  # Kill the scheduler at this phase of the third checkpoint, then restart at a different rank count.
  point=${case_name#crash_}
  PARTITA_CRASH_AT="ckpt.$point:3" $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 \
    > "$work/log" 2>&1; rc=$?
  [ $rc -ne 0 ] || fail "the job was not killed (crash point ckpt.$point never reached?)"
  grep -q "crash point 'ckpt.$point' reached" "$work/log" || fail "no crash at ckpt.$point"
  restart_and_compare 2
  grep -q "restart: from" "$work/log" || fail "did not restart from a checkpoint"
  [ "$(field "$work/re.json" "d['checkpoints']['restored_done'] > 0")" = True ] || fail "restored nothing" ;;
truncated_newest)
  checkpointed_run
  n=$(newest); size=$(stat -c %s "$n"); truncate -s $((size / 2)) "$n"
  restart_and_compare 2
  grep -q "passed over $n" "$work/log" || fail "no log line saying why $n was skipped"
  grep -q "restart: from" "$work/log" || fail "did not restart from the previous checkpoint" ;;
flipped_byte)
  checkpointed_run
  n=$(newest)
  off=$(h5dump -p -H -d /scheduler/cost "$n" | awk '/OFFSET/ {print $2}')
  [ -n "$off" ] || fail "cannot find the dataset's offset"
  printf '\xff\xff\xff\xff' | dd of="$n" bs=1 seek=$((off + 64)) conv=notrunc status=none
  "$partita" verify "$n" > "$work/verify" 2>&1 && fail "verify passed a damaged file"
  grep -q "/scheduler/cost" "$work/verify" || fail "verify does not name the damaged dataset: $(cat "$work/verify")"
  restart_and_compare 3
  grep -q "passed over $n" "$work/log" || fail "no log line saying why $n was skipped" ;;
stale_tmp)
  checkpointed_run
  head -c 4096 /dev/urandom > "$ck/synthetic.99.h5.tmp"
  restart_and_compare 2
  grep -q "synthetic.99.h5.tmp" "$work/log" || fail "no log line about the stale .tmp" ;;
no_latest)
  checkpointed_run
  rm -f "$ck/LATEST"
  want=$(newest)
  restart_and_compare 4
  grep -q "restart: from $want" "$work/log" || fail "did not take the newest checkpoint without LATEST" ;;
sigusr1)
  # A slower job, stopped by SIGUSR1 (as Slurm's --signal sends): checkpoint, exit 75, restart finishes it.
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --summary-json "$work/stop.json" > "$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "elected\|chosen by" "$work/log" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  kill -USR1 $pid
  wait $pid; rc=$?
  [ $rc -eq 75 ] || fail "exit code $rc after SIGUSR1, expected 75 (checkpointed, please requeue)"
  [ "$(field "$work/stop.json" "d['status']")" = checkpointed ] || fail "summary status is not checkpointed"
  grep -q "SIGUSR1 received" "$work/log" || fail "no log line about SIGUSR1"
  restart_and_compare 2
  [ "$(field "$work/re.json" "d['checkpoints']['restored_done'] > 0")" = True ] || fail "restored nothing" ;;
walltime)
  # --walltime shorter than the job: the last checkpoint lands before it, exit 75, restart finishes.
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-interval auto --walltime 2 \
    --summary-json "$work/stop.json" > "$work/log" 2>&1; rc=$?
  [ $rc -eq 75 ] || fail "exit code $rc, expected 75"
  grep -q "wall time" "$work/log" || fail "no log line about the wall time"
  restart_and_compare 2 ;;
full_disk)
  # The first run checkpoints fine. The restarted run writes to a real, nearly full file system (a tmpfs
  # holding the checkpoint it restarts from and 16 KiB more, less than any checkpoint of this job): its
  # checkpoints fail with a clear error, the job still finishes with the right result, and the old checkpoint
  # still verifies. (A checkpoint's size varies from run to run with the results that arrived out of order.)
  checkpointed_run
  prev=$(ls "$ck"/synthetic.*.h5 | sort -t. -k2 -n | tail -2 | head -1)  # not the final one: work is left
  small=$work/small
  mkdir -p "$small"
  room=$(( ($(stat -c %s "$prev") + 4095) / 4096 * 4096 + 16384 ))
  mount -t tmpfs -o size=$room tmpfs "$small" || fail "cannot mount a small tmpfs (this test needs root)"
  trap 'umount "$small" 2>/dev/null; rm -rf "$work"' EXIT
  cp "$prev" "$small/" || fail "the checkpoint to restart from does not fit in $room bytes"
  good=$small/$(basename "$prev")
  ck=$small restart_and_compare 2 --checkpoint-every 200
  grep -qiE "no space left|file system is full|disk is full" "$work/log" || fail "no clear error about the full disk"
  "$partita" verify "$good" > /dev/null || fail "the previous checkpoint no longer verifies"
  ls "$small"/*.tmp >/dev/null 2>&1 && fail "a .tmp was left behind"
  ;;
other_params)
  checkpointed_run
  n=$(newest)
  $mpirun -n 2 "$partita" run synthetic --param partitions=2000 --param median_us=301 --quiet --restart "$n" \
    > "$work/log" 2>&1; rc=$?
  [ $rc -ne 0 ] || fail "a checkpoint of other parameters was accepted"
  grep -q "$n" "$work/log" && grep -qi "param" "$work/log" || fail "the error does not name the file and the mismatch" ;;
cost_policy_uses_measured)
  job=(run synthetic --param partitions=2000 --param median_us=300 --param hint=false --quiet)
  reference
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 --keep 2 > "$work/log" 2>&1 \
    || fail "first run"
  rm -f "$ck"/synthetic.$(ls "$ck" | grep -c 'h5$').h5  # drop the final checkpoint: restart mid-way
  restart_and_compare 2 --policy cost
  grep -q "cost policy: ordering by [1-9][0-9]* measured costs" "$work/log" || fail "cost policy did not use measured costs" ;;
mtti_from_history)
  # --checkpoint-interval auto without --mtti: the mean time to interrupt is this job's run time (carried in
  # its checkpoints) over the interrupts in the failure history (<checkpoint-dir>/failure-history by default).
  reference
  $mpirun -n 3 "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 --keep 2 > "$work/log" 2>&1 \
    || fail "first run"
  rm -f "$ck"/synthetic.$(ls "$ck" | grep -c 'h5$').h5  # drop the final checkpoint: restart mid-way
  { echo "# written by hand: an untimed line marks a host, it is not an interrupt"
    echo "nodeX  # bad memory"
    echo "nodeY  2026-11-25T10:00:00Z  # Slurm job 7 attempt 1: node state DOWN"
    echo "nodeZ  2026-11-25T10:00:20Z  # the same failure took a second node"
    echo "-      2026-11-25T11:00:00Z  # Slurm job 7 attempt 2: exit code 137"; } > "$ck/failure-history"
  restart_and_compare 2 --checkpoint-interval auto
  line=$(grep "mean time to interrupt" "$work/log") || fail "no Young/Daly line"
  python3 - "$line" <<'PY' || fail "mean time to interrupt is not run time / 2 interrupts: $line"
import re, sys
m = re.search(r"mean time to interrupt ([0-9.]+) s \(from the failure history: 2 interrupts over ([0-9.]+) s", sys.argv[1])
assert m, "not derived from the history"
mtti, run = float(m.group(1)), float(m.group(2))
assert run > 0 and abs(mtti - run / 2) <= (0.0011 if run < 10 else 0.051), (mtti, run)
PY
  # An explicit --mtti wins over the history.
  restart_and_compare 2 --checkpoint-interval auto --mtti 900
  grep -q "mean time to interrupt 900.0 s (from --mtti)" "$work/log" || fail "--mtti did not win: $(grep 'mean time' "$work/log")" ;;
scheduler_killed_relaunch)
  # docs/design.md, "Recovery" end to end: the scheduler rank is SIGKILLed after 700 results; slurm/partita-launch.sh
  # sees the crash, records it, relaunches with --restart auto; the injection has fired once (the failure
  # history says so), so the relaunch runs to the end, from a checkpoint, with the uninterrupted result.
  reference
  launch=$(cd "$(dirname "$0")/../../slurm" && pwd)/partita-launch.sh
  timeout 200 "$launch" --via mpirun -n 3 --mpirun-args "--oversubscribe --mca mpi_yield_when_idle 1 --bind-to none" \
    -- "$partita" "${job[@]}" --checkpoint-dir "$ck" --checkpoint-every 300 --inject kill:scheduler:after=700 \
    --summary-json "$work/re.json" > "$work/log" 2>&1 || fail "the launcher exited $? (124: hung)"
  grep -q "crash point 'scheduler.commit' reached" "$work/log" || fail "the scheduler was not killed"
  grep -q "attempt 2: " "$work/log" || fail "no relaunch"
  ! grep -q "attempt 3: " "$work/log" || fail "the injection fired again in the relaunch"
  got=$(result "$work/re.json")
  [ "$got" = "$ref" ] || fail "relaunched result '$got' differs from the uninterrupted '$ref'"
  [ "$(field "$work/re.json" "d['checkpoints']['restored_done']")" -ge 300 ] || fail "the relaunch did not start from a checkpoint"
  grep -Eq "^[^ ]+  [0-9T:-]{19}Z  # injected kill:scheduler:after=700 \(rank [0-2]\)$" "$ck/failure-history" \
    || fail "the injected failure is not in the history: $(cat "$ck/failure-history")"
  grep -Eq "^-  [0-9T:-]{19}Z  # Slurm job none attempt 1: exit code [0-9]+$" "$ck/failure-history" \
    || fail "the launcher did not record the crash: $(cat "$ck/failure-history")" ;;
*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
