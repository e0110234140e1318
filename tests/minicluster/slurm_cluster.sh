#!/usr/bin/env bash
# Slurm across the emulated cluster (tools/minicluster): munged and slurmctld on this host (slurmctld listening on the
# bridge's host address), one slurmd inside each of 3 nodes (its own host name, spool, pid and log files; the same
# munge key through the munge socket, which a path reaches from every network namespace), MpiDefault=none. Then:
#   sinfo       shows the 3 nodes idle
#   across      sbatch -N 3 of slurm/partita.sbatch (srun --mpi=pmix, 6 ranks): pi, the one-host result bitwise
#   node_kill   the same template running synthetic with checkpoints; node 3 killed (every process in it, slurmd and
#               the ranks included, then its link): Slurm marks it down, the launcher blames it from that real node
#               state, relaunches with srun --exclude in the same allocation, and the result is exact
#   requeue     a one-node job (sbatch --requeue, as the template) whose node is killed, batch host and launcher
#               with it: Slurm requeues it, the next run on a node still up resumes from the checkpoint, exact
# Needs root, slurm-wlm and munge (tools/bootstrap.sh test), ip/tc/unshare/nsenter; skips (77) without them.
# Usage: slurm_cluster.sh <source dir> <partita binary> <scratch dir, seen by every node (not /tmp)>
# shellcheck disable=SC2016  # check's conditions are evaluated later
set -uo pipefail
src=$1 partita=$2 scratch=$3
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, slurmd)"
for b in munged slurmctld slurmd sbatch sinfo scontrol srun ip unshare nsenter; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || skip "$b is not installed (apt-get install slurm-wlm munge iproute2)"
done
[ -x "$partita" ] || skip "$partita is not built yet"

export PARTITA_MC_PREFIX=pmt
mc=$src/tools/minicluster
mkdir -p "$scratch" && work=$(mktemp -d "$scratch/mcs.XXXXXX") || { echo "cannot create a directory in $scratch"; exit 1; }
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  "$mc" down >/dev/null 2>&1   # every slurmd and step inside the nodes
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fails=$((fails + 1)); fi; }
fail() {
  echo "FAIL: $*"
  for f in "$work"/log/*.log "$work"/*/job.out; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done
  exit 1
}
result_of() { sed -n 's/^  "result": "\(.*\)",$/\1/p' "$1" 2>/dev/null; }

"$mc" up 3 --slots 2 >"$work/up.log" 2>&1 || { rc=$?; [ $rc -eq 77 ] && skip "$(cat "$work/up.log")"; cat "$work/up.log"; fail "minicluster up exited $rc"; }
eval "$("$mc" env)"
gateway=$(sed -n 's/^\([0-9.]*\) .*/\1/p' /run/partita-minicluster/pmt/hosts | sed -n 2p)
mkdir -p "$work/state" "$work/log"

# munge: this test's own key, socket, pid and log files.
# shellcheck source=tests/slurm/slurm_daemons.sh
source "$src/tests/slurm/slurm_daemons.sh"
start_munged "$work/munge" "$work/log"

host=$(hostname -s)
port=$(( 20000 + $$ % 10000 ))
export SLURM_CONF=$work/slurm.conf
{
  cat <<CONF
ClusterName=partita-mc
SlurmctldHost=$host($gateway)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
$(slurm_conf_common)
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.%n.log
SlurmdTimeout=10
SlurmctldTimeout=30
CONF
  for i in 1 2 3; do
    echo "NodeName=pmt-node$i NodeAddr=$(sed -n "s/^\([0-9.]*\) pmt-node$i\$/\1/p" /run/partita-minicluster/pmt/hosts) CPUs=2 RealMemory=1000 State=UNKNOWN"
  done
  echo "PartitionName=test Nodes=pmt-node[1-3] Default=YES MaxTime=10 State=UP OverSubscribe=YES"
} >"$SLURM_CONF"
cgroup_conf "$work"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.stdout.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  mkdir -p "$work/spool/pmt-node$i"
  "$mc" on "$i" -- /usr/sbin/slurmd -D -N "pmt-node$i" -f "$SLURM_CONF" >"$work/log/slurmd.pmt-node$i.stdout.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 150); do
  [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -c ' idle')" -eq 3 ] && break
  sleep 0.2
done
sinfo -N -o '%N %t %c' >"$work/sinfo" 2>&1
check "sinfo: 3 nodes idle" '[ "$(grep -c "pmt-node[1-3] idle" "$work/sinfo")" -eq 3 ]'
[ $fails -eq 0 ] || fail "slurm is not up: $(cat "$work/sinfo")"

export OMPI_MCA_mpi_yield_when_idle=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PARTITA_BIN=$partita PARTITA_LAUNCH=$src/slurm/partita-launch.sh
cd "$work" || fail "cannot enter $work"
submit() {  # submit <name> [sbatch options...]
  local name=$1; shift
  mkdir -p "$work/$name"
  timeout 300 sbatch --wait --export=ALL --oversubscribe --nodes=3 --ntasks-per-node=2 \
    --output="$work/$name/job.out" "$@" "$src/slurm/partita.sbatch" >"$work/$name/sbatch.out" 2>&1
}
mpirun_local=(mpirun --oversubscribe --mca mpi_yield_when_idle 1)

# across: pi on 6 ranks, 2 per node, through the template as shipped (srun --mpi=pmix).
timeout 120 "${mpirun_local[@]}" -n 6 "$partita" run pi --quiet --summary-json "$work/pi.ref.json" >"$work/log/ref.log" 2>&1 ||
  fail "the one-host pi exited $?"
( export JOB=pi CKPT_DIR=$work/across/ckpt ARGS="--summary-json $work/across/summary.json"; submit across --time=5 )
rc=$?
check "across: sbatch -N 3 exit 0" '[ $rc -eq 0 ]'
check "across: ran on pmt-node[1-3] with srun --mpi=pmix" \
  'grep -q "nodes pmt-node\[1-3\]" "$work/across/job.out" && grep -q "attempt 1: srun --kill-on-bad-exit=1 --mpi=pmix " "$work/across/job.out"'
check "across: the one-host result" \
  '[ -n "$(result_of "$work/across/summary.json")" ] && [ "$(result_of "$work/across/summary.json")" = "$(result_of "$work/pi.ref.json")" ]'
[ $fails -eq 0 ] || cat "$work/across/job.out"

# node_kill: node 3 killed once the first checkpoint is in.
synth=(--param partitions=2000 --param median_us=40000 --param sigma=0.3 --threads 2 --scheduler-rank 0)
timeout 200 "${mpirun_local[@]}" -n 6 "$partita" run synthetic "${synth[@]}" --quiet --summary-json "$work/kill.ref.json" \
  >"$work/log/ref.log" 2>&1 || fail "the one-host synthetic exited $?"
(
  export JOB=synthetic CKPT_DIR=$work/kill/ckpt LAUNCH_ARGS="--recheck-delay 2"
  export ARGS="${synth[*]} --checkpoint-every 1s --summary-json $work/kill/summary.json"
  submit kill --time=8
) &
job_pid=$!
for _ in $(seq 900); do [ -s "$work/kill/ckpt/LATEST" ] && break; sleep 0.1; done
sleep 1
t_kill=$(date +%s)
"$mc" kill 3 >"$work/log/kill.log" 2>&1
wait "$job_pid"; rc=$?
t_relaunch=$(sed -n 's/^\[partita-launch \(.*\)\] attempt 2: .*/\1/p' "$work/kill/job.out")
check "node_kill: COMPLETED after the relaunch" '[ $rc -eq 0 ]'
check "node_kill: pmt-node3 blamed from Slurm's node state" \
  'grep -q "node pmt-node3: node state [A-Z_+]*DOWN[A-Z_+]*\|node pmt-node3: node state .*probe step on it failed" "$work/kill/job.out"'
check "node_kill: relaunched with srun --exclude=pmt-node3 in the same allocation" \
  'grep -q "attempt 2: srun --kill-on-bad-exit=1 --mpi=pmix --exclude=pmt-node3 -N 2 -n 4 .* --restart auto" "$work/kill/job.out"'
check "node_kill: resumed from the checkpoint" 'grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/kill/job.out"'
check "node_kill: pmt-node3 in the failure history" 'grep -q "^pmt-node3  " "$work/kill/ckpt/failure-history"'
check "node_kill: the exact result" \
  '[ -n "$(result_of "$work/kill/summary.json")" ] && [ "$(result_of "$work/kill/summary.json")" = "$(result_of "$work/kill.ref.json")" ]'
[ -n "$t_relaunch" ] && echo "node_kill: relaunch $(( $(date -d "$t_relaunch" +%s) - t_kill )) s after the kill (SlurmdTimeout=10, --recheck-delay 2)"
[ $fails -eq 0 ] || { echo "--- kill job:"; cat "$work/kill/job.out"; sinfo -N; }

# requeue: a one-node job loses its node, the batch host with the launcher on it: nothing of the allocation is left,
# so Slurm requeues the batch job (the template's --requeue) and the next run, on a node still up, resumes from the
# checkpoint on the shared file system (the template always passes --restart auto).
synth_r=(--param partitions=600 --param median_us=40000 --param sigma=0.3 --threads 2 --scheduler-rank 0)
timeout 200 "${mpirun_local[@]}" -n 2 "$partita" run synthetic "${synth_r[@]}" --quiet --summary-json \
  "$work/requeue.ref.json" >"$work/log/ref.log" 2>&1 || fail "the one-host synthetic (2 ranks) exited $?"
mkdir -p "$work/requeue"
(
  export JOB=synthetic CKPT_DIR=$work/requeue/ckpt LAUNCH_ARGS="--recheck-delay 2"
  export ARGS="${synth_r[*]} --checkpoint-every 1s --summary-json $work/requeue/summary.json"
  timeout 400 sbatch --wait --export=ALL --oversubscribe --nodes=1 --ntasks-per-node=2 --time=8 \
    --output="$work/requeue/job.out" "$src/slurm/partita.sbatch" >"$work/requeue/sbatch.out" 2>&1
) &
job_pid=$!
for _ in $(seq 900); do [ -s "$work/requeue/ckpt/LATEST" ] && break; sleep 0.1; done
job_id=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$work/requeue/sbatch.out")
first_node=$(squeue -h -j "$job_id" -o %N 2>/dev/null)
sleep 1
t_kill=$(date +%s)
case "$first_node" in
  pmt-node[1-3]) "$mc" kill "${first_node#pmt-node}" >"$work/log/kill-requeue.log" 2>&1 ;;
  *) echo "requeue: job $job_id is not running on one node (squeue: '$first_node')" ;;
esac
# Slurm holds a requeued job for about 2 minutes; once it is pending again, let it go 5 s later (as
# tests/slurm/slurm_one_node.sh does: at once is too early, Slurm is still revoking the old run's credential).
for _ in $(seq 1200); do
  [ "$(squeue -h -j "$job_id" -o %T 2>/dev/null)" = PENDING ] && { t_requeued=$(date +%s); break; }
  kill -0 "$job_pid" 2>/dev/null || break
  sleep 0.1
done
sleep 5
scontrol update JobId="$job_id" StartTime=now >/dev/null 2>&1
wait "$job_pid"; rc=$?
second_node=$(sed -n 's/^partita: job synthetic, Slurm job [0-9]* (restart 1), nodes \(pmt-node[0-9]\),.*/\1/p' "$work/requeue/job.out")
check "requeue: the job ran on one node, then that node was killed" '[ -n "$first_node" ] && [ -s "$work/log/kill-requeue.log" ]'
check "requeue: COMPLETED after Slurm requeued it" '[ $rc -eq 0 ]'
check "requeue: the second run (restart 1) on another node" '[ -n "$second_node" ] && [ "$second_node" != "$first_node" ]'
check "requeue: resumed from the checkpoint" 'grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/requeue/job.out"'
check "requeue: the exact result" \
  '[ -n "$(result_of "$work/requeue/summary.json")" ] && [ "$(result_of "$work/requeue/summary.json")" = "$(result_of "$work/requeue.ref.json")" ]'
t_second=$(sed -n 's/^\[partita-launch \(.*\)\] attempt 1: .*/\1/p' "$work/requeue/job.out" | sed -n 2p)
[ -n "$t_second" ] && echo "requeue: job $job_id on $first_node killed; requeued by Slurm $(( ${t_requeued:-0} - t_kill )) s after the kill; run 2 on $second_node started $(( $(date -d "$t_second" +%s) - t_kill )) s after it (the hold cut to 5 s), done $(( $(date +%s) - t_kill )) s after it (SlurmdTimeout=10)"
[ $fails -eq 0 ] || { echo "--- requeue job:"; cat "$work/requeue/job.out"; sinfo -N; scontrol show job "$job_id" 2>&1 | head -20; }

if [ $fails -ne 0 ]; then
  for f in "$work"/log/slurmctld.log "$work"/log/slurmd.pmt-node1.log; do echo "--- $f"; tail -20 "$f"; done
  echo "$fails checks failed"; exit 1
fi
echo "PASS: Slurm across 3 emulated nodes: sinfo, sbatch -N 3 exact, a killed node blamed from Slurm's state and excluded, a lost one-node job requeued by Slurm and resumed exactly"
