#!/usr/bin/env bash
# Speed across hosts: the dispatch rate of short map/reduce partitions and the step time of heat on 3 emulated nodes
# (tools/minicluster, 2 ranks each) with 0.1 ms added one-way delay on every node's link, against the same links
# without it, measured in one run, alternating (none, relay at 0 ms, delay, ...), best of --reps. The links are
# shaped from each run's first checkpoint on (see shape_when_running), so the first ~0.2 s run unshaped.
#   link_latency.sh <source dir> <partita binary> <scratch dir> [--reps R] [--quick]
# Prints both figures and the ratios (with delay / without; 1.0 = the latency is hidden). Needs root.
# The delay goes through the minicluster's relay (this kernel has no netem), so "delay" also includes the relay's
# own cost; the "relay 0 ms" row separates the two.
set -uo pipefail
src=$1 partita=$2 scratch=$3; shift 3
reps=3 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "--reps needs a whole number >= 1"; exit 2; }; reps=$2; shift 2 ;;
    --quick) quick=1; reps=1; shift ;;
    *) echo "unknown option $1 (--reps R, --quick)"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
export PARTITA_MC_PREFIX=pmt
mc=$src/tools/minicluster
mkdir -p "$scratch" && work=$(mktemp -d "$scratch/bench.XXXXXX") || exit 1
trap '"$mc" down >/dev/null 2>&1; rm -rf "$work"' EXIT
"$mc" up 3 --slots 2 >"$work/up.log" 2>&1 || {
  rc=$?; cat "$work/up.log"; [ $rc -eq 77 ] && { echo "SKIP: no emulated cluster on this machine"; exit 77; }
  echo "minicluster up failed"; exit 1
}
eval "$("$mc" env)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --hostfile "$PARTITA_MC_HOSTFILE" --oversubscribe --mca mpi_yield_when_idle 1 -n 6)
if [ $quick -eq 1 ]; then parts=3000 steps=300; else parts=40000 steps=2000; fi
dispatch=(run synthetic --param partitions=$parts --param median_us=200 --param sigma=0.2 --threads 2 --quiet)
heat=(run heat --param blocks_x=4 --param blocks_y=3 --param block=32 --param steps=$steps --threads 1 --quiet)
wall() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['wall_seconds'])" "$1"; }
# The links are shaped once the run's first checkpoint is in (its connections are up): a relay in the links at
# wire-up can hang Open MPI 4.1.4's TCP BTL (open-mpi/ompi#10734; docs/design.md). So every mode checkpoints.
shape_when_running() {  # shape_when_running CKPT_DIR MS
  (
    for _ in $(seq 600); do [ -s "$1/LATEST" ] && break; sleep 0.02; done
    local n; for n in 1 2 3; do "$mc" delay "$n" "$2" >/dev/null; done
  ) &
}
one() {  # one MODE JOB_ARGS...: the run's wall time
  local mode=$1; shift
  "$mc" up 3 --slots 2 >/dev/null && eval "$("$mc" env)" || exit 1
  rm -rf "$work/ck"
  case $mode in relay0) shape_when_running "$work/ck" 0 ;; delay) shape_when_running "$work/ck" 0.1 ;; esac
  timeout 300 "${mpirun[@]}" "$partita" "$@" --checkpoint-dir "$work/ck" --checkpoint-every 0.2s \
    --summary-json "$work/s.json" >"$work/log" 2>&1 || { tail "$work/log"; exit 1; }
  wait
  wall "$work/s.json"
}
best() { sort -g | head -1; }
declare -A t
for mode in none relay0 delay; do : >"$work/$mode.dispatch"; : >"$work/$mode.heat"; done
for ((r = 0; r < reps; r++)); do
  for mode in none relay0 delay; do
    one "$mode" "${dispatch[@]}" >>"$work/$mode.dispatch"
    one "$mode" "${heat[@]}" >>"$work/$mode.heat"
  done
done
for mode in none relay0 delay; do
  t[$mode.d]=$(best <"$work/$mode.dispatch"); t[$mode.h]=$(best <"$work/$mode.heat")
done
awk -v p=$parts -v s=$steps -v dn="${t[none.d]}" -v dr="${t[relay0.d]}" -v dd="${t[delay.d]}" \
    -v hn="${t[none.h]}" -v hr="${t[relay0.h]}" -v hd="${t[delay.h]}" -v reps=$reps 'BEGIN {
  printf "3 emulated nodes x 2 ranks, best of %d\n", reps
  printf "%-22s %16s %16s\n", "links", "dispatch /s", "heat ms/step"
  printf "%-22s %16.0f %16.3f\n", "none", p / dn, 1000 * hn / s
  printf "%-22s %16.0f %16.3f\n", "relay, 0 ms", p / dr, 1000 * hr / s
  printf "%-22s %16.0f %16.3f\n", "relay, 0.1 ms delay", p / dd, 1000 * hd / s
  printf "ratio delay/none: dispatch rate %.2fx, heat step speed %.2fx (1.0 = latency hidden)\n", dn / dd, hn / hd
  printf "ratio delay/relay 0 ms: dispatch rate %.2fx, heat step speed %.2fx\n", dr / dd, hr / hd
}'
