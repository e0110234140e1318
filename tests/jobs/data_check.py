#!/usr/bin/env python3
"""Independent checks of the map/reduce data path (tests/jobs/data_path_test.sh), with h5py and numpy.

  data_check.py stats FILE DATASET SUMMARY_JSON PART_ROWS BINS LO HI   h5stats's result equals a serial computation
  data_check.py part_rows FILE DATASET PARTITION_MIB                   the rows per partition Partita cuts
  data_check.py make FILE DATASET KIND                                 a test dataset: int32_3d, float32_1d, contiguous
  data_check.py touch FILE DATASET                                     rewrites one element (the input changes)
  data_check.py filter IN DATASET OUT OUTSET                           h5filter's output equals a serial smoothing
                                                                       and the file says complete (and crc)
  data_check.py crc OUT OUTSET                                         every committed block's recorded CRC-32 is
                                                                       zlib's CRC-32 of its bytes
  data_check.py flip OUT OUTSET PARTITION                              flips a byte inside that partition's block;
                                                                       prints its first and last row
  data_check.py state OUT                                              prints "<complete> <committed blocks>"
"""
import json
import sys
import zlib

import h5py
import numpy as np


def fmt(x):
    """Python's repr of a float is the shortest text that reads back to the same bits, as fmt's {} is."""
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") and "e" not in r else r


def part_rows(f, ds, mib):
    d = f[ds]
    row_bytes = d.dtype.itemsize * int(np.prod(d.shape[1:], dtype=np.int64))
    unit = d.chunks[0] if d.chunks else 1
    target = max(1, int(float(mib) * 1048576.0))
    units = max(1, target // max(1, unit * row_bytes))
    return min(units * unit, max(1, d.shape[0]))


def stats(path, ds, summary, rows, bins, lo, hi):
    rows, bins, lo, hi = int(rows), int(bins), float(lo), float(hi)
    with h5py.File(path, "r") as f:
        x = f[ds][...]
    result = json.load(open(summary))["result"]
    n = x.shape[0]
    total = None
    count = nans = below = above = 0
    hist = np.zeros(bins, dtype=np.int64)
    mn, mx = np.inf, -np.inf
    parts = (n + rows - 1) // rows
    fold_block = 1  # detail::fold_block_size: the largest power of two whose 4th power is at most the partition count
    while fold_block < 4096 and (2 * fold_block) ** 4 <= parts:
        fold_block *= 2
    block_total = None
    for part, first in enumerate(range(0, n, rows)):
        b = x[first:first + rows].astype(np.float64).ravel()
        nan = np.isnan(b)
        nans += int(nan.sum())
        b = b[~nan]
        count += b.size
        # Partita sums each partition's rows left to right (cumsum is sequential), then the partitions of each
        # aligned block of fold_block partitions in id order, then the blocks in id order (docs/design.md,
        # "Folding aligned id blocks").
        s = float(np.cumsum(b)[-1]) if b.size else 0.0
        block_total = s if block_total is None else block_total + s
        if (part + 1) % fold_block == 0 or part + 1 == parts:
            total = block_total if total is None else total + block_total
            block_total = None
        if b.size:
            mn, mx = min(mn, float(b.min())), max(mx, float(b.max()))
        below += int((b < lo).sum())
        above += int((b >= hi).sum())
        inside = b[(b >= lo) & (b < hi)]
        idx = np.minimum(bins - 1, ((inside - lo) / (hi - lo) * bins).astype(np.uint64))
        hist += np.bincount(idx.astype(np.int64), minlength=bins)
    mean = total / count if count else 0.0
    want = (f"count={count} nan={nans} min={fmt(mn)} max={fmt(mx)} sum={fmt(total)} mean={fmt(mean)} "
            f"below={below} above={above} hist[{fmt(lo)},{fmt(hi)})=" + ",".join(str(int(h)) for h in hist))
    if result != want:
        print(f"h5stats said: {result}\nserial says:  {want}")
        return 1
    # numpy's own reductions agree (its pairwise mean to rounding)
    xf = x.astype(np.float64)
    assert count == np.count_nonzero(~np.isnan(xf))
    assert mn == np.nanmin(xf) and mx == np.nanmax(xf)
    assert abs(mean - np.nanmean(xf)) <= 1e-9 * max(1.0, abs(np.nanmean(xf)))
    return 0


def make(path, ds, kind):
    rng = np.random.default_rng(5)
    with h5py.File(path, "w") as f:
        if kind == "int32_3d":
            f.create_dataset(ds, data=rng.integers(-1000, 1000, size=(97, 6, 5), dtype=np.int32), chunks=(7, 6, 5))
        elif kind == "float32_1d":
            a = rng.standard_normal(10007).astype(np.float32)
            a[17] = np.nan
            f.create_dataset(ds, data=a, chunks=(100,))
        elif kind == "contiguous":
            f.create_dataset(ds, data=rng.random((301, 13)))
        else:
            raise SystemExit(f"unknown kind {kind}")
    return 0


def touch(path, ds):
    with h5py.File(path, "r+") as f:
        d = f[ds]
        idx = (0,) * len(d.shape)
        d[idx] = d[idx] + 1
    return 0


def smooth(x):
    """h5filter's smoothing, the same operations in the same order: (left + x + right) / 3, edges repeated."""
    left = np.concatenate([x[:, :1], x[:, :-1]], axis=1)
    right = np.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    return (left + x + right) / 3.0


def filter_check(path, ds, out, outset):
    with h5py.File(path, "r") as f:
        x = f[ds][...]
    with h5py.File(out, "r") as f:
        y = f[outset][...]
        complete = int(f.attrs["partita_complete"])
        committed = f["/partita/committed"][...]
    if y.shape != x.shape or y.dtype != np.float64:
        print(f"output is {y.shape} {y.dtype}, input {x.shape}")
        return 1
    want = smooth(x)
    if not np.array_equal(want.view(np.uint64), y.view(np.uint64)):
        bad = np.argwhere(want.view(np.uint64) != y.view(np.uint64))
        print(f"{len(bad)} elements differ from the serial smoothing, first at {bad[0]}")
        return 1
    if complete != 1 or not committed.all():
        print(f"the file does not say complete: complete={complete}, {int(committed.sum())}/{committed.size} committed")
        return 1
    return crc_check(out, outset)


def crc_check(out, outset):
    """Every committed block's recorded CRC-32 equals zlib's CRC-32 of its bytes in the file (an independent reader)."""
    with h5py.File(out, "r") as f:
        y = f[outset]
        per = int(f.attrs["partita_rows_per_partition"])
        committed = f["/partita/committed"][...]
        crcs = f["/partita/block_crc32"][...]
        for i in np.flatnonzero(committed):
            block = y[i * per:(i + 1) * per]
            got = zlib.crc32(np.ascontiguousarray(block).tobytes())
            if got != int(crcs[i]):
                print(f"partition {i}: recorded CRC-32 {int(crcs[i]):#010x}, its bytes {got:#010x}")
                return 1
    return 0


def flip(out, outset, part):
    """Flips one byte inside partition `part`'s block of the output (found from the dataset's offset in the file);
    prints the block's first and last row."""
    part = int(part)
    with h5py.File(out, "r") as f:
        y = f[outset]
        per = int(f.attrs["partita_rows_per_partition"])
        row_bytes = y.dtype.itemsize * int(np.prod(y.shape[1:]))
        offset = y.id.get_offset()
        first, last = part * per, min((part + 1) * per, y.shape[0]) - 1
    at = offset + first * row_bytes + (last - first + 1) * row_bytes // 2  # the middle of the block
    with open(out, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x40]))
    print(first, last)
    return 0


def state(out):
    """complete flag and committed count of an output file."""
    with h5py.File(out, "r") as f:
        print(int(f.attrs["partita_complete"]), int(f["/partita/committed"][...].sum()))
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "stats":
        return stats(*argv[2:9])
    if cmd == "part_rows":
        with h5py.File(argv[2], "r") as f:
            print(part_rows(f, argv[3], argv[4]))
        return 0
    if cmd == "make":
        return make(*argv[2:5])
    if cmd == "filter":
        return filter_check(*argv[2:6])
    if cmd == "state":
        return state(argv[2])
    if cmd == "crc":
        return crc_check(argv[2], argv[3])
    if cmd == "flip":
        return flip(*argv[2:5])
    if cmd == "touch":
        return touch(*argv[2:4])
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
