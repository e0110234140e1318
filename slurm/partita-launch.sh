#!/usr/bin/env bash
# Runs a partita job and brings it back when it stops early. Used by slurm/partita.sbatch; works on its
# own under mpirun too.
#
#   slurm/partita-launch.sh [options] -- <partita> run <job> [partita options...]
#
# It starts the job with srun (inside a Slurm allocation) or mpirun (elsewhere). srun gets --mpi=pmix when
# `srun --mpi=list` offers it: Open MPI built with PMIx (Debian's, and most others) cannot start under a
# plain srun where Slurm's MpiDefault is none. --srun-args with its own --mpi, or SLURM_MPI_TYPE, decides
# instead; without a pmix plugin the launcher says so and runs srun as it is. Then, by how the job ended:
#   0    done: exit 0.
#   75   "checkpointed, please requeue" (EX_TEMPFAIL from sysexits.h). partita exits with 75 after it has
#        committed a checkpoint because it was told to stop (SIGUSR1 / SIGTERM, e.g. Slurm's --signal
#        warning before the time limit). If the warning went to this script (sbatch --signal=B:USR1@120),
#        the allocation is about to end: the Slurm job is requeued (scontrol requeue; needs --requeue) and
#        the next allocation continues from the checkpoint. Otherwise the job is relaunched at once in
#        this allocation with --restart auto.
#   did not start: the run failed before MPI was up on every rank. The launcher names a file in
#        PARTITA_STARTED_FILE, next to the failure history, and partita's first rank creates it once its
#        session is up; a run that ends without it (and without 0 or 75) failed to start: a missing program
#        or library, an MPI that cannot start under this launcher (srun --mpi), a usage error. That is no
#        interrupt: the failure history gets only a "#" comment line, which partita does not count.
#        Exit 2 (a usage error; srun also reports a missing program as 2) is never relaunched; any other
#        code is retried once, after --start-retry-delay seconds, and then the launcher gives up.
#   other a failure after the start (a rank or node died). Nodes of the allocation that Slurm reports DOWN,
#        DRAIN, FAIL or NOT_RESPONDING are checked again after --recheck-delay seconds: a node still DOWN,
#        DRAIN or FAIL, or still NOT_RESPONDING and failing a probe step (srun -w NODE true), is appended
#        to the failure-history file (one "host  UTC-time  # reason" line; partita's scheduler election
#        never picks a node listed there) and left out of the relaunches in this allocation (srun
#        --exclude; under mpirun a host file of the allocation without it). A node that recovered is not
#        blamed. With no node to blame one "-  UTC-time" line is written: every line with a time is an
#        interrupt, from which --checkpoint-interval auto derives the mean time to interrupt. Then the job
#        is relaunched with --restart auto, up to --max-relaunch times. When every node of the allocation
#        is unhealthy the Slurm job is requeued (exit 75) so that it resumes on other nodes.
#        Outside Slurm, under mpirun with a host file of its own (--mpirun-args "--hostfile F"), each host of
#        that file is asked to run `true` through mpirun's rsh agent (--mca plm_rsh_agent, else
#        $OMPI_MCA_plm_rsh_agent, else ssh), and asked again after --recheck-delay seconds: a host that
#        fails both is blamed the same way and left out of a copy of the host file for the relaunches.
# A relaunch adds `--restart auto` to the partita arguments unless they already have a --restart.
# Exit 0 alone is not taken as proof that the job finished under `mpirun --enable-recovery`: Open MPI exits 0
# there even when every rank failed. The job's own word is: the launcher sets PARTITA_STATUS_FILE (a file next to
# the failure history) and partita writes its exit code there when it concludes (0 done, 75 checkpointed,
# 2 usage error). That code, when present, is the job's exit code; under --enable-recovery exit 0 without it
# counts as a failure (elsewhere it is taken as done, with a warning: a program that does not write it).
# A whole node lost under mpirun --enable-recovery: Open MPI 4.1's mpirun ends the run when a daemon is lost, unless
# the daemons were started directly by mpirun, not through one another (--mca plm_rsh_no_tree_spawn 1, which the
# launcher adds under --enable-recovery). Then the ranks on the other nodes keep running and the job finishes in the
# same run, but mpirun never exits (it waits for the lost daemon's ranks): once the job has written its word,
# mpirun gets --finalize-grace seconds to end by itself, then the launcher ends it and takes the job's word.
# The same holds without --enable-recovery: a rank that fails leaves its non-zero word before MPI_Finalize, which
# can wait forever for a peer stuck in a collective (a lost link, a rank still waiting for one that failed), and
# the launcher ends that launch after the grace and relaunches.
# Ranks cut off from the majority of the hosts leave without a word of their own while the side that goes on
# renews $PARTITA_STATUS_FILE.lease (removed here with the status file after each attempt).
#
# Options:
#   --history FILE          failure-history file (default: the job's --failure-history, else
#                           $PARTITA_FAILURE_HISTORY, else <--checkpoint-dir>/failure-history,
#                           else ./partita-failure-history). Pass the same file to partita with
#                           --failure-history so its scheduler election avoids those nodes.
#   --max-relaunch N        relaunches after failures or in-allocation stops (default 3)
#   --start-retry-delay S   seconds before the one retry of a run that did not start (default 30)
#   --recheck-delay S       seconds before a node Slurm reports unhealthy is checked again (default 10)
#   --via srun|mpirun       how to start the ranks (default: srun inside Slurm, else mpirun)
#   -n N                    ranks for mpirun (default: $SLURM_NTASKS, else 4); srun takes its own from Slurm
#   --srun-args "..."       extra arguments for srun (e.g. "--mpi=pmi2 --cpu-bind=cores")
#   --mpirun-args "..."     extra arguments for mpirun (e.g. "--oversubscribe --bind-to none")
#   --finalize-grace S      seconds the launch may go on after the job's word (default 10), then it is ended
#   --dry-run               print the launch command, run nothing
# Exit code: the job's last exit code (0 when it finished; 75 after a requeue was requested; 127 when the
# program is not found here).
set -uo pipefail

readonly EX_REQUEUE=75
history=${PARTITA_FAILURE_HISTORY:-}
max_relaunch=3
start_retry_delay=30
recheck_delay=10
via=
ranks=${SLURM_NTASKS:-4}
srun_args=()
mpirun_args=()
dry=0
finalize_grace=10

say() { printf '[partita-launch %s] %s\n' "$(date '+%F %T')" "$*" >&2; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
seconds() { [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { say "$1 needs a number of seconds, not '$2'"; exit 2; }; }
count() { [[ $2 =~ ^[0-9]+$ ]] || { say "$1 needs a whole number, not '$2'"; exit 2; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    --history|--max-relaunch|--start-retry-delay|--recheck-delay|--via|-n|--srun-args|--mpirun-args|--finalize-grace)
      [ $# -ge 2 ] || { say "$1 needs a value (see --help)"; exit 2; } ;;
  esac
  case "$1" in
    --history) history=$2; shift 2 ;;
    --max-relaunch) count "$1" "$2"; max_relaunch=$2; shift 2 ;;
    --start-retry-delay) seconds "$1" "$2"; start_retry_delay=$2; shift 2 ;;
    --recheck-delay) seconds "$1" "$2"; recheck_delay=$2; shift 2 ;;
    --finalize-grace) seconds "$1" "$2"; finalize_grace=$2; shift 2 ;;
    --via) via=$2; shift 2 ;;
    -n) count "$1" "$2"; ranks=$2; shift 2 ;;
    --srun-args) read -r -a srun_args <<<"$2"; shift 2 ;;
    --mpirun-args) read -r -a mpirun_args <<<"$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) say "unknown option $1 (see --help)"; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { say "no partita command given after -- (see --help)"; exit 2; }
job=("$@")

in_slurm=0
[ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null && in_slurm=1
if [ -z "$via" ]; then
  if [ "$in_slurm" -eq 1 ]; then via=srun; else via=mpirun; fi
fi
case "$via" in
  srun|mpirun) ;;
  *) say "--via takes srun or mpirun, not '$via'"; exit 2 ;;
esac

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
# Whether the ranks run under mpirun --enable-recovery, where Open MPI exits 0 whatever the ranks did.
recovery_launch() {
  [ "$via" = mpirun ] || return 1
  local a
  for a in "${mpirun_args[@]}"; do [ "$a" = --enable-recovery ] && return 0; done
  return 1
}

# A missing program is found here, with its name, instead of as a start-up failure on every rank.
if [ "$dry" -eq 0 ] && ! command -v "${job[0]}" >/dev/null; then
  say "the program '${job[0]}' is not found or not executable on $(hostname -s): build it (cmake --build build --target partita_cli) or point PARTITA_BIN at it"
  exit 127
fi

# srun needs the process-management interface the MPI library was built for; Slurm's MpiDefault may be none.
srun_mpi=()
if [ "$via" = srun ]; then
  chosen=
  for a in "${srun_args[@]}"; do case "$a" in --mpi|--mpi=*) chosen=$a ;; esac; done
  if [ -n "$chosen" ]; then
    :
  elif [ -n "${SLURM_MPI_TYPE:-}" ]; then
    say "srun uses --mpi=$SLURM_MPI_TYPE (from SLURM_MPI_TYPE)"
  elif offered=$(srun --mpi=list 2>&1) && grep -qw pmix <<<"$offered"; then
    srun_mpi=(--mpi=pmix)
  else
    say "warning: srun offers no pmix plugin (srun --mpi=list: $(tr -s '\n\t' '  ' <<<"${offered:-nothing}")). An MPI built with PMIx (Open MPI as Debian ships it) cannot start under srun without it: ask the site for Slurm's pmix plugin, pass --srun-args --mpi=TYPE (SRUN_ARGS in the template) for an MPI built for another interface, or use --via mpirun (LAUNCH_VIA=mpirun)"
  fi
fi

# Signals that reach this script are passed on to the ranks (mpirun and srun forward them) and remembered:
# a stop that came from outside means "this allocation is ending", so a 75 then asks for a requeue. A signal
# that comes before the job has started (Slurm's warning timer ticks about every 30 s, so a short job can
# get it at once) is held until partita marks itself started, or for at most 10 s of the run: a process
# still loading could die of it instead of checkpointing.
child=0 child_since=0 stop_signal='' pending='' requeued=0
forward() {
  [ "$requeued" -eq 1 ] && return   # Slurm ends this run of the requeued job: nothing left to pass on
  stop_signal=$1
  if [ "$child" -gt 0 ] && { [ -e "$started_file" ] || [ $((SECONDS - child_since)) -ge 10 ]; }; then
    say "got SIG$1; passing it to the job so it checkpoints and stops"
    kill -s "$1" "$child" 2>/dev/null
  else
    say "got SIG$1 before the job started; passing it on once it has"
    pending=$1
  fi
}
trap 'forward USR1' USR1
trap 'forward USR2' USR2
trap 'forward TERM' TERM

scratch=$(mktemp -d "${TMPDIR:-/tmp}/partita-launch.XXXXXX") || { say "cannot create a scratch directory in ${TMPDIR:-/tmp}"; exit 1; }
started_file=
trap 'rm -rf "$scratch"; [ -n "$started_file" ] && rm -f "$started_file"' EXIT

excluded=()   # nodes left out of relaunches in this allocation

# Under mpirun outside Slurm: the host file the operator gave mpirun, and how mpirun reaches its hosts.
own_hostfile='' rsh_agent=${OMPI_MCA_plm_rsh_agent:-}
for ((i = 0; i < ${#mpirun_args[@]}; i++)); do
  case "${mpirun_args[i]}" in
    --hostfile|-hostfile|--machinefile|-machinefile) own_hostfile=${mpirun_args[i + 1]:-} ;;
    --mca|-mca) [ "${mpirun_args[i + 1]:-}" = plm_rsh_agent ] && rsh_agent=${mpirun_args[i + 2]:-} ;;
  esac
done
if [ -n "$own_hostfile" ] && [ ! -r "$own_hostfile" ]; then
  say "the host file '$own_hostfile' in --mpirun-args is not readable: give an existing file"; exit 2
fi

# Hosts of the allocation, one a line, and their task counts (SLURM_TASKS_PER_NODE: "2(x3),1").
allocation_hosts() { scontrol show hostnames "${SLURM_JOB_NODELIST:-}" 2>/dev/null; }
tasks_per_node() {
  local part c IFS=,
  for part in ${SLURM_TASKS_PER_NODE:-}; do
    if [[ $part =~ ^([0-9]+)\(x([0-9]+)\)$ ]]; then
      for ((c = 0; c < BASH_REMATCH[2]; c++)); do echo "${BASH_REMATCH[1]}"; done
    else
      echo "$part"
    fi
  done
}
is_excluded() { local e; for e in "${excluded[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }

# Writes the launch command, NUL-separated. Returns 3 when no node of the allocation is left.
launch_cmd() {
  local -a cmd
  local nodes=${SLURM_JOB_NUM_NODES:-1} tasks=${SLURM_NTASKS:-$ranks} left
  left=$((nodes - ${#excluded[@]}))
  [ "$left" -ge 1 ] || [ -n "$own_hostfile" ] || return 3
  if [ "$via" = srun ]; then
    cmd=(srun --kill-on-bad-exit=1 "${srun_mpi[@]}" "${srun_args[@]}")
    if [ ${#excluded[@]} -gt 0 ]; then
      local ex; ex=$(IFS=,; echo "${excluded[*]}")
      cmd+=(--exclude="$ex" -N "$left" -n "$(( tasks * left / nodes > 0 ? tasks * left / nodes : 1 ))")
    fi
  else
    local n=$ranks
    local -a hosts=()
    if [ ${#excluded[@]} -gt 0 ]; then
      local a own=
      for a in "${mpirun_args[@]}"; do
        case "$a" in --hostfile|-hostfile|--machinefile|-machinefile|--host|-host|-H|--default-hostfile) own=$a ;; esac
      done
      if [ -n "$own_hostfile" ]; then
        # The operator's host file without the blamed hosts, in place of theirs.
        local host rest kept=0 total=0 filtered=$scratch/hosts
        : >"$filtered"
        while read -r host rest; do
          case "$host" in ''|'#'*) continue ;; esac
          total=$((total + 1))
          is_excluded "$host" && continue
          echo "$host $rest" >>"$filtered"
          kept=$((kept + 1))
        done <"$own_hostfile"
        [ "$kept" -ge 1 ] || return 3
        n=$(( ranks * kept / total > 0 ? ranks * kept / total : 1 ))
        local i
        for ((i = 0; i < ${#mpirun_args[@]}; i++)); do
          [ "${mpirun_args[i]}" = "$own" ] && mpirun_args[i + 1]=$filtered
        done
      elif [ -n "$own" ]; then
        say "cannot leave ${excluded[*]} out of the mpirun relaunch: the mpirun arguments choose the hosts ($own); relaunching on them as given" >&2
      else
        # Open MPI inside a Slurm allocation takes a host file as a subset of the allocation.
        local -a all counts
        mapfile -t all < <(allocation_hosts)
        mapfile -t counts < <(tasks_per_node)
        local i slots=0 hostfile=$scratch/hosts
        : >"$hostfile"
        for ((i = 0; i < ${#all[@]}; i++)); do
          is_excluded "${all[i]}" && continue
          echo "${all[i]} slots=${counts[i]:-1}" >>"$hostfile"
          slots=$((slots + ${counts[i]:-1}))
        done
        n=$(( ranks * left / nodes > 0 ? ranks * left / nodes : 1 ))
        [ "$slots" -gt 0 ] && [ "$n" -gt "$slots" ] && n=$slots
        hosts=(--hostfile "$hostfile")
      fi
    fi
    cmd=(mpirun -n "$n" "${hosts[@]}" "${mpirun_args[@]}" -x PARTITA_STARTED_FILE -x PARTITA_STATUS_FILE)
    # A lost node's daemon ends the run when daemons were spawned through one another (see the top of this file).
    if recovery_launch && [[ " ${mpirun_args[*]} " != *" plm_rsh_no_tree_spawn "* ]]; then
      cmd+=(--mca plm_rsh_no_tree_spawn 1)
    fi
    [ "$(id -u)" -eq 0 ] && cmd+=(--allow-run-as-root)
  fi
  printf '%s\0' "${cmd[@]}" "${job[@]}"
}

has_restart() {
  local a; for a in "${job[@]}"; do case "$a" in --restart|--restart=*) return 0 ;; esac; done; return 1
}

node_state() { scontrol show node "$1" -o 2>/dev/null | sed -n 's/.* State=\([^ ]*\).*/\1/p'; }
unhealthy() { case "$1" in *DOWN*|*DRAIN*|*FAIL*|*NOT_RESPONDING*|*NO_RESPOND*) return 0 ;; esac; return 1; }
declared_bad() { case "$1" in *DOWN*|*DRAIN*|*FAIL*) return 0 ;; esac; return 1; }
probe() { timeout 60 srun --overlap -w "$1" -N 1 -n 1 --mpi=none true >/dev/null 2>&1; }

# Nodes of this allocation that are really unhealthy now, "host reason" a line. A state Slurm reports at the
# moment of a failure may pass (a loaded node shows NOT_RESPONDING for a few seconds): look again after a
# delay, and ask a node that still does not respond to run a probe step.
# A host of the operator's host file that does not run `true` through mpirun's rsh agent, twice.
host_answers() {
  local -a agent
  read -r -a agent <<<"${rsh_agent:-ssh}"
  [ "${agent[0]##*/}" = ssh ] && agent+=(-o BatchMode=yes -o ConnectTimeout=5)
  timeout 20 "${agent[@]}" "$1" true </dev/null >/dev/null 2>&1
}
failed_hosts() {
  local host rest i
  local -a suspects=()
  while read -r host rest; do
    case "$host" in ''|'#'*) continue ;; esac
    is_excluded "$host" || host_answers "$host" || suspects+=("$host")
  done <"$own_hostfile"
  [ ${#suspects[@]} -gt 0 ] || return 0
  say "${suspects[*]} did not answer through ${rsh_agent:-ssh}; asking again in $recheck_delay s"
  sleep "$recheck_delay"
  for host in "${suspects[@]}"; do
    if host_answers "$host"; then
      say "host $host answers again: not blamed"
    else
      echo "$host did not run 'true' through ${rsh_agent:-ssh}, twice"
    fi
  done
}

failed_nodes() {
  if [ "$in_slurm" -eq 0 ] && [ "$via" = mpirun ] && [ -n "$own_hostfile" ]; then failed_hosts; return 0; fi
  [ -n "${SLURM_JOB_NODELIST:-}" ] && command -v scontrol >/dev/null || return 0
  local host state i
  local -a suspects=() states=()
  while read -r host; do
    if [ -z "$host" ] || is_excluded "$host"; then continue; fi
    state=$(node_state "$host")
    if unhealthy "$state"; then suspects+=("$host"); states+=("$state"); fi
  done < <(allocation_hosts)
  [ ${#suspects[@]} -gt 0 ] || return 0
  say "Slurm reports ${suspects[*]} as ${states[*]}; checking again in $recheck_delay s"
  sleep "$recheck_delay"
  for ((i = 0; i < ${#suspects[@]}; i++)); do
    host=${suspects[i]}
    state=$(node_state "$host")
    if ! unhealthy "$state"; then
      say "node $host was ${states[i]}, now ${state:-unknown}: a passing state, not blamed"
    elif declared_bad "$state"; then
      echo "$host node state $state"
    elif [ "$in_slurm" -eq 1 ] && probe "$host"; then
      say "node $host is still $state but ran a probe step (srun -w $host true): not blamed"
    else
      echo "$host node state $state, and a probe step on it failed"
    fi
  done
}

now_utc() { date -u '+%Y-%m-%dT%H:%M:%SZ'; }

attempt=0 relaunches=0 start_failures=0
while :; do
  attempt=$((attempt + 1))
  # A new name each attempt: a shared file system never answers from a cached "not there" for it.
  started_file=$(cd "$(dirname "$history")" && pwd)/.partita-started.${SLURM_JOB_ID:-local}.$$.$attempt
  export PARTITA_STARTED_FILE=$started_file
  mapfile -d '' cmd < <(launch_cmd)
  if [ ${#cmd[@]} -eq 0 ]; then
    if [ "$in_slurm" -eq 1 ]; then
      say "every node of this allocation is unhealthy (${excluded[*]}): requeueing Slurm job $SLURM_JOB_ID so that it resumes from its checkpoint on other nodes"
      requeued=1
      # Slurm stops this run with SIGTERM as it requeues; scontrol must not die of it before it answers.
      (trap '' TERM; exec scontrol requeue "$SLURM_JOB_ID") || say "scontrol requeue failed: submit with --requeue, or resubmit by hand; the next run resumes with --restart auto"
      exit "$EX_REQUEUE"
    fi
    say "no node left to run on"; exit 1
  fi
  say "attempt $attempt: ${cmd[*]}"
  if [ "$dry" -eq 1 ]; then exit 0; fi
  export PARTITA_STATUS_FILE="$status_dir/.partita-status.${SLURM_JOB_ID:-$$}.$attempt"
  rm -f "$PARTITA_STATUS_FILE" "$PARTITA_STATUS_FILE.lease"
  "${cmd[@]}" &
  child=$! child_since=$SECONDS word_since=''
  # wait returns early when a trapped signal arrives; keep waiting for the job itself. A held signal is
  # passed on once the job has started (polled only then: a file system may cache "not there" for a while).
  while :; do
    # The launch may never end after a lost node, nor when a rank failed while another waits for it in MPI_Finalize
    # or a collective (see the top of this file): poll for the job's word.
    if [ -z "$word_since" ] && [ -s "$PARTITA_STATUS_FILE" ]; then word_since=$SECONDS; fi
    if [ -n "$word_since" ] && [ $((SECONDS - word_since)) -ge "${finalize_grace%.*}" ] && kill -0 "$child" 2>/dev/null; then
      say "the job said it ended (exit $(head -c 16 "$PARTITA_STATUS_FILE" | tr -d '[:space:]')) ${finalize_grace} s ago and ${cmd[0]} is still waiting (for a lost node's daemon, or a rank that waits for a failed one?): ending ${cmd[0]}"
      kill -TERM "$child" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$child" 2>/dev/null
      wait "$child"; rc=$?
      break
    fi
    if [ -z "$pending" ]; then
      sleep 0.5
      kill -0 "$child" 2>/dev/null && continue
    fi
    if [ -n "$pending" ]; then
      if [ -e "$started_file" ] || [ $((SECONDS - child_since)) -ge 10 ]; then
        say "passing the held SIG$pending to the job"
        kill -s "$pending" "$child" 2>/dev/null
        pending=''
      fi
      sleep 0.2
      kill -0 "$child" 2>/dev/null && continue
    fi
    wait "$child"; rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=0 pending=''
  # The job's own word wins over the launch's exit status (see the top of this file).
  word=$(head -c 16 "$PARTITA_STATUS_FILE" 2>/dev/null | tr -d '[:space:]')
  rm -f "$PARTITA_STATUS_FILE" "$PARTITA_STATUS_FILE.lease" "$PARTITA_STATUS_FILE".lease.*
  if [[ "$word" =~ ^[0-9]+$ ]] && [ "$word" -eq "$EX_REQUEUE" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne "$EX_REQUEUE" ] &&
     [ -z "$stop_signal" ] && ! recovery_launch; then
    # No stop signal came through here, yet the job checkpointed and stopped while the launch failed: srun or mpirun
    # stopped the survivors of a rank that died. That is an interrupt (and a relaunch), not a clean stop. Not under
    # mpirun --enable-recovery: there nobody stops the survivors of a lost rank, and the job itself stops mpirun to
    # make its 75 seen (a stop signal sent to mpirun directly, not through here, ends that way).
    say "the job checkpointed and stopped (75), but the launch exited $rc with no stop signal sent: a rank was lost"
  elif [[ "$word" =~ ^[0-9]+$ ]]; then
    [ "$word" -eq "$rc" ] || say "the launch exited $rc; the job says $word"
    rc=$word
  elif [ "$rc" -eq 0 ] && recovery_launch; then
    say "the launch exited 0 but the job never said it finished (no $PARTITA_STATUS_FILE; under mpirun --enable-recovery exit 0 proves nothing): counting it as a failure"
    rc=1
  elif [ "$rc" -eq 0 ]; then
    say "the launch exited 0 without the job's word (a program that does not use partita::program?): taking it as done"
  fi
  started=0
  if [ "$rc" -eq 0 ] || [ "$rc" -eq "$EX_REQUEUE" ] || [ -e "$started_file" ]; then started=1; fi
  rm -f "$started_file"
  if [ "$rc" -eq 0 ]; then
    say "job finished (attempt $attempt)"
    exit 0
  fi

  if [ "$started" -eq 0 ]; then
    if [ "$rc" -eq 2 ]; then
      say "the job stopped before it started, with exit 2: a usage error (partita's message is above) or a program the launcher could not start; not an interrupt; fix the command line, not relaunching"
      exit 2
    fi
    printf '# %s  Slurm job %s attempt %d: did not start (exit code %d); not an interrupt\n' "$(now_utc)" \
      "${SLURM_JOB_ID:-none}" "$attempt" "$rc" >>"$history"
    hint="a program or library missing on a node, or an MPI that cannot start under $via"
    case "$rc" in
      126|127) hint="the program or a library it needs is missing or not executable on a node (exit $rc)" ;;
    esac
    [ "$via" = srun ] && hint="$hint; if the ranks printed \"OMPI was not built with SLURM's PMI support\" or PMI/PMIx errors, srun and the MPI library disagree: see srun --mpi=list and pass --srun-args --mpi=TYPE, or use --via mpirun"
    if [ -n "$stop_signal" ]; then
      say "the job did not start (exit $rc) and SIG$stop_signal came meanwhile: not relaunching"
      exit "$rc"
    fi
    if [ "$start_failures" -ge 1 ]; then
      say "the job did not start again (exit $rc, attempt $attempt): giving up; likely $hint"
      exit "$rc"
    fi
    start_failures=$((start_failures + 1))
    say "the job did not start (exit $rc before MPI was up on every rank): not an interrupt; likely $hint; retrying once in $start_retry_delay s"
    sleep "$start_retry_delay"
    continue
  fi

  if [ "$rc" -eq 2 ]; then
    say "usage error (exit 2): fix the command line; not relaunching"
    exit 2
  fi
  if [ "$rc" -eq "$EX_REQUEUE" ]; then
    if [ -n "$stop_signal" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
      say "job checkpointed after SIG$stop_signal (exit $EX_REQUEUE); requeueing Slurm job $SLURM_JOB_ID"
      requeued=1
      # Slurm stops this run with SIGTERM as it requeues; scontrol must not die of it before it answers.
      (trap '' TERM; exec scontrol requeue "$SLURM_JOB_ID") || say "scontrol requeue failed: submit with --requeue, or resubmit by hand; the next run resumes with --restart auto"
      exit "$EX_REQUEUE"
    fi
    if [ -n "$stop_signal" ]; then
      say "job checkpointed after SIG$stop_signal (exit $EX_REQUEUE); not in Slurm, so stopping here: rerun with --restart auto"
      exit "$EX_REQUEUE"
    fi
    why="job checkpointed and asked to be relaunched (exit $EX_REQUEUE)"
  else
    why="job failed with exit code $rc"
    if [ -n "$stop_signal" ]; then
      # Stopping was asked for: the allocation is ending, and a crash while stopping blames no node.
      printf -- '-  %s  # Slurm job %s attempt %d: exit code %d after SIG%s\n' "$(now_utc)" \
        "${SLURM_JOB_ID:-none}" "$attempt" "$rc" "$stop_signal" >>"$history"
      say "$why after SIG$stop_signal; not relaunching"
      exit "$rc"
    fi
    lost_nodes=0
    while read -r host reason; do
      [ -n "$host" ] || continue
      printf '%s  %s  # Slurm job %s attempt %d: %s\n' "$host" "$(now_utc)" \
        "${SLURM_JOB_ID:-none}" "$attempt" "$reason" >>"$history"
      excluded+=("$host")
      lost_nodes=$((lost_nodes + 1))
      say "node $host: $reason: added to $history, left out of the relaunch"
    done < <(failed_nodes)
    # A crash no broken node explains is still an interrupt: it counts for the mean time to interrupt.
    [ "$lost_nodes" -gt 0 ] || printf -- '-  %s  # Slurm job %s attempt %d: exit code %d\n' "$(now_utc)" \
      "${SLURM_JOB_ID:-none}" "$attempt" "$rc" >>"$history"
  fi

  if [ "$relaunches" -ge "$max_relaunch" ]; then
    say "$why; giving up after $max_relaunch relaunches"
    exit "$rc"
  fi
  relaunches=$((relaunches + 1))
  say "$why; relaunching with --restart auto (relaunch $relaunches of at most $max_relaunch)"
  has_restart || job+=(--restart auto)
done
