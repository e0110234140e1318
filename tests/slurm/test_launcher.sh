#!/usr/bin/env bash
# Tests slurm/partita-launch.sh without Slurm, with a fake partita that records its arguments, marks itself
# started (PARTITA_STARTED_FILE, as partita's session does) or not, and exits as told: 75 then 0 (relaunch
# with --restart auto), always failing (gives up after --max-relaunch), SIGUSR1 to the launcher (passed on
# through mpirun; 75 without Slurm stops), runs that never start (not an interrupt, one retry after a pause,
# exit 2 never retried), a missing program; then, with fake scontrol/srun/mpirun standing in for a Slurm
# allocation of two nodes, which nodes are blamed (a passing NOT_RESPONDING is not; a DRAIN is; a node that
# answers a probe step is not), the mpirun relaunch through a host file without the blamed node, srun's
# --exclude and --mpi=pmix choice, and the requeue when no node is left; outside Slurm, the hosts of mpirun's own
# host file that do not answer its rsh agent blamed and left out (a fake agent).
# Usage: test_launcher.sh <partita-launch.sh> <scratch dir>
# shellcheck disable=SC2016,SC2034  # check's conditions are evaluated later, on purpose
set -uo pipefail
launch=$1; work=$2
rm -rf "$work"; mkdir -p "$work"
unset SLURM_JOB_ID SLURM_JOB_NODELIST SLURM_NTASKS SLURM_JOB_NUM_NODES SLURM_TASKS_PER_NODE SLURM_MPI_TYPE
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fails=$((fails + 1)); fi; }

fake=$work/fake-partita
cat >"$fake" <<'FAKE'
#!/usr/bin/env bash
# Fake partita: appends its arguments to $FAKE_LOG, then behaves as $FAKE_PLAN's next line says:
# N (start, then exit N), nostart-N (exit N before starting), wait-usr1 (start, exit 75 on SIGUSR1).
echo "$*" >>"$FAKE_LOG"
n=$(wc -l <"$FAKE_LOG")
what=$(sed -n "${n}p" "$FAKE_PLAN"); what=${what:-$(tail -1 "$FAKE_PLAN")}
# Like partita it writes its exit code to $PARTITA_STATUS_FILE (the job's own word), except as told:
# "silent-0" exits 0 without a word, "say-75-exit-0" says 75 and exits 0 (mpirun --enable-recovery), "say-75-exit-1"
# says 75 and exits 1 (a stopped job whose launch failed), "say-75-stop-mpirun" says 75 and ends its mpirun as
# partita does under --enable-recovery to make a non-zero code seen (detail::make_launcher_see_failure).
say() { echo "$1" >"$PARTITA_STATUS_FILE"; }
case "$what" in
  nostart-*) exit "${what#nostart-}" ;;
  slow-wait-usr1) sleep 1.5; what=wait-usr1 ;;   # loading: SIGUSR1 now would kill it
esac
[ "$what" = wait-usr1 ] && trap 'echo checkpointed >>"$FAKE_LOG.sig"; say 75; exit 75' USR1
[ -n "${PARTITA_STARTED_FILE:-}" ] && echo started >"$PARTITA_STARTED_FILE"
case "$what" in
  wait-usr1) trap 'echo checkpointed >>"$FAKE_LOG.sig"; say 75; exit 75' USR1; for _ in $(seq 300); do sleep 0.1; done; exit 9 ;;
  silent-0) exit 0 ;;
  say-75-exit-0) say 75; exit 0 ;;
  say-75-exit-1) say 75; exit 1 ;;
  say-75-stop-mpirun) say 75; kill -TERM "$PPID"; exit 75 ;;
  say-0-hang) say 0; sleep 60; exit 9 ;;   # an mpirun that waits for a lost node's daemon after the job ended
  say-1-hang) say 1; sleep 60; exit 9 ;;   # a rank failed; a peer waits for it forever (MPI_Finalize, a collective)
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
check "no stray started-file left" '[ -z "$(find "$work" -name ".partita-started*")" ]'

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

# 3b. A run that never starts (no started-file, e.g. an MPI that cannot start under this launcher): not an
#     interrupt (only a '#' line in the history), retried once after the pause, then given up.
FAKE_LOG=$work/3b.log FAKE_PLAN=$work/3b.plan; printf 'nostart-1\n' >"$FAKE_PLAN"
t0=$(date +%s.%N)
run --start-retry-delay 1.5 --history "$work/hist3b" -- "$fake" run pi; rc=$?
t1=$(date +%s.%N)
check "start-up failure -> its exit code" '[ $rc -eq 1 ]'
check "start-up failure retried exactly once" '[ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'
check "the retry waited for the pause" 'awk -v a="$t0" -v b="$t1" "BEGIN { exit !(b - a >= 1.5) }"'
check "start-up failures are no timed interrupt" '! grep -qv "^#" "$work/hist3b"'
check "start-up failures are noted as comments" '[ "$(grep -c "did not start (exit code 1); not an interrupt" "$work/hist3b")" -eq 2 ]'
check "start-up failure says so" 'grep -q "did not start (exit 1 before MPI was up" "$work/out" && grep -q "did not start again" "$work/out"'
check "start-up failure is not called a crash" '! grep -q "job failed with exit code" "$work/out"'

# 3c. A start-up failure, then a run that starts and finishes: exit 0; the retry keeps the arguments.
FAKE_LOG=$work/3c.log FAKE_PLAN=$work/3c.plan; printf 'nostart-1\n0\n' >"$FAKE_PLAN"
run --start-retry-delay 0 --history "$work/hist3c" -- "$fake" run pi; rc=$?
check "start-up failure then success -> exit 0" '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'

# 3d. Exit 2 before the start (a usage error, or srun's code for a missing program): never retried.
FAKE_LOG=$work/3d.log FAKE_PLAN=$work/3d.plan; printf 'nostart-2\n0\n' >"$FAKE_PLAN"
run --start-retry-delay 0 --history "$work/hist3d" -- "$fake" run pi; rc=$?
check "exit 2 before the start -> exit 2, one attempt" '[ $rc -eq 2 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'
check "exit 2 is no interrupt" '[ ! -s "$work/hist3d" ]'

# 3e. A missing program: named at once, nothing launched.
run --history "$work/hist3e" -- "$work/no-such-partita" run pi; rc=$?
check "missing program -> exit 127" '[ $rc -eq 127 ]'
check "missing program named" 'grep -q "no-such-partita. is not found" "$work/out"'
check "missing program: no attempt" '! grep -q "attempt 1" "$work/out" && [ ! -s "$work/hist3e" ]'

# 3f. SIGUSR1 before the job has started (a short job gets Slurm's warning at once): held until the job
#     marks itself started, then passed on; the job checkpoints (75) instead of dying of it.
FAKE_LOG=$work/3f.log FAKE_PLAN=$work/3f.plan; printf 'slow-wait-usr1\n0\n' >"$FAKE_PLAN"
"$launch" --via mpirun -n 1 --mpirun-args "--oversubscribe" -- "$fake" run pi >"$work/out3f" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$FAKE_LOG" ] && break; sleep 0.1; done
kill -USR1 $pid; wait $pid; rc=$?
check "early USR1 held, then passed on: 75" '[ $rc -eq 75 ] && [ -s "$FAKE_LOG.sig" ]'
check "early USR1: said so" 'grep -q "got SIGUSR1 before the job started" "$work/out3f" && grep -q "passing the held SIGUSR1" "$work/out3f"'

# 3g. Exit 0 alone is no proof of completion (mpirun --enable-recovery exits 0 when the job failed): without
#     the job's word it is a failure and relaunched; the job's word (75) wins over the exit status (0).
FAKE_LOG=$work/3g.log FAKE_PLAN=$work/3g.plan; printf 'silent-0\nsay-75-exit-0\n0\n' >"$FAKE_PLAN"
"$launch" --via mpirun -n 1 --mpirun-args "--oversubscribe --enable-recovery" --history "$work/hist3g" -- "$fake" run pi \
  >"$work/out" 2>&1; rc=$?
check "exit 0 without the job's word, then 75, then 0 -> exit 0" '[ $rc -eq 0 ]'
check "three attempts" '[ "$(wc -l <"$FAKE_LOG")" -eq 3 ]'
check "exit 0 without the job's word is a failure" 'grep -q "the job never said it finished" "$work/out"'
check "the failure is an interrupt, the stop (75) is not" '[ "$(grep -c "attempt 1: exit code 1$" "$work/hist3g")" -eq 1 ] && [ "$(wc -l <"$work/hist3g")" -eq 1 ]'
check "the job's word wins over exit 0" 'grep -q "the launch exited 0; the job says 75" "$work/out"'
check "no status file left behind" '[ -z "$(ls -A "$work" | grep partita-status)" ]'

# 3h. Without --enable-recovery, exit 0 of a program that never writes the job's word (not built on
#     partita::program) is taken as done, with a warning: one attempt.
FAKE_LOG=$work/3h.log FAKE_PLAN=$work/3h.plan; printf 'silent-0\n' >"$FAKE_PLAN"
run --history "$work/hist3h" -- "$fake" run pi; rc=$?
check "exit 0 without the word, no recovery -> done" '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'
check "exit 0 without the word: warned" 'grep -q "without the job.s word" "$work/out"'

# 3i. The job says 75 but the launch failed, and no stop signal came through the launcher. Without
#     --enable-recovery srun/mpirun stopped the survivors of a rank that died: an interrupt, relaunched. With it,
#     nobody stops survivors, and the job itself ends mpirun to make its 75 seen (a signal sent to mpirun directly):
#     a planned stop like any 75 (relaunched at once outside Slurm), not an interrupt in the failure history.
FAKE_LOG=$work/3i.log FAKE_PLAN=$work/3i.plan; printf 'say-75-exit-1\n0\n' >"$FAKE_PLAN"
run --history "$work/hist3i" -- "$fake" run pi; rc=$?
check "75 with a failed launch, no recovery: a lost rank, relaunched" \
  '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ] && grep -q "a rank was lost" "$work/out"'
FAKE_LOG=$work/3j.log FAKE_PLAN=$work/3j.plan; printf 'say-75-stop-mpirun\n0\n' >"$FAKE_PLAN"
"$launch" --via mpirun -n 1 --mpirun-args "--oversubscribe --enable-recovery" --history "$work/hist3j" -- "$fake" run pi \
  >"$work/out" 2>&1; rc=$?
check "75 with a failed launch under --enable-recovery: a planned stop, not a lost rank" \
  '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ] && ! grep -q "a rank was lost" "$work/out" && [ ! -s "$work/hist3j" ]'

# A fake run that says its word and then hangs, as an mpirun that does not end: launched with --finalize-grace 1.
# hanging_run <case> <plan> <mpirun args>; the launcher's output in $work/out<case>, its time in $took.
hanging_run() {
  FAKE_LOG=$work/$1.log FAKE_PLAN=$work/$1.plan; printf '%b' "$2" >"$FAKE_PLAN"
  local t0=$SECONDS
  "$launch" --via mpirun -n 1 --finalize-grace 1 --mpirun-args "$3" --history "$work/hist$1" \
    -- "$fake" run pi >"$work/out$1" 2>&1; rc=$?
  took=$((SECONDS - t0))
}

# 3k. Under --enable-recovery the job said 0 but mpirun does not end (it waits for a lost node's daemon): after
#     --finalize-grace seconds the launcher ends mpirun and takes the job's word; it added plm_rsh_no_tree_spawn.
hanging_run 3k 'say-0-hang\n' "--oversubscribe --enable-recovery"
check "word 0, mpirun hanging: ended after the grace, exit 0, one attempt" \
  '[ $rc -eq 0 ] && [ $took -lt 30 ] && grep -q "said it ended (exit 0) 1 s ago and mpirun is still waiting" "$work/out3k" && [ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'
check "--enable-recovery gets --mca plm_rsh_no_tree_spawn 1" 'grep -q "attempt 1: mpirun .*--enable-recovery .*--mca plm_rsh_no_tree_spawn 1" "$work/out3k"'

# 3l. Without --enable-recovery: a rank failed and said 1, but mpirun does not end (a peer waits for it in
#     MPI_Finalize or a collective, e.g. across a lossy link): ended after the grace, relaunched, done.
hanging_run 3l 'say-1-hang\n0\n' "--oversubscribe"
check "word 1, mpirun hanging, no recovery: ended after the grace, relaunched, exit 0" \
  '[ $rc -eq 0 ] && [ $took -lt 30 ] && grep -q "said it ended (exit 1) 1 s ago and mpirun is still waiting" "$work/out3l" && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'

# 4. --dry-run shows the command and runs nothing.
out=$("$launch" --via mpirun -n 3 --dry-run -- partita run pi 2>&1)
check "dry run prints mpirun -n 3" 'grep -q "mpirun -n 3 .*partita run pi" <<<"$out"'
out=$("$launch" --max-relaunch many -- partita run pi 2>&1); rc=$?
check "a bad option value: exit 2, named" '[ $rc -eq 2 ] && grep -q "max-relaunch needs a whole number, not .many." <<<"$out"'
out=$("$launch" --recheck-delay 2>&1); rc=$?
check "an option without its value: exit 2, named" '[ $rc -eq 2 ] && grep -q "recheck-delay needs a value" <<<"$out"'

# 5. A fake two-node Slurm allocation: scontrol answers node states from $FAKE_NODES/<host> (one line per
#    call, the last one repeated), srun answers --mpi=list, runs probe steps (--overlap; exit code from
#    <host>.probe) and runs the job; mpirun records its arguments and host file and runs the job.
bin=$work/bin; mkdir -p "$bin"
cat >"$bin/scontrol" <<'FAKE'
#!/usr/bin/env bash
case "$1 $2" in
  "show hostnames") [ "$3" = "n[1-2]" ] && printf 'n1\nn2\n' || echo "$3" ;;
  "show node")
    f=$FAKE_NODES/$3; c=$(( $(cat "$f.calls" 2>/dev/null || echo 0) + 1 )); echo "$c" >"$f.calls"
    st=$(sed -n "${c}p" "$f"); st=${st:-$(tail -1 "$f")}
    echo "NodeName=$3 Arch=x86_64 CoresPerSocket=1 State=$st ThreadsPerCore=1" ;;
  "requeue "*) echo "$2" >>"$FAKE_NODES/requeued" ;;
  *) exit 1 ;;
esac
FAKE
cat >"$bin/srun" <<'FAKE'
#!/usr/bin/env bash
[ "$1" = "--mpi=list" ] && { printf 'MPI plugin types are...\n\t%s\n' $FAKE_MPI_LIST; exit 0; }
if [ "$1" = "--overlap" ]; then echo "$3" >>"$FAKE_NODES/probed"; exit "$(cat "$FAKE_NODES/$3.probe" 2>/dev/null || echo 0)"; fi
echo "srun $*" >>"$FAKE_NODES/launches"
while [ $# -gt 0 ] && [ "$1" != "$FAKE_PROGRAM" ]; do shift; done
exec "$@"
FAKE
cat >"$bin/mpirun" <<'FAKE'
#!/usr/bin/env bash
echo "mpirun $*" >>"$FAKE_NODES/launches"
prev=
for a in "$@"; do [ "$prev" = --hostfile ] && { echo "--- $a"; cat "$a"; } >>"$FAKE_NODES/hostfiles"; prev=$a; done
while [ $# -gt 0 ] && [ "$1" != "$FAKE_PROGRAM" ]; do shift; done
exec "$@"
FAKE
chmod +x "$bin"/*
export FAKE_NODES FAKE_PROGRAM=$fake FAKE_MPI_LIST
slurm_run() {  # slurm_run <case> <n1 states> <n2 states> <plan> [launcher options...]
  local c=$1; FAKE_NODES=$work/$c.nodes; FAKE_LOG=$work/$c.log FAKE_PLAN=$work/$c.plan
  rm -rf "$FAKE_NODES"; mkdir -p "$FAKE_NODES"
  printf '%b' "$2" >"$FAKE_NODES/n1"; printf '%b' "$3" >"$FAKE_NODES/n2"; printf '%b' "$4" >"$FAKE_PLAN"
  local h; for h in ${PROBE_FAIL:-}; do echo 1 >"$FAKE_NODES/$h.probe"; done
  shift 4
  PATH=$bin:$PATH SLURM_JOB_ID=42 SLURM_JOB_NODELIST='n[1-2]' SLURM_JOB_NUM_NODES=2 SLURM_NTASKS=4 \
    SLURM_TASKS_PER_NODE='2(x2)' "$launch" --recheck-delay 0.2 --start-retry-delay 0 --history "$work/$c.hist" \
    "$@" -- "$fake" run pi >"$work/out" 2>&1
}
FAKE_MPI_LIST="none pmi2 pmix cray_shasta"

# 5a. n2 drained while the job runs: blamed (history), left out of the mpirun relaunch (host file n1 only).
slurm_run 5a 'ALLOCATED\n' 'ALLOCATED+DRAIN\n' '3\n0\n' --via mpirun; rc=$?
check "drained node: relaunch finishes" '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'
check "drained node recorded with its state" 'grep -Eq "^n2  [0-9T:-]{19}Z  # Slurm job 42 attempt 1: node state ALLOCATED\+DRAIN$" "$work/5a.hist"'
check "healthy node not recorded" '! grep -q "^n1" "$work/5a.hist" && ! grep -q "^-" "$work/5a.hist"'
check "first mpirun uses the whole allocation" '[ "$(sed -n 1p "$FAKE_NODES/launches" | grep -c -- --hostfile)" -eq 0 ]'
check "mpirun relaunch: 2 ranks through a host file of n1 only" \
  'sed -n 2p "$FAKE_NODES/launches" | grep -q "^mpirun -n 2 --hostfile " && [ "$(grep -v "^---" "$FAKE_NODES/hostfiles")" = "n1 slots=2" ]'

# 5b. n1 ALLOCATED+NOT_RESPONDING for a moment (a loaded node): not blamed; a '-' interrupt; same nodes again.
slurm_run 5b 'ALLOCATED+NOT_RESPONDING\nALLOCATED\n' 'ALLOCATED\n' '3\n0\n' --via srun; rc=$?
check "passing NOT_RESPONDING: relaunch finishes" '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'
check "passing NOT_RESPONDING: no node blamed" '! grep -q "^n" "$work/5b.hist" && grep -q "^-  .*exit code 3$" "$work/5b.hist"'
check "passing NOT_RESPONDING: said so" 'grep -q "node n1 was ALLOCATED+NOT_RESPONDING, now ALLOCATED: a passing state, not blamed" "$work/out"'
check "srun gets --mpi=pmix and no --exclude" \
  '[ "$(grep -c "^srun --kill-on-bad-exit=1 --mpi=pmix $fake" "$FAKE_NODES/launches")" -eq 2 ] && ! grep -q exclude "$FAKE_NODES/launches"'

# 5c. n1 still NOT_RESPONDING but it runs a probe step: not blamed. 5d: the probe fails: blamed, excluded.
slurm_run 5c 'ALLOCATED+NOT_RESPONDING\n' 'ALLOCATED\n' '3\n0\n' --via srun; rc=$?
check "node answering a probe: not blamed" '[ $rc -eq 0 ] && ! grep -q "^n" "$work/5c.hist" && [ "$(cat "$FAKE_NODES/probed")" = n1 ]'
PROBE_FAIL=n1 slurm_run 5d 'ALLOCATED+NOT_RESPONDING\n' 'ALLOCATED\n' '3\n0\n' --via srun --srun-args "--mpi=pmi2 --cpu-bind=cores"; rc=$?
check "node failing a probe: blamed" '[ $rc -eq 0 ] && grep -q "^n1  .*node state ALLOCATED+NOT_RESPONDING, and a probe step on it failed$" "$work/5d.hist"'
check "srun relaunch excludes it, with the operator's srun options and no --mpi=pmix" \
  'sed -n 2p "$FAKE_NODES/launches" | grep -q "^srun --kill-on-bad-exit=1 --mpi=pmi2 --cpu-bind=cores --exclude=n1 -N 1 -n 2 $fake"'

# 5e. Both nodes down: the Slurm job is requeued (it resumes elsewhere), exit 75, no relaunch here.
slurm_run 5e 'DOWN+NOT_RESPONDING\n' 'DOWN\n' '3\n0\n' --via srun; rc=$?
check "no node left: requeue, exit 75" '[ $rc -eq 75 ] && [ "$(cat "$FAKE_NODES/requeued")" = 42 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 1 ]'
check "no node left: both recorded" '[ "$(grep -c "^n[12]  " "$work/5e.hist")" -eq 2 ]'

# 5f. srun without a pmix plugin: a warning naming the way out, srun as it is.
FAKE_MPI_LIST="none pmi2"
out=$(PATH=$bin:$PATH SLURM_JOB_ID=42 "$launch" --dry-run -- "$fake" run pi 2>&1)
check "no pmix: warned, plain srun" 'grep -q "srun offers no pmix plugin" <<<"$out" && grep -q "attempt 1: srun --kill-on-bad-exit=1 $fake" <<<"$out"'

# 6. Outside Slurm, mpirun with a host file of its own: after a failure every host is asked to run `true` through
#    mpirun's rsh agent (--mca plm_rsh_agent); h3, which never answers, is blamed and left out of a copy of the
#    host file; h2, which fails once and then answers, is not. A host file that is not there: exit 2, named.
agent=$work/fake-agent
cat >"$agent" <<'FAKE'
#!/usr/bin/env bash
echo "$*" >>"$FAKE_NODES/agent"
case "$1" in h3) exit 255 ;; h2) [ "$(grep -c '^h2 ' "$FAKE_NODES/agent")" -ge 2 ] || exit 255 ;; esac
[ "$2" = true ]
FAKE
chmod +x "$agent"
FAKE_NODES=$work/6.nodes FAKE_LOG=$work/6.log FAKE_PLAN=$work/6.plan
rm -rf "$FAKE_NODES"; mkdir -p "$FAKE_NODES"; printf '3\n0\n' >"$FAKE_PLAN"
printf 'h1 slots=2\nh2 slots=2\nh3 slots=2\n' >"$work/6.hosts"
PATH=$bin:$PATH "$launch" --via mpirun -n 6 --recheck-delay 0.2 --history "$work/6.hist" \
  --mpirun-args "--hostfile $work/6.hosts --mca plm_rsh_agent $agent" -- "$fake" run pi >"$work/out" 2>&1; rc=$?
check "host file: the relaunch finishes" '[ $rc -eq 0 ] && [ "$(wc -l <"$FAKE_LOG")" -eq 2 ]'
check "host file: h3 blamed, h1 and h2 not" \
  'grep -q "^h3  .*attempt 1: did not run .true. through $agent, twice$" "$work/6.hist" && [ "$(grep -vc "^#" "$work/6.hist")" -eq 1 ]'
check "host file: h2 answered the second time" 'grep -q "host h2 answers again: not blamed" "$work/out"'
check "host file: relaunch on 4 ranks through a copy without h3" \
  'sed -n 2p "$FAKE_NODES/launches" | grep -q "^mpirun -n 4 --hostfile .* --mca plm_rsh_agent $agent" &&
   [ "$(tail -2 "$FAKE_NODES/hostfiles" | tr "\n" " ")" = "h1 slots=2 h2 slots=2 " ] && ! sed -n 2p "$FAKE_NODES/launches" | grep -q "$work/6.hosts"'
out=$("$launch" --via mpirun --mpirun-args "--hostfile $work/no-such-hosts" -- "$fake" run pi 2>&1); rc=$?
check "a missing host file: exit 2, named" '[ $rc -eq 2 ] && grep -q "no-such-hosts. in --mpirun-args is not readable" <<<"$out"'

if [ $fails -ne 0 ]; then
  echo "--- launcher output of the last runs:"; cat "$work/out" "$work/out3" "$work/out3f"
  echo "$fails checks failed"; exit 1
fi
echo "all launcher checks passed"
