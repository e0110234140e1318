#!/usr/bin/env bash
# A real Slurm on this one machine: munged, slurmctld and slurmd with a one-node slurm.conf in a scratch
# directory (own ports, state and munge socket, nothing in /etc/slurm or /etc/munge touched; MpiDefault=none and KillWait=30 as Slurm
# ships them), then the shipped templates, unchanged (only paths, sizes and options through the
# environment they export and sbatch's command line), submitted with sbatch --wait:
#   srun      slurm/partita.sbatch as is (srun, which must get --mpi=pmix): pi on 2 ranks, the exact result;
#   mpirun    the same with LAUNCH_VIA=mpirun;
#   limit     a time limit of 1 min with --signal=B:USR1@30 on a ~45 s job: checkpoint, exit 75, requeue,
#             resume, and the exact result of an uninterrupted run (runs in the background meanwhile);
#   kill      kill -9 of rank 1 under srun: the surviving rank checkpoints and exits by itself (75, well
#             inside the kill wait), the launcher relaunches inside the allocation, the exact result,
#             one '-' interrupt in the failure history and no node blamed;
#   nostart   SRUN_ARGS=--mpi=none (the MPI cannot start): no interrupt in the history, retried once after
#             the pause, then FAILED; a missing program: FAILED with 127 and nothing launched;
#   sweep     slurm/partita-sweep.sbatch as a 2-element job array, each element in its own checkpoint dir.
# Needs root and the slurm-wlm and munge packages (tools/bootstrap.sh test installs them); skips (77)
# without them or without build/bin/partita.
# Usage: slurm_one_node.sh <source dir> <partita binary> <scratch dir>
# shellcheck disable=SC2016,SC2030,SC2031,SC2034  # check's conditions are evaluated later; scenarios export in subshells
set -uo pipefail
src=$1; partita=$2; work=$3
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmd"
for b in munged slurmctld slurmd sbatch sinfo scontrol srun pgrep; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || skip "$b is not installed (apt-get install slurm-wlm munge procps)"
done
[ -x "$partita" ] || skip "$partita is not built yet"

rm -rf "$work"; mkdir -p "$work/state" "$work/spool" "$work/log"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/log/*.log "$work"/job.out; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
  exit 1
}

# munge: a munged of this test's own (own key, socket, pid and log files in the scratch directory), so that
# other runs of this test, or a site munged, neither disturb it nor are disturbed when it stops.
# shellcheck source=tests/slurm/slurm_daemons.sh
source "$src/tests/slurm/slurm_daemons.sh"
start_munged "$work/munge" "$work/log"

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
port=$(( 20000 + $$ % 10000 ))   # own ports: never collide with a site Slurm or another run of this test
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=partita-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
$(slurm_conf_common)
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP OverSubscribe=YES
CONF
cgroup_conf "$work"

/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.stdout.log" 2>&1 &
pids+=($!)
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$work/log/slurmd.stdout.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 0.2
done
case "${state:-}" in idle*|mix*|alloc*) echo "slurm is up: node $host $state" ;; *) fail "node $host not idle (state '${state:-none}')" ;; esac

# ---------------------------------------------------------------------------------------------------------
cd "$work" || fail "cannot enter $work"
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PARTITA_BIN=$partita PARTITA_LAUNCH=$src/slurm/partita-launch.sh
template=$src/slurm/partita.sbatch
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fails=$((fails + 1)); fi; }
result_of() { sed -n 's/^  "result": "\(.*\)",$/\1/p' "$1" 2>/dev/null; }
job_id() { sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$1" 2>/dev/null; }
job_info() { scontrol show job "$1" -o 2>/dev/null; }
# submit <name> [sbatch options...]: the template with the environment the caller exported, in $work/<name>.
submit() {
  local name=$1; shift
  mkdir -p "$work/$name"
  timeout 200 sbatch --wait --export=ALL --oversubscribe --nodes=1 --ntasks=2 --ntasks-per-node=2 \
    --output="$work/$name/job.out" "$@" "$template" >"$work/$name/sbatch.out" 2>&1
}
show() { echo "--- $1:"; cat "$work/$1/job.out" 2>/dev/null; [ -s "$work/$1/ckpt/failure-history" ] && { echo "--- $1 failure history:"; cat "$work/$1/ckpt/failure-history"; }; }

# Uninterrupted references, outside Slurm (sleeping partitions: many threads make them quick).
synth_limit="--param partitions=4200 --param median_us=20000 --param sigma=0.3"
synth_kill="--param partitions=1500 --param median_us=10000 --param sigma=0.3"
mkdir -p "$work/ref"
# shellcheck disable=SC2086
{
  mpirun -n 2 "$partita" run pi --quiet --summary-json "$work/ref/pi.json" &&
  mpirun -n 2 "$partita" run synthetic $synth_limit --threads 8 --quiet --summary-json "$work/ref/limit.json" &&
  mpirun -n 2 "$partita" run synthetic $synth_kill --threads 8 --quiet --summary-json "$work/ref/kill.json"
} >"$work/ref/out" 2>&1 || { cat "$work/ref/out"; fail "the reference runs failed"; }
echo "references: pi '$(result_of "$work/ref/pi.json")', synthetic '$(result_of "$work/ref/limit.json")', '$(result_of "$work/ref/kill.json")'"

# limit (background): a 1-minute limit with --signal=B:USR1@30. Slurm's timer ticks about every 30 s and
# warns up to a tick early, so each allocation gets SIGUSR1 0-30 s after its start (even before partita has
# started: the launcher holds it until then) and a ~45 s job needs at least one requeue. A requeued job is
# held 2 minutes (BeginTime); the test lets it go after 5 s, as an operator may.
(
  export JOB=synthetic CKPT_DIR=$work/limit/ckpt ARGS="$synth_limit --summary-json $work/limit/summary.json"
  submit limit --time=1 --signal=B:USR1@30
) &
limit_pid=$!
t_limit=$(date +%s)
(
  limit_id='' held=0
  while kill -0 "$limit_pid" 2>/dev/null; do
    limit_id=${limit_id:-$(job_id "$work/limit/sbatch.out")}
    # Not at once: Slurm revokes the old run's credential meanwhile, and a run started too soon is killed.
    if [ -n "$limit_id" ] && grep -q "JobState=PENDING Reason=BeginTime" <<<"$(job_info "$limit_id")"; then
      held=$((held + 1))
      [ "$held" -ge 10 ] && { scontrol update jobid="$limit_id" StartTime=now; held=0; }
    else
      held=0
    fi
    sleep 0.5
  done
) &
release_pid=$!

# srun: the template as shipped.
(
  export JOB=pi CKPT_DIR=$work/srun/ckpt ARGS="--summary-json $work/srun/summary.json"
  submit srun --time=5
)
rc=$?; id=$(job_id "$work/srun/sbatch.out"); info=$(job_info "$id")
check "srun: sbatch --wait exit 0" '[ $rc -eq 0 ]'
check "srun: COMPLETED 0:0" 'grep -q "JobState=COMPLETED .*ExitCode=0:0" <<<"$info"'
check "srun: started with srun --mpi=pmix (MpiDefault=none)" 'grep -q "attempt 1: srun --kill-on-bad-exit=1 --mpi=pmix " "$work/srun/job.out"'
check "srun: the exact result" '[ -n "$(result_of "$work/srun/summary.json")" ] && [ "$(result_of "$work/srun/summary.json")" = "$(result_of "$work/ref/pi.json")" ]'
check "srun: each restart decision logged once" '[ "$(grep -c "restart: no usable checkpoint" "$work/srun/job.out")" -eq 1 ]'
check "srun: the last progress line in the job's comment" 'grep -Eq "Comment=partita: ([0-9]+)/\\1 partitions, ETA" <<<"$info"'
[ $fails -eq 0 ] || show srun

# mpirun: the same through Open MPI's mpirun inside the allocation.
(
  export JOB=pi CKPT_DIR=$work/mpirun/ckpt ARGS="--summary-json $work/mpirun/summary.json" LAUNCH_VIA=mpirun
  submit mpirun --time=5
)
rc=$?; id=$(job_id "$work/mpirun/sbatch.out"); info=$(job_info "$id")
check "mpirun: COMPLETED 0:0" '[ $rc -eq 0 ] && grep -q "JobState=COMPLETED .*ExitCode=0:0" <<<"$info"'
check "mpirun: started with mpirun -n 2" 'grep -q "attempt 1: mpirun -n 2 " "$work/mpirun/job.out"'
check "mpirun: the exact result" '[ "$(result_of "$work/mpirun/summary.json")" = "$(result_of "$work/ref/pi.json")" ]'
[ $fails -eq 0 ] || show mpirun

# kill: kill -9 of rank 1 once the first checkpoint is in.
(
  export JOB=synthetic CKPT_DIR=$work/kill/ckpt ARGS="$synth_kill --checkpoint-every 1s --summary-json $work/kill/summary.json"
  submit kill --time=5
) &
kill_pid=$!
victim=
for _ in $(seq 300); do
  if [ -s "$work/kill/ckpt/LATEST" ]; then
    for p in $(pgrep -f -- "^$partita run synthetic"); do
      env=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null)
      grep -qx 'SLURM_PROCID=1' <<<"$env" && grep -qx "CKPT_DIR=$work/kill/ckpt" <<<"$env" && victim=$p
    done
    [ -n "$victim" ] && break
  fi
  sleep 0.1
done
t_kill=$(date +%s.%N)
[ -n "$victim" ] && kill -9 "$victim"
wait "$kill_pid"; rc=$?
id=$(job_id "$work/kill/sbatch.out"); info=$(job_info "$id")
t_relaunch=$(sed -n 's/^\[partita-launch \(.*\)\] attempt 2: .*/\1/p' "$work/kill/job.out")
check "kill: rank 1 found and killed" '[ -n "$victim" ]'
check "kill: COMPLETED 0:0 in the same allocation" '[ $rc -eq 0 ] && grep -q "JobState=COMPLETED .*Restarts=0 .*ExitCode=0:0" <<<"$info"'
check "kill: the survivor checkpointed and exited by itself (75), not killed by srun" \
  'grep -q "task 0: Exited with exit code 75" "$work/kill/job.out" && grep -q "(SIGTERM received)" "$work/kill/job.out"'
check "kill: relaunched inside the allocation with srun" 'grep -q "attempt 2: srun --kill-on-bad-exit=1 --mpi=pmix .* --restart auto" "$work/kill/job.out"'
check "kill: resumed from the checkpoint" 'grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/kill/job.out"'
check "kill: the exact result" '[ "$(result_of "$work/kill/summary.json")" = "$(result_of "$work/ref/kill.json")" ]'
check "kill: one interrupt, no node blamed" \
  '[ "$(grep -c "^-  .*attempt 1: exit code" "$work/kill/ckpt/failure-history")" -eq 1 ] && [ "$(grep -vc "^[-#]" "$work/kill/ckpt/failure-history")" -eq 0 ]'
if [ -n "$t_relaunch" ]; then
  echo "kill: relaunch $(awk -v a="$t_kill" -v b="$(date -d "$t_relaunch" +%s)" 'BEGIN { printf "%.0f", b - a }') s after the kill -9 (the launcher's clock has whole seconds; Slurm's kill wait is 30 s)"
  check "kill: relaunch well inside the kill wait" '[ $(( $(date -d "$t_relaunch" +%s) - ${t_kill%.*} )) -lt 25 ]'
fi
[ $fails -eq 0 ] || show kill

# nostart: an MPI that cannot start (srun --mpi=none with Open MPI built with PMIx): no interrupt, one retry.
(
  export JOB=pi CKPT_DIR=$work/nostart/ckpt SRUN_ARGS=--mpi=none LAUNCH_ARGS="--start-retry-delay 3"
  submit nostart --time=5
)
rc=$?; id=$(job_id "$work/nostart/sbatch.out"); info=$(job_info "$id")
check "nostart: FAILED" '[ $rc -ne 0 ] && grep -q "JobState=FAILED" <<<"$info"'
check "nostart: the operator's --mpi=none was used" 'grep -q "attempt 1: srun --kill-on-bad-exit=1 --mpi=none " "$work/nostart/job.out"'
check "nostart: tried twice, not more" '[ "$(grep -c "\] attempt [0-9]*:" "$work/nostart/job.out")" -eq 2 ]'
check "nostart: said it did not start, with the srun --mpi hint" \
  'grep -q "did not start (exit [0-9]* before MPI was up on every rank): not an interrupt.*srun --mpi=list.*retrying once in 3 s" "$work/nostart/job.out" && grep -q "did not start again" "$work/nostart/job.out"'
check "nostart: no interrupt in the failure history" '! grep -qv "^#" "$work/nostart/ckpt/failure-history"'
[ $fails -eq 0 ] || show nostart
(
  export JOB=pi CKPT_DIR=$work/missing/ckpt PARTITA_BIN=$work/no-such-partita
  submit missing --time=5
)
rc=$?; id=$(job_id "$work/missing/sbatch.out"); info=$(job_info "$id")
check "missing program: FAILED with 127, nothing launched" \
  'grep -q "JobState=FAILED .*ExitCode=127:0" <<<"$info" && grep -q "no-such-partita. is not found" "$work/missing/job.out" && ! grep -q "attempt 1" "$work/missing/job.out"'
check "missing program: no interrupt" '[ ! -s "$work/missing/ckpt/failure-history" ]'
[ $fails -eq 0 ] || show missing

# sweep: a job array of two elements, each with its own value and checkpoint directory.
mkdir -p "$work/sweep"
(
  export JOB=pi SWEEP_PARAM=samples SWEEP_VALUES="1000000 2000000" SWEEP_DIR=$work/sweep/ckpt PARTITA_TEMPLATE=$template
  timeout 200 sbatch --wait --export=ALL --oversubscribe --array=0-1 --ntasks=2 --time=5 \
    --output="$work/sweep/job-%a.out" "$src/slurm/partita-sweep.sbatch" >"$work/sweep/sbatch.out" 2>&1
)
rc=$?
check "sweep: both elements COMPLETED" '[ $rc -eq 0 ] && [ "$(cat "$work"/sweep/job-*.out | grep -c "job finished")" -eq 2 ]'
check "sweep: one checkpoint directory per element" '[ -s "$work/sweep/ckpt/samples=1000000/pi.1.h5" ] && [ -s "$work/sweep/ckpt/samples=2000000/pi.1.h5" ]'
check "sweep: each element ran its own value" \
  'grep -q "of 1000000 points inside" "$work/sweep/job-0.out" && grep -q "of 2000000 points inside" "$work/sweep/job-1.out"'
[ $fails -eq 0 ] || { echo "--- sweep:"; cat "$work"/sweep/job-*.out; }

wait "$limit_pid"; rc=$?
wait "$release_pid"
id=$(job_id "$work/limit/sbatch.out"); info=$(job_info "$id")
echo "limit: done $(( $(date +%s) - t_limit )) s after its submission (waited for after the other cases), $(grep -o 'Restarts=[0-9]*' <<<"$info")"
check "limit: COMPLETED 0:0 after a requeue" '[ $rc -eq 0 ] && grep -q "JobState=COMPLETED .*Restarts=[1-9].*ExitCode=0:0" <<<"$info"'
check "limit: SIGUSR1 to the batch script, checkpoint, 75, requeue" \
  'grep -q "got SIGUSR1" "$work/limit/job.out" && grep -q "(SIGUSR1 received)" "$work/limit/job.out" && grep -q "job checkpointed after SIGUSR1 (exit 75); requeueing Slurm job $id" "$work/limit/job.out"'
check "limit: the requeued job resumed from the checkpoint" 'grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/limit/job.out"'
check "limit: every requeue went through" '! grep -q "scontrol requeue failed" "$work/limit/job.out"'
check "limit: the exact result" '[ "$(result_of "$work/limit/summary.json")" = "$(result_of "$work/ref/limit.json")" ]'
check "limit: a planned stop is no interrupt" '[ ! -s "$work/limit/ckpt/failure-history" ]'
[ $fails -eq 0 ] || show limit

if [ $fails -ne 0 ]; then
  for f in "$work"/log/slurmctld.log "$work"/log/slurmd.log; do echo "--- $f"; tail -20 "$f"; done
  echo "$fails checks failed"; exit 1
fi
echo "PASS: the shipped templates under a real one-node Slurm (MpiDefault=none): srun, mpirun, time limit with requeue, kill -9 with relaunch, start-up failures, job array"
