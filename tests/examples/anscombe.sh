#!/usr/bin/env bash
# The data-path example (examples/anscombe.cpp) as a user runs it: an input made with `partita make-input`, the
# program at 1 and 3 ranks. The output dataset must be numpy's 2*sqrt(x + 0.375) bit for bit (an independent
# reader, h5py), the file must say complete, the result line must be the same at both rank counts, and a run
# into the same output file with other parameters must be refused (exit 2) without touching the file.
# Usage: anscombe.sh EXAMPLE PARTITA_CLI   (Debian's /usr/bin/python3 has h5py: tools/bootstrap.sh installs it)
set -u
example=$1 partita=$2
mpirun=${PARTITA_MPIRUN:-mpirun --oversubscribe}
work=$(mktemp -d /tmp/partita-anscombe.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$work/log" 2>/dev/null; exit 1; }
check() {  # check OUT.h5: the output is the transform of the input, bit for bit, and says complete
  /usr/bin/python3 - "$work/in.h5" "$1" <<'PY' || fail "the output of $1 is not the transform of the input"
import sys, h5py, numpy as np
x = h5py.File(sys.argv[1], "r")["/x"][...]
f = h5py.File(sys.argv[2], "r")
y = f["/y"][...]
assert y.shape == x.shape, (y.shape, x.shape)
assert np.array_equal(y.view(np.uint64), (2.0 * np.sqrt(x + 0.375)).view(np.uint64)), "values differ"
assert int(f.attrs["partita_complete"]) == 1, "the file does not say complete"
assert int(np.asarray(f["/partita/committed"]).min()) == 1, "a block is not committed"
PY
}
"$partita" make-input "$work/in.h5" --dataset /x --rows 3000 --cols 50 --chunk-rows 40 --seed 5 >/dev/null \
  || fail "make-input"
args=(--quiet --param file="$work/in.h5" --param dataset=/x --param partition_mib=0.05)
for np in 1 3; do
  $mpirun -n $np "$example" "${args[@]}" --param output="$work/o$np.h5" >"$work/log" 2>&1 \
    || fail "$np rank(s): exit $?"
  grep "^anscombe: 150000 elements" "$work/log" | sed "s/o$np.h5/o.h5/" >"$work/line$np" \
    || fail "$np rank(s): no result line"
  check "$work/o$np.h5"
done
cmp -s "$work/line1" "$work/line3" || fail "1 and 3 ranks differ: $(cat "$work/line1") / $(cat "$work/line3")"
# Another job's file (here: other parameters) is refused, one line, exit 2, and left as it was.
before=$(md5sum <"$work/o1.h5")
$mpirun -n 2 "$example" "${args[@]}" --param partition_mib=0.1 --param output="$work/o1.h5" >"$work/log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "another job's output file: exit $rc, expected 2"
grep -q "overwrite-output" "$work/log" || fail "the refusal does not name --overwrite-output"
[ "$(md5sum <"$work/o1.h5")" = "$before" ] || fail "the refused run changed the file"
echo "PASS: $(cat "$work/line1")"
