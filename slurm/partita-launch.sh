#!/usr/bin/env bash
# Runs a partita job and brings it back when it stops early. Used by slurm/partita.sbatch; works on its
# own under mpirun too.
#
#   slurm/partita-launch.sh [options] -- <partita> run <job> [partita options...]
#
# It starts the job with srun (inside a Slurm allocation) or mpirun (elsewhere), and then, by the job's
# exit code:
#   0    done: exit 0.
#   75   "checkpointed, please requeue" (EX_TEMPFAIL from sysexits.h). partita exits with 75 after it has
#        committed a checkpoint because it was told to stop (SIGUSR1 / SIGTERM, e.g. Slurm's --signal
#        warning before the time limit). If the warning went to this script (sbatch --signal=B:USR1@120),
#        the allocation is about to end: the Slurm job is requeued (scontrol requeue; needs --requeue) and
#        the next allocation continues from the checkpoint. Otherwise the job is relaunched at once in
#        this allocation with --restart auto.
#   2    a usage error (bad flag, unknown job or parameter): reported, never relaunched.
#   other a failure (a rank or node died). Nodes of the allocation that Slurm now reports DOWN, DRAINED,
#        FAIL or NOT_RESPONDING are appended to the failure-history file (one "host  UTC-time  # reason"
#        line each; partita's scheduler election never picks a node listed there), or one "-  UTC-time"
#        line when no node is to blame (every line with a time is an interrupt, from which
#        --checkpoint-interval auto derives the mean time to interrupt), and the job is relaunched with
#        --restart auto without those nodes, up to --max-relaunch times.
# A relaunch adds `--restart auto` to the partita arguments unless they already have a --restart.
# Exit 0 alone is not taken as proof that the job finished: under `mpirun --enable-recovery` Open MPI exits 0
# even when every rank failed. The job's own word is: the launcher sets PARTITA_STATUS_FILE (a file next to
# the failure history) and partita writes its exit code there when it concludes (0 done, 75 checkpointed,
# 2 usage error). That code, when present, is the job's exit code; exit 0 without it counts as a failure.
#
# Options:
#   --history FILE       failure-history file (default: the job's --failure-history, else
#                        $PARTITA_FAILURE_HISTORY, else <--checkpoint-dir>/failure-history,
#                        else ./partita-failure-history). Pass the same file to partita with
#                        --failure-history so its scheduler election avoids those nodes.
#   --max-relaunch N     relaunches after failures or in-allocation stops (default 3)
#   --via srun|mpirun    how to start the ranks (default: srun inside Slurm, else mpirun)
#   -n N                 ranks for mpirun (default: $SLURM_NTASKS, else 4); srun takes its own from Slurm
#   --mpirun-args "..."  extra arguments for mpirun (e.g. "--oversubscribe --hostfile hosts")
#   --dry-run            print the launch command, run nothing
# Exit code: the job's last exit code (0 when it finished; 75 after a requeue was requested).
set -uo pipefail

readonly EX_REQUEUE=75
history=${PARTITA_FAILURE_HISTORY:-}
max_relaunch=3
via=
ranks=${SLURM_NTASKS:-4}
mpirun_args=()
dry=0

say() { printf '[partita-launch %s] %s\n' "$(date '+%F %T')" "$*" >&2; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --history) history=$2; shift 2 ;;
    --max-relaunch) max_relaunch=$2; shift 2 ;;
    --via) via=$2; shift 2 ;;
    -n) ranks=$2; shift 2 ;;
    --mpirun-args) read -r -a mpirun_args <<<"$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) say "unknown option $1"; usage; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { say "no partita command given after --"; usage; exit 2; }
job=("$@")

if [ -z "$via" ]; then
  if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null; then via=srun; else via=mpirun; fi
fi
# The value of a partita option in the job's arguments (--name V or --name=V), or nothing.
job_option() {
  local i
  for ((i = 0; i < ${#job[@]}; i++)); do
    case "${job[i]}" in
      "$1") [ $((i + 1)) -lt ${#job[@]} ] && echo "${job[i + 1]}" ;;
      "$1"=*) echo "${job[i]#"$1"=}" ;;
    esac
  done
}
if [ -z "$history" ]; then
  history=$(job_option --failure-history)
fi
if [ -z "$history" ]; then
  ckpt=$(job_option --checkpoint-dir)
  history=${ckpt:+$ckpt/failure-history}
  history=${history:-./partita-failure-history}
fi
mkdir -p "$(dirname "$history")"
status_dir=$(cd "$(dirname "$history")" && pwd)  # shared with the ranks like the history (they may run elsewhere)

# Signals that reach this script are passed on to the ranks (mpirun and srun forward them) and remembered:
# a stop that came from outside means "this allocation is ending", so a 75 then asks for a requeue.
child=0 stop_signal=
forward() {
  stop_signal=$1
  say "got SIG$1; passing it to the job so it checkpoints and stops"
  [ "$child" -gt 0 ] && kill -s "$1" "$child" 2>/dev/null
}
trap 'forward USR1' USR1
trap 'forward USR2' USR2
trap 'forward TERM' TERM

excluded=()   # nodes left out of relaunches in this allocation

launch_cmd() {
  local -a cmd
  if [ "$via" = srun ]; then
    cmd=(srun --kill-on-bad-exit=1)
    if [ ${#excluded[@]} -gt 0 ]; then
      local nodes=${SLURM_JOB_NUM_NODES:-1} tasks=${SLURM_NTASKS:-1} left
      left=$((nodes - ${#excluded[@]}))
      [ "$left" -ge 1 ] || { say "every node of the allocation has failed"; return 1; }
      local ex; ex=$(IFS=,; echo "${excluded[*]}")
      cmd+=(--exclude="$ex" -N "$left" -n "$(( tasks * left / nodes > 0 ? tasks * left / nodes : 1 ))")
    fi
  else
    cmd=(mpirun -n "$ranks" -x PARTITA_STATUS_FILE "${mpirun_args[@]}")
    [ "$(id -u)" -eq 0 ] && cmd+=(--allow-run-as-root)
  fi
  printf '%s\0' "${cmd[@]}" "${job[@]}"
}

has_restart() {
  local a; for a in "${job[@]}"; do case "$a" in --restart|--restart=*) return 0 ;; esac; done; return 1
}

# Nodes of this allocation that Slurm considers broken now.
failed_nodes() {
  [ -n "${SLURM_JOB_NODELIST:-}" ] && command -v scontrol >/dev/null || return 0
  local host state
  for host in $(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null); do
    state=$(scontrol show node "$host" -o 2>/dev/null | sed -n 's/.*State=\([^ ]*\).*/\1/p')
    case "$state" in
      *DOWN*|*DRAIN*|*FAIL*|*NOT_RESPONDING*|*NO_RESPOND*) echo "$host $state" ;;
    esac
  done
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  mapfile -d '' cmd < <(launch_cmd) || exit 1
  [ ${#cmd[@]} -gt 0 ] || exit 1
  say "attempt $attempt: ${cmd[*]}"
  if [ "$dry" -eq 1 ]; then exit 0; fi
  export PARTITA_STATUS_FILE="$status_dir/.partita-status.${SLURM_JOB_ID:-$$}.$attempt"
  rm -f "$PARTITA_STATUS_FILE"
  "${cmd[@]}" &
  child=$!
  # wait returns early when a trapped signal arrives; keep waiting for the job itself.
  while :; do
    wait "$child"; rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=0
  # The job's own word wins over the launch's exit status (see the top of this file).
  word=$(head -c 16 "$PARTITA_STATUS_FILE" 2>/dev/null | tr -d '[:space:]')
  rm -f "$PARTITA_STATUS_FILE"
  if [[ "$word" =~ ^[0-9]+$ ]]; then
    [ "$word" -eq "$rc" ] || say "the launch exited $rc; the job says $word"
    rc=$word
  elif [ "$rc" -eq 0 ]; then
    say "the launch exited 0 but the job never said it finished (no $PARTITA_STATUS_FILE): counting it as a failure"
    rc=1
  fi
  if [ "$rc" -eq 0 ]; then
    say "job finished (attempt $attempt)"
    exit 0
  fi

  if [ "$rc" -eq 2 ]; then
    say "usage error (exit 2): fix the command line; not relaunching"
    exit 2
  fi
  if [ "$rc" -eq "$EX_REQUEUE" ]; then
    if [ -n "$stop_signal" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
      say "job checkpointed after SIG$stop_signal (exit $EX_REQUEUE); requeueing Slurm job $SLURM_JOB_ID"
      scontrol requeue "$SLURM_JOB_ID" || say "scontrol requeue failed: submit with --requeue, or resubmit by hand; the next run resumes with --restart auto"
      exit "$EX_REQUEUE"
    fi
    if [ -n "$stop_signal" ]; then
      say "job checkpointed after SIG$stop_signal (exit $EX_REQUEUE); not in Slurm, so stopping here: rerun with --restart auto"
      exit "$EX_REQUEUE"
    fi
    why="job checkpointed and asked to be relaunched (exit $EX_REQUEUE)"
  else
    why="job failed with exit code $rc"
    now=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
    lost_nodes=0
    while read -r host state; do
      [ -n "$host" ] || continue
      printf '%s  %s  # Slurm job %s attempt %d: node state %s\n' "$host" "$now" \
        "${SLURM_JOB_ID:-none}" "$attempt" "$state" >>"$history"
      excluded+=("$host")
      lost_nodes=$((lost_nodes + 1))
      say "node $host is $state: added to $history, left out of the relaunch"
    done < <(failed_nodes)
    # A crash no broken node explains is still an interrupt: it counts for the mean time to interrupt.
    [ "$lost_nodes" -gt 0 ] || printf -- '-  %s  # Slurm job %s attempt %d: exit code %d\n' "$now" \
      "${SLURM_JOB_ID:-none}" "$attempt" "$rc" >>"$history"
    if [ -n "$stop_signal" ]; then
      say "$why after SIG$stop_signal; not relaunching"
      exit "$rc"
    fi
  fi

  if [ "$attempt" -gt "$max_relaunch" ]; then
    say "$why; giving up after $max_relaunch relaunches"
    exit "$rc"
  fi
  say "$why; relaunching with --restart auto"
  has_restart || job+=(--restart auto)
done
