#!/usr/bin/env bash
# The first output line of an example must be the same at 1 and 4 ranks. Usage: same_any_ranks.sh PROGRAM [ARGS...]
set -u
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
a=$($mpirun -n 1 "$@" | head -1)
b=$($mpirun -n 4 "$@" --policy static | head -1)
echo "1 rank:  $a"
echo "4 ranks: $b"
[ -n "$a" ] && [ "$a" = "$b" ]
