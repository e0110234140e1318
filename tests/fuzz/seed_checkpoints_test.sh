#!/usr/bin/env bash
# Test: the checkpoint fuzzer's seeds (real checkpoints of real jobs) all pass the fuzz target's reads and
# checks, accepted: the target reaches the whole reader, not only its first refusal; their crafted variants
# run through it without a crash.
#   seed_checkpoints_test.sh PATH/TO/partita PATH/TO/fuzz_replay_checkpoint
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/partita-seedtest.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bash "$here/make_seed_checkpoints.sh" "$1" "$dir/real"
"$2" --expect accepted --min 6 "$dir/real"
# The crafted variants of one of them (odd types, layouts, links, attributes, manifests): any verdict, no crash.
mkdir "$dir/crafted"
cp "$dir"/real/*.h5 "$dir/crafted/"
"$2" --write-seeds "$dir/crafted"
rm "$dir"/crafted/[!c]*.h5
"$2" --min 30 "$dir/crafted"
