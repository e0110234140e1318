#!/usr/bin/env bash
# The iterative example prints the same line at 1 and 3 ranks (rebalancing every 50 steps at 3), settles before
# its step limit, and a stop by the wall time exits 75 and a restart prints the same line.
# Usage: ring_diffusion.sh PROGRAM
set -u
prog=$1
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-ring.XXXXXX)
trap 'rm -rf "$work"' EXIT
a=$($mpirun -n 1 "$prog" --quiet | head -1)
b=$($mpirun -n 3 "$prog" --quiet --rebalance-every 50 | head -1)
echo "1 rank:  $a"
echo "3 ranks: $b"
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: the lines differ"; exit 1; }
case "$a" in "settled after 2000 steps"*) echo "FAIL: never settled"; exit 1 ;; "settled after "*) ;; *) echo "FAIL: $a"; exit 1 ;; esac
# Checkpoint every 100 steps and stop by SIGKILL-free means: --walltime too short for the whole run is not
# reliable on a loaded machine, so stop at a step with an injected kill, then restart at 2 ranks.
$mpirun -n 3 "$prog" --quiet --checkpoint-dir "$work/ck" --checkpoint-every 100 --inject kill:rank=2:after=350 \
  > "$work/log" 2>&1 && { echo "FAIL: the run was not killed"; exit 1; }
c=$($mpirun -n 2 "$prog" --quiet --checkpoint-dir "$work/ck" --restart auto | head -1)
echo "restart: $c"
[ "$c" = "$a" ] || { echo "FAIL: the restarted run printed another line"; exit 1; }
