#!/usr/bin/env bash
# Multi-host tests on an emulated cluster (tools/minicluster): 3 nodes, each its own network + UTS namespace with
# its own host name and address on a private bridge, mpirun reaching them through the tool's rsh agent, TCP between
# them. Every case compares a job's result with the same job run on this one host, bitwise.
#   jobs        map/reduce at one and two levels (node schedulers on real nodes), pi, heat and pagerank
#   heal        a worker's node cut off for 3 s, well inside --timeout: the exact result, no rank declared lost
#   node_kill   a whole node killed (every process, its orted included, then its link) under
#               slurm/partita-launch.sh --via mpirun with the cluster's host file: mpirun ends, the launcher finds
#               the host that no longer answers its rsh agent, relaunches without it, --restart auto, exact
#   in_job      a whole node lost under mpirun --enable-recovery (a worker node, then the scheduler's): the job goes
#               on in the same run and is exact; then heat with rank 0's node lost: the survivors roll back in the
#               same run, exact
#   slow_links  every link with 0.3 ms added delay and 0.5 % frame loss once the job runs: exact, no false loss at
#               the default --timeout
#   partition_worker     a worker node cut off past 2 x --timeout under --enable-recovery (flat) through the launcher:
#               the majority declares its ranks lost and finishes exactly; the cut-off ranks, whose takeover gathers
#               no majority of the hosts, leave without a checkpoint or a result (failure history); one result; then
#               the same without --enable-recovery: the run ends and the launcher relaunches, exact
#   partition_scheduler  the scheduler's node cut off past 2 x --timeout: the majority fails over, the old scheduler
#               commits nothing after it lost its majority (no epoch written twice, every later one the new
#               scheduler's), one result, exact
#   two_level_nodes      --scheduler-levels 2, a node scheduler per node under --enable-recovery: a node scheduler's
#               node lost, a member node lost (--ranks-per-node 3: a node scheduler serving another node's ranks), a
#               node cut and healed within --timeout: the same run, exact
#   two_level_root       the root's node lost at two levels under --enable-recovery: a surviving rank that gives up
#               leaves the job's word (1), the launcher ends the mpirun that waits for the lost daemon and relaunches
#               without the node, exact
# Needs root and ip/tc/unshare/nsenter; skips (77) without them. Everything the test started is torn down on exit.
# Usage: minicluster_test.sh CASE <source dir> <partita binary> <scratch dir, seen by every node (not /tmp)>
set -uo pipefail
case_name=$1 src=$2 partita=$3 scratch=$4
skip() { echo "SKIP [$case_name]: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, a bridge, veth pairs)"
for b in ip tc unshare nsenter mpirun python3; do command -v "$b" >/dev/null || skip "$b is not installed"; done
[ -x "$partita" ] || skip "$partita is not built yet"

export PARTITA_MC_PREFIX=pmt   # not the prefix of a cluster brought up by hand (pmc)
mc=$src/tools/minicluster
mkdir -p "$scratch" && work=$(mktemp -d "$scratch/mc.XXXXXX") || { echo "cannot create a directory in $scratch"; exit 1; }
cleanup() { "$mc" down >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL [$case_name]: $*"
  for f in "$work"/log*; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done
  "$mc" status 2>/dev/null
  exit 1
}
result() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['result'])" "$1" 2>/dev/null; }
lost_ranks() { python3 -c "import json,sys;print(sum(1 for w in json.load(open(sys.argv[1]))['workers'] if w['lost']))" "$1"; }

"$mc" up 3 --slots 2 >"$work/up.log" 2>&1 || { rc=$?; [ $rc -eq 77 ] && skip "$(cat "$work/up.log")"; cat "$work/up.log"; fail "minicluster up exited $rc"; }
eval "$("$mc" env)"
hostname_on() { "$mc" on "$1" -- hostname; }
[ "$(hostname_on 2)" = pmt-node2 ] || fail "node 2 does not have its own host name"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun_local=(mpirun --oversubscribe --mca mpi_yield_when_idle 1)
mpirun_cluster=(mpirun --hostfile "$PARTITA_MC_HOSTFILE" --oversubscribe --mca mpi_yield_when_idle 1)
cd "$work" || fail "cannot enter $work"

# ref NAME ARGS...: the job on this host (6 ranks), its result in $work/NAME.ref.json.
ref() { local name=$1; shift; timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "$@" --quiet --summary-json "$work/$name.ref.json" >"$work/log.ref" 2>&1 || fail "$name: the one-host run exited $?"; }
# across NAME ARGS...: the job on the 3 nodes (6 ranks), compared with its reference.
across() {
  local name=$1; shift
  timeout 200 "${mpirun_cluster[@]}" -n 6 "$partita" "$@" --summary-json "$work/$name.json" >"$work/log.$name" 2>&1 ||
    fail "$name: the run across 3 nodes exited $?"
  [ -n "$(result "$work/$name.ref.json")" ] || fail "$name: no result on one host"
  [ "$(result "$work/$name.json")" = "$(result "$work/$name.ref.json")" ] ||
    fail "$name: '$(result "$work/$name.json")' across 3 nodes, '$(result "$work/$name.ref.json")' on one host"
  echo "ok   $name: '$(result "$work/$name.json")' across 3 nodes, bitwise the one-host result"
}

synthetic=(run synthetic --param partitions=600 --param median_us=2000 --param sigma=0.5 --threads 2)
case $case_name in
jobs)
  # Where each rank ran: two ranks on each node, by their own host names.
  timeout 60 "${mpirun_cluster[@]}" -n 6 hostname >"$work/log.hosts" 2>&1 || fail "mpirun hostname across the nodes exited $?"
  [ "$(sort "$work/log.hosts" | uniq -c | awk '{print $1 " " $2}' | tr '\n' ' ')" = "2 pmt-node1 2 pmt-node2 2 pmt-node3 " ] ||
    fail "ranks are not two per node: $(tr '\n' ' ' <"$work/log.hosts")"
  ref synthetic "${synthetic[@]}" --scheduler-levels 1
  across synthetic "${synthetic[@]}" --scheduler-levels 1
  cp "$work/synthetic.ref.json" "$work/two_level.ref.json"
  across two_level "${synthetic[@]}" --scheduler-levels 2
  # Node schedulers on the real nodes: the root serves its own node, nodes 2 and 3 get one each.
  grep -q "two-level scheduling: 2 node scheduler(s) between the root (rank 0) and 6 ranks" "$work/log.two_level" ||
    fail "two_level: not 2 node schedulers under the root: $(grep two-level "$work/log.two_level")"
  pi=(run pi --param samples=200000 --param partitions=60)
  ref pi "${pi[@]}"; across pi "${pi[@]}"
  heat=(run heat --param blocks_x=4 --param blocks_y=3 --param block=32 --param steps=150 --threads 1)
  ref heat "${heat[@]}"; across heat "${heat[@]}"
  pagerank=(run pagerank --param vertices=4000 --param blocks=9 --threads 1)
  ref pagerank "${pagerank[@]}"; across pagerank "${pagerank[@]}" ;;
heal)
  # Node 3 holds workers only (--scheduler-rank 0). Cut once the job runs (its first checkpoint is in), heal 3 s
  # later, while it still runs; 12 threads of ~30 ms partitions take ~6 s.
  job=(run synthetic --param partitions=2400 --param median_us=30000 --param sigma=0.3 --threads 2 --scheduler-rank 0
       --timeout 15 --checkpoint-every 1s)
  ref heal "${job[@]}" --checkpoint-dir "$work/ck-ref"
  (
    for _ in $(seq 600); do [ -s "$work/ck/LATEST" ] && break; sleep 0.1; done
    "$mc" cut 3 && sleep 3 && "$mc" heal 3 && echo healed
    pgrep -f "^mpirun --hostfile $PARTITA_MC_HOSTFILE" >/dev/null && echo "still running"
  ) >"$work/log.faults" 2>&1 &
  across heal "${job[@]}" --checkpoint-dir "$work/ck"
  wait
  grep -q "still running" "$work/log.faults" || fail "the job was not running any more when node 3 was healed: $(cat "$work/log.faults")"
  [ "$(lost_ranks "$work/heal.json")" = 0 ] || fail "a rank was declared lost during a 3 s cut with --timeout 15" ;;
node_kill)
  job=(run synthetic --param partitions=2000 --param median_us=40000 --param sigma=0.3 --threads 2 --scheduler-rank 0
       --checkpoint-every 1s --quiet)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${job[@]}" --checkpoint-dir "$work/ck-ref" \
    --summary-json "$work/kill.ref.json" >"$work/log.ref" 2>&1 || fail "the one-host run exited $?"
  # Kill node 3 once the first checkpoint is committed.
  (
    for _ in $(seq 600); do [ -s "$work/ck/LATEST" ] && break; sleep 0.1; done
    sleep 1; date +%s.%N >"$work/t_kill"; "$mc" kill 3
  ) >"$work/log.faults" 2>&1 &
  timeout 300 "$src/slurm/partita-launch.sh" --via mpirun -n 6 --recheck-delay 1 \
    --mpirun-args "--hostfile $PARTITA_MC_HOSTFILE --oversubscribe --mca mpi_yield_when_idle 1" \
    -- "$partita" "${job[@]}" --checkpoint-dir "$work/ck" --summary-json "$work/kill.json" >"$work/log.launch" 2>&1
  rc=$?; wait
  [ $rc -eq 0 ] || fail "the launcher exited $rc"
  grep -q "killed" "$work/log.faults" || fail "node 3 was not killed: $(cat "$work/log.faults")"
  grep -q "node pmt-node3: did not run 'true' through .*agent, twice: added to .*, left out of the relaunch" "$work/log.launch" ||
    fail "the launcher did not blame pmt-node3"
  grep -q "attempt 2: mpirun -n 4 --hostfile .* --restart auto" "$work/log.launch" || fail "no relaunch on 4 ranks without the node"
  grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/log.launch" || fail "the relaunch did not resume from a checkpoint"
  grep -q "^pmt-node3 " "$work/ck/failure-history" || fail "pmt-node3 is not in the failure history"
  [ "$(result "$work/kill.json")" = "$(result "$work/kill.ref.json")" ] ||
    fail "'$(result "$work/kill.json")' after the node loss, '$(result "$work/kill.ref.json")' uninterrupted"
  t_relaunch=$(sed -n 's/^\[partita-launch \(.*\)\] attempt 2: .*/\1/p' "$work/log.launch")
  echo "ok   node_kill: exact after the relaunch without pmt-node3; attempt 2 started $(awk -v a="$(cat "$work/t_kill")" -v b="$(date -d "$t_relaunch" +%s)" 'BEGIN { printf "%.0f", b - a }') s after the kill (whole seconds)"
  grep "attempt 1\|job failed" "$work/log.launch" | sed 's/^/     /' ;;
in_job)
  # A whole node lost in the same run (docs/design.md, "A cluster on one machine"): under mpirun --enable-recovery the
  # launcher adds --mca plm_rsh_no_tree_spawn 1, the ranks on the other nodes go on, and the launcher ends the mpirun
  # that waits for the lost daemon once the job has said it finished. Node 3 (workers only), then node 1 (the
  # scheduler's: failover to rank 2 on node 2): one attempt each, the exact result. About 13 s of work on 12 threads,
  # so that the kill (1 s after the first checkpoint) lands well before the end also on a loaded machine (with 2000
  # partitions a run beside a parallel build ended before it).
  job=(run synthetic --param partitions=4000 --param median_us=40000 --param sigma=0.3 --threads 2 --checkpoint-every 1s
       --timeout 5 --heartbeat 0.5 --quiet)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${job[@]}" --checkpoint-dir "$work/ck-ref" \
    --summary-json "$work/in_job.ref.json" >"$work/log.ref" 2>&1 || fail "the one-host run exited $?"
  # lose_node_in_job NAME REF NODE DELAY ARGS...: the job ARGS through the launcher under mpirun --enable-recovery
  # on a fresh cluster, NODE killed DELAY s after its first checkpoint (the time in $work/t_kill_NAME); checks one
  # attempt, exit 0 and the result of the summary REF; its own summary in $work/in_job_NAME.json.
  lose_node_in_job() {
    local name=$1 ref=$2 node=$3 delay=$4; shift 4
    "$mc" down >/dev/null; "$mc" up 3 --slots 2 >/dev/null || fail "up again"
    (
      for _ in $(seq 900); do [ -s "$work/ck_$name/LATEST" ] && break; sleep 0.1; done
      sleep "$delay"; date +%s.%N >"$work/t_kill_$name"; "$mc" kill "$node"
    ) >"$work/log.faults" 2>&1 &
    timeout 300 "$src/slurm/partita-launch.sh" --via mpirun -n 6 --finalize-grace 5 \
      --mpirun-args "--hostfile $PARTITA_MC_HOSTFILE --oversubscribe --mca mpi_yield_when_idle 1 --enable-recovery" \
      -- "$partita" "$@" --checkpoint-dir "$work/ck_$name" --summary-json "$work/in_job_$name.json" \
      >"$work/log.launch" 2>&1
    local rc=$?; wait
    [ $rc -eq 0 ] || fail "$name: the launcher exited $rc"
    grep -q "killed" "$work/log.faults" || fail "$name: node $node was not killed: $(cat "$work/log.faults")"
    ! grep -q "attempt 2" "$work/log.launch" || fail "$name: relaunched; the job should have gone on in the same run"
    grep -q "attempt 1: mpirun .*--enable-recovery .*--mca plm_rsh_no_tree_spawn 1" "$work/log.launch" ||
      fail "the launcher did not add --mca plm_rsh_no_tree_spawn 1"
    [ "$(result "$work/in_job_$name.json")" = "$(result "$ref")" ] ||
      fail "$name: '$(result "$work/in_job_$name.json")' after the node loss, '$(result "$ref")' uninterrupted"
  }
  # seconds_after_kill NAME PATTERN: seconds from the kill to the first log line matching PATTERN
  seconds_after_kill() {
    local t; t=$(sed -n "s/^\[\([0-9-]* [0-9:.]*\)\] .*$2.*/\1/p" "$work/log.launch" | head -1)
    [ -n "$t" ] && awk -v a="$(cat "$work/t_kill_$1")" -v b="$(date -d "$t" +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
  }
  for victim in 3 1; do
    lose_node_in_job "node$victim" "$work/in_job.ref.json" "$victim" 1 "${job[@]}"
    lost=$(python3 -c "import json,sys;print(' '.join(str(w['rank']) for w in json.load(open(sys.argv[1]))['workers'] if w['lost']))" "$work/in_job_node$victim.json")
    if [ "$victim" = 3 ]; then
      [ "$lost" = "4 5" ] || fail "node 3: lost ranks '$lost', expected '4 5'"
    else
      grep -q "failover: rank 2 is the scheduler now" "$work/log.launch" || fail "node 1: no failover to rank 2"
      echo "     node 1: first result of the new scheduler $(seconds_after_kill node1 "failover: first result committed") s after the kill (--timeout 5)"
    fi
    echo "ok   in_job: node $victim killed, the job went on in the same run, exact; lost ranks: ${lost:-none}"
  done
  # An iterative job: rank 0's node (the coordinator's) lost; the four survivors agree on who is left and roll back
  # in the same run. The kill lands 0.3 s after a checkpoint, about 2 s before the next: a node lost inside the
  # collective checkpoint write is a relaunch instead (MPI cannot leave a collective; docs/design.md, "In-job
  # rollback"), which the chaos harness draws.
  heat=(run heat --param blocks_x=4 --param blocks_y=3 --param block=64 --param steps=20000 --threads 1
        --checkpoint-every 5000 --timeout 5 --heartbeat 0.5 --quiet)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${heat[@]}" --checkpoint-dir "$work/ckh-ref" \
    --summary-json "$work/in_job_heat.ref.json" >"$work/log.ref" 2>&1 || fail "heat: the one-host run exited $?"
  lose_node_in_job heat "$work/in_job_heat.ref.json" 1 0.3 "${heat[@]}"
  rolled=$(python3 -c "import json,sys;print(' '.join(f\"{r['lost_ranks']}:{r['ranks_after']}\" for r in json.load(open(sys.argv[1]))['rollbacks']))" "$work/in_job_heat.json")
  [ "$rolled" = "[0, 1]:4" ] || fail "heat, node 1: rollbacks '$rolled', expected one of ranks 0 and 1 with 4 left"
  echo "     heat: the survivors went on $(seconds_after_kill heat "in-job rollback: rank(s) 0, 1 lost") s after the kill (--timeout 5)"
  echo "ok   in_job: heat, node 1 (rank 0's) killed, rolled back on 4 ranks in the same run, exact" ;;
slow_links)
  # 0.3 ms added delay and 0.5 % frame loss on every link from the job's first checkpoint on, once its connections
  # are up. Not from the start: with the relay in the links, Open MPI 4.1.4's TCP BTL can fail a connection still in
  # progress ("connect() ... failed: Operation now in progress (115)", open-mpi/ompi#10734) and the run hangs at
  # wire-up; seen here with loss and delay from the start, and with the delay alone (docs/design.md).
  lossy_after_first_checkpoint() {
    for n in 1 2 3; do "$mc" clear "$n" >/dev/null; done
    (
      for _ in $(seq 900); do [ -s "$1/LATEST" ] && break; sleep 0.1; done
      for n in 1 2 3; do "$mc" delay "$n" 0.3 >/dev/null && "$mc" loss "$n" 0.5 >/dev/null; done
      echo "loss on"
    ) >"$work/log.faults" 2>&1 &
  }
  slow=(run synthetic --param partitions=1200 --param median_us=20000 --param sigma=0.5 --threads 2 --checkpoint-every 0.5s)
  ref slow "${slow[@]}" --checkpoint-dir "$work/ck-ref"
  lossy_after_first_checkpoint "$work/ck"
  across slow "${slow[@]}" --checkpoint-dir "$work/ck"
  wait
  grep -q "loss on" "$work/log.faults" || fail "the loss was not switched on"
  [ "$(lost_ranks "$work/slow.json")" = 0 ] || fail "a rank was declared lost on slow links at the default --timeout"
  heat=(run heat --param blocks_x=4 --param blocks_y=3 --param block=32 --param steps=1500 --threads 1 --checkpoint-every 200)
  ref slow_heat "${heat[@]}" --checkpoint-dir "$work/ckh-ref"
  lossy_after_first_checkpoint "$work/ckh"
  across slow_heat "${heat[@]}" --checkpoint-dir "$work/ckh"
  wait
  grep -q "loss on" "$work/log.faults" || fail "the loss was not switched on for heat" ;;
partition_worker | partition_scheduler)
  # docs/design.md, "Network partitions and split brain". Node 2 (ranks 2, 3: workers) or node 1 (rank 0, the
  # scheduler, and rank 1) cut off once the first checkpoint is in; healed only once the cut-off side has decided
  # (its ranks' "left: minority side" lines in the failure history, on the shared file system: their output reaches
  # mpirun only after the heal) and, for node 1, once the majority failed over; never before 2 x --timeout.
  # The job runs ~30 s; the cut-off side decides within ~6 x --timeout (18 s) of the cut (node 2: rank 2 leaves
  # after its silence, one candidate's wait and its takeover's; rank 3 after rank 2 falls silent, the same again).
  timeout_s=3
  job=(run synthetic --param partitions=2000 --param median_us=150000 --param sigma=0.3 --threads 2 --scheduler-rank 0
       --checkpoint-every 1s --timeout $timeout_s --heartbeat 0.3)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${job[@]}" --quiet --checkpoint-dir "$work/ck-ref" \
    --summary-json "$work/part.ref.json" >"$work/log.ref" 2>&1 || fail "the one-host run exited $?"
  if [ "$case_name" = partition_worker ]; then victim=2 minority="2 3" majority_sched=0; else victim=1 minority="0 1" majority_sched=2; fi
  minority_lines() { grep -c "^pmt-node$victim .*left: minority side (1 of 3 hosts)" "$1/failure-history" 2>/dev/null; }
  # partition RUN_DIR: cut node $victim after RUN_DIR's first checkpoint, heal as above; stops when the launch ended.
  partition() {
    local d=$1
    for _ in $(seq 1200); do [ -s "$d/LATEST" ] || [ -e "$work/ended" ] && break; sleep 0.1; done
    [ -e "$work/ended" ] && { echo "ended before the cut"; return; }
    sleep 0.5; "$mc" cut "$victim"; local t0=$SECONDS; echo "cut"
    for _ in $(seq 1800); do
      [ -e "$work/ended" ] && break
      if [ $((SECONDS - t0)) -ge $((2 * timeout_s + 1)) ] && [ "${2:-}" = relaunch -o "$(minority_lines "$d")" = 2 ] &&
         { [ "$victim" = 2 ] || [ "${2:-}" = relaunch ] || grep -q "failover: rank 2 is the scheduler now" "$work/log.launch"; }; then
        break
      fi
      sleep 0.1
    done
    "$mc" heal "$victim"; echo "healed after $((SECONDS - t0)) s$([ -e "$work/ended" ] && echo ', the launch had ended')"
  }
  launch() {  # launch RUN_DIR SUMMARY MPIRUN_EXTRA
    rm -f "$work/ended"
    timeout 300 "$src/slurm/partita-launch.sh" --via mpirun -n 6 --finalize-grace 5 --recheck-delay 1 \
      --mpirun-args "--hostfile $PARTITA_MC_HOSTFILE --oversubscribe --mca mpi_yield_when_idle 1 $3" \
      -- "$partita" "${job[@]}" --checkpoint-dir "$1" --summary-json "$2" >"$work/log.launch" 2>&1
    local rc=$?; touch "$work/ended"; return $rc
  }
  partition "$work/ck" >"$work/log.faults" 2>&1 &
  launch "$work/ck" "$work/part.json" --enable-recovery; rc=$?
  wait
  [ $rc -eq 0 ] || fail "the launcher exited $rc"
  grep -q "^healed after [0-9]* s$" "$work/log.faults" || fail "not cut and healed while the job ran: $(cat "$work/log.faults")"
  [ "$(minority_lines "$work/ck")" = 2 ] || fail "the cut-off ranks $minority did not leave as a minority (failure history: $(cat "$work/ck/failure-history"))"
  ! grep -q "attempt 2" "$work/log.launch" || fail "relaunched: the majority should have finished in the same run"
  [ "$(grep -c '^result: ' "$work/log.launch")" = 1 ] || fail "$(grep -c '^result: ' "$work/log.launch") result lines, expected one"
  [ "$(result "$work/part.json")" = "$(result "$work/part.ref.json")" ] ||
    fail "'$(result "$work/part.json")' after the partition, '$(result "$work/part.ref.json")' uninterrupted"
  lost=$(python3 -c "import json,sys;print(' '.join(str(w['rank']) for w in json.load(open(sys.argv[1]))['workers'] if w['lost']))" "$work/part.json")
  [ "$lost" = "$minority" ] || fail "lost ranks '$lost', expected '$minority'"
  sched=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['scheduler_rank'])" "$work/part.json")
  [ "$sched" = "$majority_sched" ] || fail "the result came from scheduler rank $sched, expected $majority_sched"
  # No split brain: no epoch committed twice, no checkpoint by a cut-off rank after it lost its majority, every
  # epoch after the failover the new scheduler's.
  ! grep -q "epoch [0-9]* is already committed" "$work/log.launch" || fail "two schedulers wrote the same epoch"
  dup=$(sed -n 's/.*checkpoint epoch \([0-9]*\) of job .* committed.*/\1/p' "$work/log.launch" | sort | uniq -d | tr '\n' ' ')
  [ -z "$dup" ] || fail "epochs committed twice: $dup"
  for r in $minority; do
    after=$(sed -n "/rank $r@.*reaches ranks on only/,\$p" "$work/log.launch" | grep -c "rank $r@.*checkpoint epoch" || true)
    [ "$after" -eq 0 ] || fail "rank $r committed $after checkpoint(s) after it lost its majority"
    ! grep -q "failover: rank $r is the scheduler now" "$work/log.launch" || fail "cut-off rank $r went on as a scheduler"
  done
  if [ "$victim" = 1 ]; then
    # By the log's time stamps (the emulated nodes share this machine's clock; node 1's lines reach the log only
    # after the heal): the old scheduler's last commit came before the new scheduler went on.
    t_failover=$(sed -n 's/^\[\([0-9-]* [0-9:.]*\)\] .*failover: rank 2 is the scheduler now.*/\1/p' "$work/log.launch" | head -1)
    [ -n "$t_failover" ] || fail "no failover to rank 2"
    late=$(sed -n 's/^\[\([0-9-]* [0-9:.]*\)\] \[rank [01]@.*checkpoint epoch \([0-9]*\) of job .* committed.*/\1 \2/p' "$work/log.launch" |
           awk -v t="$t_failover" '($1 " " $2) >= t { print $3 }' | tr '\n' ' ')
    [ -z "$late" ] || fail "the old scheduler committed epoch(s) $late after rank 2 took over at $t_failover"
    t_last_old=$(sed -n 's/^\[\([0-9-]* [0-9:.]*\)\] \[rank 0@.*checkpoint epoch [0-9]* of job .* committed.*/\1/p' "$work/log.launch" | tail -1)
    echo "     old scheduler's last commit at ${t_last_old#* }, rank 2 went on at ${t_failover#* }"
  fi
  echo "ok   $case_name: node $victim cut $(sed -n 's/^healed after \([0-9]*\) s.*/\1/p' "$work/log.faults") s (--timeout $timeout_s); ranks $minority left as a minority, one result from rank $majority_sched, exact"
  grep -h "left: minority" "$work/ck/failure-history" | sed 's/^/     /'
  if [ "$victim" = 2 ]; then
    # Without --enable-recovery Open MPI ends the run when the link's TCP connections fail or a rank is
    # unreachable; the launcher's word is a relaunch, and the result is exact.
    partition "$work/ck2" relaunch >"$work/log.faults" 2>&1 &
    launch "$work/ck2" "$work/part2.json" ""; rc=$?
    wait
    [ $rc -eq 0 ] || fail "without --enable-recovery: the launcher exited $rc"
    [ "$(result "$work/part2.json")" = "$(result "$work/part.ref.json")" ] ||
      fail "without --enable-recovery: '$(result "$work/part2.json")', '$(result "$work/part.ref.json")' uninterrupted"
    echo "ok   $case_name without --enable-recovery: $(grep -c '\] attempt ' "$work/log.launch") attempt(s), exact; $(cat "$work/log.faults" | tail -1)"
  fi ;;
two_level_nodes)
  # Node schedulers on real nodes (--scheduler-levels 2; docs/design.md, "Two-level scheduling", failures), under
  # mpirun --enable-recovery through the launcher. Nodes 2 and 3 each get a node scheduler (ranks 2 and 4).
  timeout_s=3
  job=(run synthetic --param partitions=2000 --param median_us=60000 --param sigma=0.3 --threads 2 --scheduler-rank 0
       --scheduler-levels 2 --checkpoint-every 1s --timeout $timeout_s --heartbeat 0.3)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${job[@]}" --checkpoint-dir "$work/ck-ref" \
    --summary-json "$work/two.ref.json" >"$work/log.ref" 2>&1 || fail "the one-host run exited $?"
  # two_level_run NAME FAULT EXTRA...: FAULT is "kill N" or "cut N" (healed after $cut_seconds s), once the first
  # checkpoint is in; one attempt, the exact result.
  two_level_run() {
    local name=$1 fault=$2; shift 2
    "$mc" down >/dev/null; "$mc" up 3 --slots 2 >/dev/null || fail "up again"
    (
      for _ in $(seq 1200); do [ -s "$work/ck-$name/LATEST" ] && break; sleep 0.1; done
      sleep 0.5
      set -- $fault
      if [ "$1" = kill ]; then "$mc" kill "$2"; else "$mc" cut "$2"; sleep "$cut_seconds"; "$mc" heal "$2"; echo "healed"
        pgrep -f "^mpirun -n 6 --hostfile $PARTITA_MC_HOSTFILE" >/dev/null && echo "still running"; fi
    ) >"$work/log.faults" 2>&1 &
    timeout 300 "$src/slurm/partita-launch.sh" --via mpirun -n 6 --finalize-grace 5 --recheck-delay 1 \
      --mpirun-args "--hostfile $PARTITA_MC_HOSTFILE --oversubscribe --mca mpi_yield_when_idle 1 --enable-recovery" \
      -- "$partita" "${job[@]}" "$@" --checkpoint-dir "$work/ck-$name" --summary-json "$work/$name.json" >"$work/log.launch" 2>&1
    local rc=$?; wait
    [ $rc -eq 0 ] || fail "$name: the launcher exited $rc"
    grep -q "killed\|healed" "$work/log.faults" || fail "$name: the fault was not injected: $(cat "$work/log.faults")"
    ! grep -q "attempt 2" "$work/log.launch" || fail "$name: relaunched; the job should have gone on in the same run"
    [ "$(grep -c '^result: ' "$work/log.launch")" = 1 ] || fail "$name: $(grep -c '^result: ' "$work/log.launch") result lines"
    [ "$(result "$work/$name.json")" = "$(result "$work/two.ref.json")" ] ||
      fail "$name: '$(result "$work/$name.json")', '$(result "$work/two.ref.json")' uninterrupted"
    lost=$(python3 -c "import json,sys;print(' '.join(str(w['rank']) for w in json.load(open(sys.argv[1]))['workers'] if w['lost']))" "$work/$name.json")
    echo "ok   two_level $name: same run, exact; lost ranks: ${lost:-none}"
  }
  two_level_run ns_node "kill 3"
  [ "$lost" = "4 5" ] || fail "ns_node: lost ranks '$lost', expected '4 5'"
  grep -q "two-level scheduling: 2 node scheduler(s)" "$work/log.launch" || fail "ns_node: not 2 node schedulers"
  # --ranks-per-node 3: ranks 3-5 under node scheduler rank 3 (node 2); node 3 holds two of its members.
  two_level_run member_node "kill 3" --ranks-per-node 3
  [ "$lost" = "4 5" ] || fail "member_node: lost ranks '$lost', expected '4 5'"
  grep -q "node scheduler rank 3: rank [45] silent .*declared lost" "$work/log.launch" || fail "member_node: node scheduler rank 3 did not declare its members lost"
  # A cut of 3 s at --timeout 12: after a heal TCP's backed-off retransmissions take up to a few more seconds, and
  # the tool's own commands a second each on a loaded machine (a 1.2 s cut at --timeout 3 was declared a loss).
  for i in "${!job[@]}"; do [ "${job[$i]}" = --timeout ] && job[$((i + 1))]=12; done
  cut_seconds=3 two_level_run cut_heal "cut 2"
  [ -z "$lost" ] || fail "cut_heal: ranks '$lost' declared lost during a 3 s cut at --timeout 12"
  grep -q "still running" "$work/log.faults" || fail "cut_heal: the job had ended when node 2 was healed" ;;
two_level_root)
  # The root's node lost at two levels under --enable-recovery (no failover of the root: a relaunch). The surviving
  # ranks give up on the root; one of them leaves the job's word (1) before MPI_Finalize, which waits for the lost
  # daemon, so the launcher ends mpirun after --finalize-grace, blames the node and relaunches without it.
  job=(run synthetic --param partitions=2000 --param median_us=60000 --param sigma=0.3 --threads 2 --scheduler-rank 0
       --scheduler-levels 2 --checkpoint-every 1s --timeout 3 --heartbeat 0.3)
  timeout 200 "${mpirun_local[@]}" -n 6 "$partita" "${job[@]}" --checkpoint-dir "$work/ck-ref" \
    --summary-json "$work/root.ref.json" >"$work/log.ref" 2>&1 || fail "the one-host run exited $?"
  (
    for _ in $(seq 1200); do [ -s "$work/ck/LATEST" ] && break; sleep 0.1; done
    sleep 0.5; date +%s.%N >"$work/t_kill"; "$mc" kill 1
  ) >"$work/log.faults" 2>&1 &
  timeout 300 "$src/slurm/partita-launch.sh" --via mpirun -n 6 --finalize-grace 5 --recheck-delay 1 \
    --mpirun-args "--hostfile $PARTITA_MC_HOSTFILE --oversubscribe --mca mpi_yield_when_idle 1 --enable-recovery" \
    -- "$partita" "${job[@]}" --checkpoint-dir "$work/ck" --summary-json "$work/root.json" >"$work/log.launch" 2>&1
  rc=$?; wait
  [ $rc -eq 0 ] || fail "the launcher exited $rc (124: hung)"
  grep -q "killed" "$work/log.faults" || fail "node 1 was not killed: $(cat "$work/log.faults")"
  grep -q "exit status 1 left in .* for the launcher" "$work/log.launch" || fail "no surviving rank left the job's word"
  grep -q "the job said it ended (exit 1) .* ending mpirun" "$work/log.launch" || fail "the launcher did not end the waiting mpirun"
  grep -q "node pmt-node1: did not run 'true' .* left out of the relaunch" "$work/log.launch" || fail "the launcher did not blame pmt-node1"
  grep -q "attempt 2: mpirun -n 4 .* --restart auto" "$work/log.launch" || fail "no relaunch on 4 ranks without the node"
  grep -q "restart: from .*synthetic\.[0-9]*\.h5" "$work/log.launch" || fail "the relaunch did not resume from a checkpoint"
  [ "$(grep -c '^result: ' "$work/log.launch")" = 1 ] || fail "$(grep -c '^result: ' "$work/log.launch") result lines"
  [ "$(result "$work/root.json")" = "$(result "$work/root.ref.json")" ] ||
    fail "'$(result "$work/root.json")' after the root's node loss, '$(result "$work/root.ref.json")' uninterrupted"
  t2=$(sed -n 's/^\[partita-launch \(.*\)\] attempt 2: .*/\1/p' "$work/log.launch")
  echo "ok   two_level_root: word 1 from a survivor, mpirun ended, relaunched without pmt-node1 $(awk -v a="$(cat "$work/t_kill")" -v b="$(date -d "$t2" +%s)" 'BEGIN { printf "%.0f", b - a }') s after the kill (whole seconds), exact" ;;
*)
  echo "unknown case '$case_name' (jobs, heal, node_kill, in_job, slow_links, partition_worker, partition_scheduler, two_level_nodes, two_level_root)"; exit 2 ;;
esac
echo "PASS [$case_name]"
