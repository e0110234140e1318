# Sourced by the tests that start a Slurm of their own (tests/slurm/slurm_one_node.sh, tests/minicluster/
# slurm_cluster.sh): a munged with its own key, socket, pid and log files, and the slurm.conf lines they share.
# The caller defines fail() and the array pids (daemons to stop on exit).

# start_munged DIR LOGDIR: starts munged with files in DIR and sets msock to its socket; fails unless munge works.
start_munged() {
  local dir=$1 logdir=$2
  mkdir -p "$dir"; chmod 0700 "$dir"
  dd if=/dev/urandom of="$dir/munge.key" bs=128 count=1 2>/dev/null; chmod 0400 "$dir/munge.key"
  msock=$dir/munge.socket
  /usr/sbin/munged --force --socket="$msock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" >"$logdir/munged.stdout.log" 2>&1 ||
    fail "munged did not start (see $dir/munged.log)"
  for _ in $(seq 50); do [ -s "$dir/munged.pid" ] && break; sleep 0.1; done
  local munged_pid
  munged_pid=$(cat "$dir/munged.pid" 2>/dev/null || true)
  [ -n "$munged_pid" ] && pids+=("$munged_pid")
  for _ in $(seq 50); do munge -S "$msock" -n </dev/null 2>/dev/null | unmunge -S "$msock" >/dev/null 2>&1 && break; sleep 0.1; done
  munge -S "$msock" -n </dev/null | unmunge -S "$msock" >/dev/null 2>&1 || fail "munge does not work (see $dir/munged.log)"
}

# slurm_conf_common: the lines both tests' slurm.conf share (root daemons, munge through $msock, no cgroups, no
# accounting, MpiDefault=none and KillWait=30 as Slurm ships them).
slurm_conf_common() {
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$msock
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
KillWait=30
MinJobAge=300
CONF
}

# cgroup_conf DIR: nothing here uses cgroups (proctrack/linuxproc, task/none), but slurmd 22.05 initialises its
# cgroup plugin anyway and fails where /sys/fs/cgroup is not mounted (chroots, some containers): point it at an
# empty directory with the v1 plugin, which then has nothing to do. Written next to slurm.conf in DIR.
cgroup_conf() {
  if ! mountpoint -q /sys/fs/cgroup; then
    mkdir -p "$1/cgroup"
    printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\nCgroupMountpoint=%s\n' "$1/cgroup" >"$1/cgroup.conf"
  fi
}
