#!/usr/bin/env bash
# Writes real checkpoints of real jobs, the checkpoint fuzzer's seed corpus: each run below goes through
# the partita CLI under mpirun with frequent checkpoints, and every committed epoch is copied to OUT_DIR as
# <run>.<epoch>.h5.
#
#   tests/fuzz/make_seed_checkpoints.sh PATH/TO/partita OUT_DIR
#
# Environment: PARTITA_MPIRUN (default: mpirun --oversubscribe). To add a model or a job, add a line to
# `runs` (the iterative model's jobs go there once it exists). Small jobs on purpose: a small file is
# fuzzed faster, and the structure, not the size, is what the fuzzer mutates.
set -euo pipefail
if [ $# -ne 2 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
partita=$1
out=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
[ -x "$partita" ] || { echo "make_seed_checkpoints: $partita is not an executable partita CLI" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=(
  # name          ranks  partita arguments (--checkpoint-dir, --keep and --quiet are added); long enough for
  #                      several epochs (the scheduler looks at its checkpoint schedule every 20 ms)
  "pi             2      run pi --param samples=60000000 --param partitions=48 --checkpoint-every 0.03s"
  "synthetic      3      run synthetic --param partitions=120 --param median_us=4000 --param dist=lognormal --checkpoint-every 20"
  "synthetic_cost 2      run synthetic --param partitions=60 --param median_us=3000 --policy cost --checkpoint-every 15"
  "wordcount      2      run wordcount --param dir=$here"
)

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/partita-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT
count=0
for line in "${runs[@]}"; do
  read -r name ranks args <<<"$line"
  # shellcheck disable=SC2086  # args is a word list on purpose
  if ! $mpirun -n "$ranks" "$partita" $args --checkpoint-dir "$work/$name" --keep 1000 --quiet \
       > "$work/$name.log" 2>&1; then
    echo "make_seed_checkpoints: run '$name' failed:" >&2
    tail -20 "$work/$name.log" >&2
    exit 1
  fi
  for f in "$work/$name"/*.h5; do
    [ -e "$f" ] || continue
    epoch=$(basename "$f" .h5); epoch=${epoch##*.}
    cp "$f" "$out/$name.$epoch.h5"
    count=$((count + 1))
  done
done
echo "$count checkpoint(s) written to $out"
[ "$count" -gt 0 ] || { echo "make_seed_checkpoints: the runs wrote no checkpoint" >&2; exit 1; }
