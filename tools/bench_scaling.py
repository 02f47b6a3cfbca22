"""Cost law of one stage as the work grows (issue 19, item 4): time and peak memory, fitted exponents.

Each measurement runs in its own process (peak resident memory from ``getrusage``; nothing cached
between sizes) and times the stage with :class:`msnn_tf.TimeProfile`, so compilation is separated
from the steady cost. Kinds:

* ``trained_1d``: a trained regression stage (3x20 tanh network, the loss of eq. 2.1 through
  :func:`msnn_tf.mse_objective`, Adam then one-program L-BFGS, 200 steps each in blocks of 50) on ``N``
  1-D points, N = 1e3 .. 1e6; the time is per 1000 Adam steps plus 1000 L-BFGS iterations;
* ``trained_2d``: the same on an ``n x n`` grid of 2-D points;
* ``solved_1d``: one least-squares stage (:func:`msnn_tf.solve_output_layer`) of 1000 sin features on
  ``N`` 1-D points, N = 4e3 .. 1e6;
* ``features``: one least-squares stage of ``M`` features, M = 250 .. 4000, on 4M points;
* ``pinn``: the stage-0 loss of eq. (3.3) that ``MultiStagePINN`` builds, on ``N`` collocation points
  (N = 256 .. 65536), timed like ``trained_1d``.

For each kind the steady time (compilation excluded) is fitted to ``c N^p`` on the sizes >= the
second, and the JSON holds every measurement; the PNG shows time and memory against size on log-log
axes.

Usage: ``python tools/bench_scaling.py [--out results/bench_scaling.json] [--quick] [--kinds K ...]
[--update]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SIZES = {
    "trained_1d": [1000, 10_000, 100_000, 1_000_000],
    "trained_2d": [32**2, 100**2, 316**2, 1000**2],
    "solved_1d": [4000, 40_000, 200_000, 1_000_000],
    "features": [250, 500, 1000, 2000, 4000],
    "pinn": [256, 1024, 4096, 16384, 65536],
}
QUICK_SIZES = {
    "trained_1d": [1000, 4000], "trained_2d": [16**2, 32**2], "solved_1d": [4000, 16000], "features": [100, 200],
    "pinn": [256, 512],
}


def _target(x):
    import numpy as np

    return (np.sin(2.0 * x[:, :1] + 1.0) + 0.2 * np.exp(1.3 * x[:, -1:]))


def _timed_optimizers(value_and_gradients, position, steps: int) -> tuple[float, float]:
    """``(steady seconds per 1000 steps, compile seconds)`` of Adam then L-BFGS on one loss, each run in
    blocks of ``steps // 4`` so that the first block (which compiles) can be told from the others."""
    import msnn_tf as msnn

    block = max(1, steps // 4)
    per_step, compile_time = [], 0.0
    adam = msnn.adam_minimize(value_and_gradients, position, steps, learning_rate=1e-3, block_size=block)
    lbfgs = msnn.lbfgs_minimize(value_and_gradients, adam.position, max_iterations=steps, block_size=block,
                                single_program=True)
    for counts, times in ((adam.block_steps, adam.times), (lbfgs.iterations, lbfgs.times)):
        counts, times = list(counts), list(times)
        if len(counts) >= 2 and counts[-1] > counts[0]:
            rate = (times[-1] - times[0]) / (counts[-1] - counts[0])
            per_step.append(rate)
            compile_time += max(0.0, times[0] - rate * counts[0])
    return 1000.0 * sum(per_step), compile_time


def measure(kind: str, size: int, quick: bool) -> dict:
    """One measurement in this process: ``{"kind", "size", "wall_s", "steady_s", "compile_s",
    "peak_rss_mb"}``; ``steady_s`` is seconds per 1000 Adam steps plus 1000 L-BFGS iterations for the
    trained kinds (compilation excluded), the solve's seconds for the least-squares kinds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    import msnn_tf as msnn

    steps = 40 if quick else 200
    start = time.perf_counter()
    if kind in ("trained_1d", "trained_2d"):
        if kind == "trained_1d":
            x = np.linspace(-1.0, 1.0, size)[:, None]
        else:
            n = int(round(size**0.5))
            axis = np.linspace(-1.0, 1.0, n)
            x = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
        network = msnn.build_stage_network(x.shape[1], width=20, depth=3, seed=0)
        value_and_gradients, flat = msnn.mse_objective(network, tf.constant(x), tf.constant(_target(x)))
        steady, compile_time = _timed_optimizers(value_and_gradients, flat.pack(), steps)
    elif kind in ("solved_1d", "features"):
        from msnn_tf.least_squares import feature_network

        features = 1000 if kind == "solved_1d" else size
        points = size if kind == "solved_1d" else 4 * size
        x = np.linspace(-1.0, 1.0, points)[:, None]
        network = feature_network(1, features, 3.0, 3.0, 0, "stage_1")
        result = msnn.solve_output_layer(network, x, np.sin(9.0 * x) * np.exp(x))
        steady, compile_time = result.wall_time, 0.0
    elif kind == "pinn":
        from msnn_tf import pinn

        problem = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - (u + x), ["x"],
                               [pinn.PointValues([[0.0]], [[0.0]])])
        solver = msnn.MultiStagePINN(problem, num_collocation=size, max_collocation=size, verbose=0)
        plan = solver.objective.plan_stage(0)  # the stage-0 loss the solver would train, on `size` points
        value_and_gradients, flat, _ = solver.objective.work.make_loss(plan.extras["gamma"], solver.objective.work.network)
        steady, compile_time = _timed_optimizers(value_and_gradients, flat.pack(), steps)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux
    return {"kind": kind, "size": size, "wall_s": time.perf_counter() - start, "steady_s": steady,
            "compile_s": compile_time, "peak_rss_mb": peak}


def fit_exponent(sizes, values) -> float | None:
    """Slope of ``log(values)`` against ``log(sizes)`` over the sizes from the second on (the first is
    dominated by fixed costs), ``None`` with fewer than two of them."""
    import numpy as np

    sizes, values = np.asarray(sizes, float)[1:], np.asarray(values, float)[1:]
    if sizes.size < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench_scaling.json")
    parser.add_argument("--quick", action="store_true", help="two small sizes per kind, few steps (smoke test)")
    parser.add_argument("--kinds", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--update", action="store_true", help="keep the other kinds already in --out")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.quick)))
        return 0
    sizes = QUICK_SIZES if args.quick else SIZES
    results = {}
    for kind in args.kinds:
        rows = []
        for size in sizes[kind]:
            command = [sys.executable, __file__, "--one", kind, str(size)] + (["--quick"] if args.quick else [])
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                rows.append({"kind": kind, "size": size, "error": done.stderr.strip().splitlines()[-1:]})
                print(f"{kind:>11} {size:>9}: failed ({rows[-1]['error']})", flush=True)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{kind:>11} {size:>9}: steady {row['steady_s']:8.2f} s, compile {row['compile_s']:6.2f} s, "
                  f"peak {row['peak_rss_mb']:7.0f} MB", flush=True)
        good = [r for r in rows if "error" not in r]
        results[kind] = {
            "rows": rows,
            "time_exponent": fit_exponent([r["size"] for r in good], [r["steady_s"] for r in good]),
            "memory_exponent": fit_exponent([r["size"] for r in good], [r["peak_rss_mb"] for r in good]),
        }
        print(f"{kind:>11}: time ~ N^{results[kind]['time_exponent']}, peak memory ~ N^{results[kind]['memory_exponent']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.update and out.exists():  # keep the kinds measured before, replace the ones measured now
        previous = json.loads(out.read_text())
        if previous.get("quick") == args.quick:
            results = {**previous.get("kinds", {}), **results}
    out.write_text(json.dumps({"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                           "python": sys.version.split()[0]}, "quick": args.quick,
                               "kinds": results}, indent=1))
    _plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def _plot(results, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for kind, data in results.items():
        rows = [r for r in data["rows"] if "error" not in r]
        if not rows:
            continue
        sizes = [r["size"] for r in rows]
        label = f"{kind} (p = {data['time_exponent']:.2f})" if data["time_exponent"] is not None else kind
        axes[0].loglog(sizes, [r["steady_s"] for r in rows], "o-", label=label)
        axes[1].loglog(sizes, [r["peak_rss_mb"] for r in rows], "o-", label=kind)
    axes[0].set(xlabel="size (points, or features for 'features')", ylabel="steady time of one stage (s)",
                title="time, compilation excluded")
    axes[1].set(xlabel="size", ylabel="peak resident memory (MB)", title="peak memory of the process")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
