#!/usr/bin/python3
"""Predictions of partita_simulate at 10^3-10^5 ranks (docs/simulate/): a table and a plot.

Runs the model for 10^3, 10^4 and 10^5 ranks x 1, 10 and 100 ms partitions (lognormal, sigma 0.5), flat and two
levels, plus a finer sweep of rank counts for the saturation point; caches every result in a JSON file (rerun with
--plot-only to redraw), writes a markdown table and a PNG (matplotlib).

  tools/simulate/predict.py --build build --calibration docs/simulate/calibration.txt --out docs/simulate
"""
import argparse, json, os, subprocess, sys, time

RANKS_PER_NODE = 32
SIGMA = 0.5


def per_thread(ranks, levels):
    """Bounded simulation cost: fewer partitions per thread at 10^5 ranks (a shorter job: its start and tail weigh
    more, so efficiency is lower and the root's busy fraction, a rate, a little higher). A flat root at 10^5 ranks
    is saturated whatever the length; it costs SimGrid the most (7-8 minutes at 2 per thread)."""
    if ranks <= 10000:
        return 50
    if ranks < 100000:
        return 10
    return 5 if levels == 2 else 2


# Longer jobs than the table's at 10^5 ranks (the goal: 10^5 ranks, 1 ms partitions, efficiency >= 0.8 with
# the root under 20 % busy): key "ranks/median_us/levels/partitions per thread".
LONG = [(100000, 1000, 2, 20), (100000, 1000, 2, 50)]


def simulate(a, ranks, median_us, levels, ppt=None):
    cmd = [os.path.join(a.build, "bin", "partita_simulate"), "--ranks", str(ranks), "--threads", "1",
           "--levels", str(levels), "--ranks-per-node", str(RANKS_PER_NODE), "--partitions-per-thread",
           str(ppt or per_thread(ranks, levels)), "--dist", "lognormal", "--median-us", str(median_us), "--sigma",
           str(SIGMA)]
    if a.calibration:
        cmd += ["--calibration", a.calibration]
    t0 = time.time()
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=a.timeout).stdout
    except subprocess.TimeoutExpired:
        return {"ranks": ranks, "median_us": median_us, "levels": levels, "timeout": a.timeout}
    r = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    r["host_seconds"] = time.time() - t0
    return r


def runs():
    table = [(n, t, lv) for n in (1000, 10000, 100000) for t in (1000, 10000, 100000) for lv in (2, 1)]
    sweep = [(n, t, lv) for t in (1000, 10000, 100000) for lv in (1, 2) for n in (250, 500, 2000, 4000)]
    sweep += [(n, t, 2) for t in (1000, 10000, 100000) for n in (30000,)]
    # the table's two-level rows first, then flat 10^4, the finer sweep, flat 10^5 last (the slowest to simulate)
    def order(k):
        n, t, lv = k
        if k in table and lv == 2:
            return (0, 0 if t == 10000 else 1, n, t)
        if k in table and n == 10000:
            return (1, 0, n, t)
        if n == 100000:
            return (3, 0, n, t)
        return (2, 0, n * (1 if lv == 2 else 4), t)
    return sorted(set(table + sweep), key=order)


def key(r):
    return f"{r['ranks']}/{r['median_us']}/{r['levels']}"


def write_table(results, out):
    lines = ["| ranks | partition | levels | partitions | makespan s | lower bound s | efficiency | root busy | "
             "root msgs/s | root dispatches/s | root commits (results + blocks) | busiest node scheduler |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in (1000, 10000, 100000):
        for t in (1000, 10000, 100000):
            for lv in (1, 2):
                r = results.get(f"{n}/{t}/{lv}")
                head = f"| {n:,} | {t // 1000} ms | {'two' if lv == 2 else 'flat'} |"
                if r is None or "timeout" in r:
                    lines.append(head + " not simulated (over the time budget) | | | | | | | | |")
                    continue
                lines.append(head + row(r, lv))
    for n, t, lv, ppt in LONG:
        r = results.get(f"{n}/{t}/{lv}/{ppt}")
        if r is not None and "timeout" not in r:
            lines.append(f"| {n:,} ({ppt} per thread) | {t // 1000} ms | {'two' if lv == 2 else 'flat'} |" + row(r, lv))
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "predictions.md"), "w").write(text)
    return text


def row(r, lv):
    mk = float(r["makespan_s"])
    commits = (f"{int(r['root_results']):,} + {int(r['root_blocks']):,}" if "root_blocks" in r else "")
    return (f" {int(r['partitions']):,} | {mk:.3f} | {float(r['lower_bound_s']):.3f} | "
            f"{float(r['efficiency']):.2f} | {100 * float(r['root_busy_fraction']):.1f}% | "
            f"{int(r['root_messages']) / mk:,.0f} | {int(r.get('root_dispatches', r['dispatches'])) / mk:,.0f} | "
            f"{commits} | {'' if lv == 1 else '%.1f%%' % (100 * float(r['node_busy_fraction_max']))} |")


def plot(results, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {1000: "tab:red", 10000: "tab:blue", 100000: "tab:green"}
    for t in (1000, 10000, 100000):
        for lv, style in ((1, "-o"), (2, "--s")):
            pts = sorted((int(r["ranks"]), float(r["root_busy_fraction"]), float(r["efficiency"]))
                         for k, r in results.items() if "timeout" not in r and int(float(r["median_us"])) == t
                         and int(r["levels"]) == lv and k.count("/") == 2)
            if not pts:
                continue
            label = f"{t // 1000} ms, {'two levels' if lv == 2 else 'flat'}"
            axes[0].plot([p[0] for p in pts], [100 * p[1] for p in pts], style, color=colors[t], label=label)
            axes[1].plot([p[0] for p in pts], [p[2] for p in pts], style, color=colors[t], label=label)
    # The longer 10^5-rank jobs (LONG): the table's rows there are 5 partitions a thread, mostly start and tail.
    for (n, t, lv, ppt), marker in zip(LONG, ("^", "*")):
        r = results.get(f"{n}/{t}/{lv}/{ppt}")
        if r is None or "timeout" in r:
            continue
        label = f"{t // 1000} ms, {'two levels' if lv == 2 else 'flat'}, {ppt} a thread"
        axes[0].plot([n], [100 * float(r["root_busy_fraction"])], marker, ms=11, color=colors[t], label=label)
        axes[1].plot([n], [float(r["efficiency"])], marker, ms=11, color=colors[t], label=label)
    axes[0].axhline(10, color="grey", lw=0.8, ls=":")
    ranks = f"ranks (1 thread each, {RANKS_PER_NODE} a node; 50 partitions a thread to 10^4)"
    axes[0].set(xscale="log", xlabel=ranks, ylabel="root scheduler busy (%)", title="Root scheduler load")
    axes[1].set(xscale="log", xlabel=ranks, ylabel="lower bound / makespan", title="Efficiency", ylim=(0, 1.05))
    axes[0].legend(fontsize=8)
    fig.suptitle("partita_simulate: flat vs two-level scheduling (lognormal partitions, sigma 0.5)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "predictions.png"), dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--calibration", default="docs/simulate/calibration.txt")
    p.add_argument("--out", default="docs/simulate")
    p.add_argument("--timeout", type=float, default=900, help="seconds per simulation")
    p.add_argument("--plot-only", action="store_true")
    p.add_argument("--only", default="", help="comma-separated keys (ranks/median_us/levels[/per thread]) to run")
    p.add_argument("--rerun", action="store_true", help="run the --only keys again even if cached")
    p.add_argument("--long", action="store_true", help="also the longer 10^5-rank jobs (LONG), last")
    a = p.parse_args()
    cache = os.path.join(a.out, "predictions.json")
    results = json.load(open(cache)) if os.path.exists(cache) else {}
    if not a.plot_only:
        only = set(filter(None, a.only.split(",")))
        todo = [(n, t, lv, None) for n, t, lv in runs()] + (LONG if a.long or only else [])
        for n, t, lv, ppt in todo:
            k = f"{n}/{t}/{lv}" + (f"/{ppt}" if ppt else "")
            if only and k not in only:
                continue
            if k in results and "timeout" not in results[k] and not (a.rerun and k in only):
                continue
            r = simulate(a, n, t, lv, ppt)
            r.update(ranks=str(n), median_us=str(t), levels=str(lv))
            results[k] = r
            print(k, "timeout" if "timeout" in r else f"busy {r['root_busy_fraction']} eff {r['efficiency']} "
                  f"({r['host_seconds']:.0f} s)", flush=True)
            json.dump(results, open(cache, "w"), indent=1)
    print(write_table(results, a.out))
    plot(results, a.out)


if __name__ == "__main__":
    sys.exit(main())
