#!/usr/bin/env python3
"""Validation of partita_simulate against real runs on this machine (docs/benchmarks.md, "Validation").

For each workload: runs `mpirun -n R partita run synthetic ... --summary-json --trace` (best of --reps by wall
time), then the model twice: with the partition times the run measured (from its trace: what the kernels really
took here, so the comparison tests the scheduling model, not this machine's sleep accuracy) and with the nominal
draws. Prints a markdown table: wall time vs predicted makespan, dispatch rate vs predicted, and the errors.

  tools/simulate/validate.py --build build --calibration calibration.txt [--reps 2]
"""
import argparse, json, os, subprocess, sys, tempfile

WORKLOADS = [
    # name, ranks, threads, partitions, dist, median_us, sigma
    ("lognormal 1 ms", 4, 2, 2000, "lognormal", 1000, 0.5),
    ("lognormal 0.2 ms, wide", 2, 2, 4000, "lognormal", 200, 1.0),
    ("uniform 5 ms", 9, 1, 600, "uniform", 5000, 0.0),
    ("constant 10 ms", 6, 2, 480, "constant", 10000, 0.0),
    # dispatch-bound: one partition per chunk, so the scheduler's per-message cost sets the pace
    ("50 us, dynamic --chunk 1", 4, 1, 6000, "constant", 50, 0.0, ["--policy", "dynamic", "--chunk", "1"]),
    # two levels: 3 nodes of 3 ranks, node schedulers on ranks 3 and 6 (the root's node has none)
    ("uniform 5 ms, two levels", 9, 1, 900, "uniform", 5000, 0.0, [], 3),
    ("lognormal 1 ms, two levels", 8, 1, 3000, "lognormal", 1000, 0.5, [], 2),
]


def real_run(a, w, tmp):
    name, ranks, threads, n, dist, med, sigma = w[:7]
    extra = (w[7] if len(w) > 7 else []) + levels_args(w, "--scheduler-levels")
    best = None
    for r in range(a.reps):
        summary, trace = os.path.join(tmp, f"s{r}.json"), os.path.join(tmp, f"t{r}.json")
        cmd = ["mpirun", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", "-n", str(ranks),
               os.path.join(a.build, "bin", "partita"), "run", "synthetic", "--threads", str(threads), "--quiet",
               "--param", f"partitions={n}", "--param", f"median_us={med}",
               "--param", f"dist={'lognormal' if dist == 'constant' else dist}",
               "--param", f"sigma={0 if dist == 'constant' else sigma}", "--summary-json", summary, "--trace", trace] + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        s = json.load(open(summary))
        if best is None or s["wall_seconds"] < best[0]["wall_seconds"]:
            best = (s, json.load(open(trace)))
    s, t = best
    events = t["traceEvents"] if isinstance(t, dict) else t
    dur = {}
    for e in events:
        if e.get("cat") == "partition" and e.get("ph") == "X":
            i = e["args"]["id"]
            dur[i] = min(dur.get(i, 1e300), e["dur"] * 1e-6)  # a speculative twin: the faster one counts
    costs = os.path.join(tmp, "costs.txt")
    with open(costs, "w") as f:
        for i in range(n):
            f.write(f"{dur[i]:.9g}\n")
    return s, costs


def levels_args(w, levels_flag):
    """A workload's topology: one level, or two with w[8] ranks per node."""
    per_node = w[8] if len(w) > 8 else 0
    return [levels_flag, "2", "--ranks-per-node", str(per_node)] if per_node else [levels_flag, "1"]


def model(a, w, costs=None):
    name, ranks, threads, n, dist, med, sigma = w[:7]
    cmd = [os.path.join(a.build, "bin", "partita_simulate"), "--ranks", str(ranks), "--threads", str(threads),
           "--partitions", str(n), "--dist", dist, "--median-us", str(med), "--sigma", str(sigma)]
    cmd += levels_args(w, "--levels")
    if a.calibration:
        cmd += ["--calibration", a.calibration]
    if costs:
        cmd += ["--costs", costs]
    cmd += w[7] if len(w) > 7 else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--calibration", default="")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--json", default="", help="also write the rows here")
    p.add_argument("--only", default="", help="run only the workloads whose name contains this")
    a = p.parse_args()
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    rows = []
    print("| workload | ranks x threads | partitions | real wall s | model s (measured times) | error | "
          "model s (nominal draws) | real dispatches/s | model dispatches/s | error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in [x for x in WORKLOADS if not a.only or a.only in x[0]]:
        with tempfile.TemporaryDirectory() as tmp:
            s, costs = real_run(a, w, tmp)
            m = model(a, w, costs)
            nominal = model(a, w)
        wall, mk = s["wall_seconds"], float(m["makespan_s"])
        rate_real, rate_model = s["dispatches"] / wall, float(m["dispatch_rate_per_s"])
        row = dict(workload=w[0], ranks=w[1], threads=w[2], partitions=w[3], wall_s=wall, model_s=mk,
                   model_nominal_s=float(nominal["makespan_s"]), rate_real=rate_real, rate_model=rate_model,
                   makespan_error=mk / wall - 1, rate_error=rate_model / rate_real - 1)
        rows.append(row)
        print(f"| {w[0]} | {w[1]} x {w[2]} | {w[3]} | {wall:.3f} | {mk:.3f} | {100 * row['makespan_error']:+.0f}% | "
              f"{row['model_nominal_s']:.3f} | {rate_real:.0f} | {rate_model:.0f} | {100 * row['rate_error']:+.0f}% |",
              flush=True)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
