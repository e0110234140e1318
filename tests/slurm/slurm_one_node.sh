#!/usr/bin/env bash
# A real Slurm on this one machine: munged, slurmctld and slurmd with a one-node slurm.conf in a scratch
# directory (own ports, own state, nothing in /etc/slurm touched), then slurm/partita.sbatch submitted
# with sbatch --wait running `partita run pi` on 2 ranks through slurm/partita-launch.sh and mpirun.
# Passes when the job COMPLETED with exit 0 and partita wrote its summary JSON with a result. Needs root and the
# slurm-wlm and munge packages (tools/bootstrap.sh test installs them); skips (77) without them or
# without build/bin/partita.
# Usage: slurm_one_node.sh <source dir> <partita binary> <scratch dir>
set -uo pipefail
src=$1; partita=$2; work=$3
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmd"
for b in munged slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || skip "$b is not installed (apt-get install slurm-wlm munge)"
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

# munge: reuse a running munged, else start one as user munge with its directories owned by munge.
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge
  [ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 2>/dev/null; }
  chown -R munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge
  chmod 0700 /etc/munge /var/log/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null | unmunge >/dev/null 2>&1 || fail "munge does not work"
  munged_pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
  [ -n "$munged_pid" ] && pids+=("$munged_pid")
fi

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
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SchedulerType=sched/backfill
InactiveLimit=0
KillWait=10
MinJobAge=300
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP OverSubscribe=YES
CONF
# Nothing here uses cgroups (proctrack/linuxproc, task/none), but slurmd 22.05 initialises its cgroup plugin
# anyway and fails where /sys/fs/cgroup is not mounted (chroots, some containers): point it at an empty
# directory with the v1 plugin, which then has nothing to do.
if ! mountpoint -q /sys/fs/cgroup; then
  mkdir -p "$work/cgroup"
  printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\nCgroupMountpoint=%s\n' "$work/cgroup" >"$work/cgroup.conf"
fi

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

# The operators' template, as is, with the test's choices in the environment it exports.
cd "$work"
export JOB=pi ARGS="--summary-json $work/summary.json" CKPT_DIR=$work/ckpt PARTITA_BIN=$partita PARTITA_LAUNCH=$src/slurm/partita-launch.sh LAUNCH_VIA=mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
timeout 240 sbatch --wait --export=ALL --nodes=1 --ntasks=2 --ntasks-per-node=2 --time=5 \
  --output="$work/job.out" "$src/slurm/partita.sbatch" >"$work/sbatch.out" 2>&1
rc=$?
cat "$work/sbatch.out"
jobid=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$work/sbatch.out")
[ -n "$jobid" ] || fail "sbatch did not submit"
echo "--- job output:"; cat "$work/job.out"
[ $rc -eq 0 ] || fail "sbatch --wait exited $rc"
info=$(scontrol show job "$jobid" -o)
grep -q 'JobState=COMPLETED' <<<"$info" || fail "job $jobid not COMPLETED: $info"
grep -q 'ExitCode=0:0' <<<"$info" || fail "job $jobid exit code not 0:0: $info"
grep -q 'attempt 1: mpirun -n 2' "$work/job.out" || fail "the launcher did not start mpirun -n 2"
grep -q 'job finished (attempt 1)' "$work/job.out" || fail "the launcher did not report success"
grep -q '"result"' "$work/summary.json" 2>/dev/null || fail "no summary JSON with a result from partita"
echo "summary: $(head -c 400 "$work/summary.json")"
echo "PASS: sbatch job $jobid ran partita run pi on 2 ranks under Slurm"
