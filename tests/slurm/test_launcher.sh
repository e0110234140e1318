#!/usr/bin/env bash
# Tests slurm/partita-launch.sh without Slurm, through mpirun, with a fake partita that records its
# arguments and exits as told: 75 then 0 (relaunch with --restart auto), always failing (gives up after
# --max-relaunch), and SIGUSR1 to the launcher (passed on through mpirun; 75 without Slurm stops).
# Usage: test_launcher.sh <partita-launch.sh> <scratch dir>
set -uo pipefail
launch=$1; work=$2
rm -rf "$work"; mkdir -p "$work"
unset SLURM_JOB_ID SLURM_JOB_NODELIST SLURM_NTASKS
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fails=$((fails + 1)); fi; }

fake=$work/fake-partita
cat >"$fake" <<'FAKE'
#!/usr/bin/env bash
# Fake partita: appends its arguments to $FAKE_LOG, then behaves as $FAKE_PLAN's next line says.
echo "$*" >>"$FAKE_LOG"
n=$(wc -l <"$FAKE_LOG")
what=$(sed -n "${n}p" "$FAKE_PLAN"); what=${what:-$(tail -1 "$FAKE_PLAN")}
# Like partita it writes its exit code to $PARTITA_STATUS_FILE (the job's own word), except as told:
# "silent-0" exits 0 without a word, "say-75-exit-0" says 75 and exits 0 (mpirun --enable-recovery).
say() { echo "$1" >"$PARTITA_STATUS_FILE"; }
case "$what" in
  wait-usr1) trap 'echo checkpointed >>"$FAKE_LOG.sig"; say 75; exit 75' USR1; for _ in $(seq 300); do sleep 0.1; done; exit 9 ;;
  silent-0) exit 0 ;;
  say-75-exit-0) say 75; exit 0 ;;
  *) say "$what"; exit "$what" ;;
esac
FAKE
chmod +x "$fake"
export FAKE_LOG FAKE_PLAN
run() { "$launch" --via mpirun -n 1 --mpirun-args "--oversubscribe" "$@" >"$work/out" 2>&1; }

# 1. 75 ("checkpointed, please requeue") outside Slurm, no signal: relaunch at once with --restart auto.
FAKE_LOG=$work/1.log FAKE_PLAN=$work/1.plan; printf '75\n0\n' >"$FAKE_PLAN"
run --history "$work/hist" -- "$fake" run pi --checkpoint-dir "$work/ck"; rc=$?
check "75 then 0 -> exit 0" '[ $rc -eq 0 ]'
check "two attempts" '[ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'
check "first attempt as given" '[ "$(sed -n 1p "$FAKE_LOG")" = "run pi --checkpoint-dir $work/ck" ]'
check "relaunch adds --restart auto" '[ "$(sed -n 2p "$FAKE_LOG")" = "run pi --checkpoint-dir $work/ck --restart auto" ]'

# 2. A failure every time: relaunched --max-relaunch times, then the job's exit code.
FAKE_LOG=$work/2.log FAKE_PLAN=$work/2.plan; printf '3\n' >"$FAKE_PLAN"
run --max-relaunch 2 --history "$work/hist2" -- "$fake" run pi --restart auto; rc=$?
check "always failing -> exit 3" '[ $rc -eq 3 ]'
check "1 + 2 relaunches" '[ "$(wc -l <"$FAKE_LOG")" -eq 3 ]'
check "existing --restart kept, not doubled" '! grep -q "auto --restart" "$FAKE_LOG"'
check "a planned stop (75) is not an interrupt" '[ ! -s "$work/hist" ]'
check "each crash is a timed interrupt with no node to blame" \
  '[ "$(grep -Ec "^-  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  # Slurm job none attempt [1-3]: exit code 3$" "$work/hist2")" -eq 3 ]'

# 2b. A usage error (exit 2) is never relaunched.
FAKE_LOG=$work/2b.log FAKE_PLAN=$work/2b.plan; printf '2\n0\n' >"$FAKE_PLAN"
run -- "$fake" run pi --bogus; rc=$?
check "usage error -> exit 2" '[ $rc -eq 2 ]'
check "usage error not relaunched" '[ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'

# 3. SIGUSR1 to the launcher (what sbatch --signal=B:USR1 does): through mpirun to the rank, which
#    checkpoints and exits 75; outside Slurm the launcher stops with 75 instead of relaunching.
FAKE_LOG=$work/3.log FAKE_PLAN=$work/3.plan; printf 'wait-usr1\n0\n' >"$FAKE_PLAN"
"$launch" --via mpirun -n 1 --mpirun-args "--oversubscribe" -- "$fake" run pi >"$work/out3" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$FAKE_LOG" ] && break; sleep 0.1; done
sleep 1; kill -USR1 $pid; wait $pid; rc=$?
check "USR1 reaches the rank through mpirun" '[ -s "$FAKE_LOG.sig" ]'
check "USR1 then 75 -> launcher exits 75" '[ $rc -eq 75 ]'
check "no relaunch after an outside stop" '[ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'

# 3b. Exit 0 alone is no proof of completion (mpirun --enable-recovery exits 0 when the job failed): without
#     the job's word it is a failure and relaunched; the job's word (75) wins over the exit status (0).
FAKE_LOG=$work/3b.log FAKE_PLAN=$work/3b.plan; printf 'silent-0\nsay-75-exit-0\n0\n' >"$FAKE_PLAN"
run --history "$work/hist3b" -- "$fake" run pi; rc=$?
check "exit 0 without the job's word, then 75, then 0 -> exit 0" '[ $rc -eq 0 ]'
check "three attempts" '[ "$(wc -l <"$FAKE_LOG")" -eq 3 ]'
check "exit 0 without the job's word is a failure" 'grep -q "the job never said it finished" "$work/out"'
check "the failure is an interrupt, the stop (75) is not" '[ "$(grep -c "attempt 1: exit code 1$" "$work/hist3b")" -eq 1 ] && [ "$(wc -l <"$work/hist3b")" -eq 1 ]'
check "the job's word wins over exit 0" 'grep -q "the launch exited 0; the job says 75" "$work/out"'
check "no status file left behind" '[ -z "$(ls -A "$work" | grep partita-status)" ]'

# 4. --dry-run shows the command and runs nothing.
out=$("$launch" --via mpirun -n 3 --dry-run -- partita run pi 2>&1)
check "dry run prints mpirun -n 3" 'grep -q "mpirun -n 3 .*partita run pi" <<<"$out"'

if [ $fails -ne 0 ]; then
  echo "--- launcher output of the last runs:"; cat "$work/out" "$work/out3"
  echo "$fails checks failed"; exit 1
fi
echo "all launcher checks passed"
