#!/usr/bin/python3
"""The heat job's field as an independent reader sees it (h5py), and the serial computation it must equal bitwise.

  heat_field.py check FILE BX BY SIDE STEPS [INITIAL.h5:DATASET]  the output FILE equals the serial field, bit for bit
  heat_field.py same FILE1 FILE2                                   two output files hold the same partitions, bitwise
  heat_field.py make FILE DATASET ROWS COLS zeros|random SEED      write an initial field
  heat_field.py sum FILE NAME                                      the sum of every /partitions/<id>/NAME (pagerank)
"""
import sys

import h5py
import numpy as np


def field_of(path, bx, by, side):
    """The whole field from /partitions/<id>/u of an output file (block id = row * bx + column)."""
    out = np.empty((by * side, bx * side))
    with h5py.File(path, "r") as f:
        parts = f["partitions"]
        if len(parts) != bx * by:
            sys.exit(f"{path}: {len(parts)} partitions, expected {bx * by}")
        for b in range(bx * by):
            u = parts[str(b)]["u"][...]
            if u.dtype != np.float64 or u.size != side * side:
                sys.exit(f"{path}: /partitions/{b}/u is {u.dtype} x {u.size}, expected float64 x {side * side}")
            y, x = divmod(b, bx)
            out[y * side:(y + 1) * side, x * side:(x + 1) * side] = u.reshape(side, side)
    return out


def serial(bx, by, side, steps, initial=None):
    """Jacobi with the top edge held at 1 and the others at 0, additions in the job's order: up, down, left, right."""
    ny, nx = by * side, bx * side
    u = np.zeros((ny + 2, nx + 2))
    u[0, :] = 1.0
    if initial is not None:
        u[1:-1, 1:-1] = initial
    for _ in range(steps):
        u[1:-1, 1:-1] = 0.25 * (((u[:-2, 1:-1] + u[2:, 1:-1]) + u[1:-1, :-2]) + u[1:-1, 2:])
    return u[1:-1, 1:-1]


def bitwise_equal(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def main(argv):
    cmd = argv[1]
    if cmd == "check":
        path, bx, by, side, steps = argv[2], *map(int, argv[3:7])
        initial = None
        if len(argv) > 7:
            f, ds = argv[7].rsplit(":", 1)
            with h5py.File(f, "r") as h:
                initial = h[ds][...].astype(np.float64)
        got, want = field_of(path, bx, by, side), serial(bx, by, side, steps, initial)
        if not bitwise_equal(got, want):
            diff = np.argwhere(got.view(np.uint64) != want.view(np.uint64))
            sys.exit(f"{path}: {len(diff)} cells differ from the serial field, first at {tuple(diff[0])}: "
                     f"{got[tuple(diff[0])]!r} vs {want[tuple(diff[0])]!r}")
        with h5py.File(path, "r") as f:
            step = int(f["meta"].attrs["step"])
            if step != steps:
                sys.exit(f"{path}: /meta step {step}, expected {steps}")
    elif cmd == "same":
        with h5py.File(argv[2], "r") as a, h5py.File(argv[3], "r") as b:
            pa, pb = a["partitions"], b["partitions"]
            if sorted(pa) != sorted(pb):
                sys.exit("the files hold different partitions")
            for p in pa:
                if sorted(pa[p]) != sorted(pb[p]):
                    sys.exit(f"partition {p}: different arrays")
                for name in pa[p]:
                    x, y = pa[p][name][...], pb[p][name][...]
                    if x.dtype != y.dtype or x.tobytes() != y.tobytes():
                        sys.exit(f"/partitions/{p}/{name} differs")
    elif cmd == "make":
        path, ds, rows, cols, kind = argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6]
        data = np.zeros((rows, cols)) if kind == "zeros" else np.random.default_rng(int(argv[7])).random((rows, cols))
        with h5py.File(path, "w") as f:
            f.create_dataset(ds, data=data)
    elif cmd == "sum":
        with h5py.File(argv[2], "r") as f:
            print(repr(sum(float(np.sum(f["partitions"][p][argv[3]][...])) for p in f["partitions"])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
