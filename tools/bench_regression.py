"""Benchmark of multi-stage regression (issue: foundation, item 9).

Target ``sin(2x + 1) + 0.2 exp(1.3x)``: 5000 uniform training points and 8000 evaluation points on
[-1, 1]. In one run it measures

1. the MultiStageRegressor with default settings: evaluation RMS / max error after every stage and
   the wall time at which the RMS error first falls below 1e-6, 1e-9 and 1e-12. Inside a stage the
   error is read from the loss history, recorded after every compiled block: at a loss ``L`` the
   (Chebyshev-weighted, see ``loss_weighting``) training RMS of stage k is ``scale * eps_k *
   sqrt(L)``; the evaluation RMS at each stage end is in the table beside it;
2. a single tanh network with the same total parameter count, trained (Adam then L-BFGS) for the same
   wall time;
3. the cost of L-BFGS per objective evaluation against bare compiled loss-and-gradient evaluations,
   for the largest stage network: as a Python loop of compiled calls, and as one compiled loop
   (the third of three blocks of one run, compilation excluded: see :func:`lbfgs_cost`).

``--profile`` prints (and the JSON always records) where each stage's time goes: planning, compilation,
Adam, L-BFGS, least-squares solves and the rest (:class:`msnn_tf.TimeProfile`).

Usage: ``python tools/bench_regression.py [--out results/bench_regression.json] [--quick] [--profile]
[--multistage-only]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import msnn_tf as msnn
from msnn_tf.regression import mse_objective

THRESHOLDS = (1e-6, 1e-9, 1e-12)


def target(x):
    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def rms_curve(history, scale):
    """(wall time, training RMS in data units) along the whole run, from the stage loss histories, and
    the stage's training RMS at its end (a solved stage has no loss history)."""
    times, values, offset = [], [], 0.0
    for report in history.stages:
        if not report.accepted:
            break
        times.extend(offset + np.asarray(report.adam_times))
        values.extend(scale * report.epsilon * np.sqrt(np.asarray(report.adam_block_losses)))
        times.extend(offset + report.adam_wall_time + np.asarray(report.lbfgs_times))
        values.extend(scale * report.epsilon * np.sqrt(np.asarray(report.lbfgs_losses)))
        offset += report.wall_time
        times.append(offset)
        values.append(report.train_rms)
    return np.asarray(times), np.asarray(values)


def single_network(x, y, x_eval, y_eval, width, wall_time, seed):
    """A single tanh network (regular init) trained with Adam then L-BFGS for ``wall_time`` seconds."""
    mean, scale = float(np.mean(y)), float(np.std(y))
    network = msnn.build_stage_network(1, width=width, depth=3, seed=seed)
    model = msnn.StagedModel(1, lower=-1.0, upper=1.0, output_offset=mean, output_scale=scale)
    value_and_gradients, flat = mse_objective(network, tf.constant(x), tf.constant((y - mean) / scale))
    start = time.perf_counter()
    adam = msnn.adam_minimize(value_and_gradients, flat.pack(), 3000, learning_rate=2e-3, decay_rate=0.5,
                              decay_steps=1000, time_limit=wall_time)
    lbfgs = msnn.lbfgs_minimize(value_and_gradients, adam.position, max_iterations=10**7, num_correction_pairs=50,
                                time_limit=max(1.0, wall_time - (time.perf_counter() - start)))
    flat.assign(lbfgs.position)
    model.add_stage(network, 1.0)
    error = y_eval - model.predict(x_eval)
    return {
        "width": width, "parameters": int(network.count_params()), "wall_time_s": time.perf_counter() - start,
        "adam_steps": adam.num_steps, "lbfgs_iterations": lbfgs.num_iterations, "lbfgs_message": lbfgs.message,
        "eval_rms": float(np.sqrt(np.mean(error**2))), "eval_max": float(np.max(np.abs(error))),
    }


def lbfgs_cost(width, num_points, iterations, repeats=3):
    """L-BFGS seconds per objective evaluation vs bare compiled evaluations, compilation excluded.

    Every ``lbfgs_minimize`` call traces and XLA-compiles its two block functions (the first block
    and the resuming one), so one run of three blocks of ``iterations`` is timed and only its third
    block counts: its time over its evaluations (median over ``repeats`` runs).
    """
    x = np.linspace(-1, 1, num_points)[:, None]
    network = msnn.build_stage_network(1, width=width, depth=3, kappa=30.0, first_activation="sin", seed=0)
    value_and_gradients, flat = mse_objective(network, tf.constant(x), tf.constant(np.sin(20 * x) * np.exp(x)))
    position = flat.pack()
    blocks = []
    for _ in range(repeats):
        result = msnn.lbfgs_minimize(value_and_gradients, position, max_iterations=3 * iterations, block_size=iterations)
        if len(result.times) < 3:
            raise RuntimeError(f"L-BFGS stopped before {3 * iterations} iterations; no third block to time")
        blocks.append((result.times[2] - result.times[1], int(result.evaluations[2] - result.evaluations[1])))
        first_blocks = result.times[1]
    per_evaluation, evaluations = sorted((t / n, n) for t, n in blocks)[len(blocks) // 2]

    compiled = tf.function(value_and_gradients, jit_compile=True)
    compiled(position)
    start = time.perf_counter()
    for _ in range(evaluations):
        compiled(position)
    python_loop = (time.perf_counter() - start) / evaluations

    @tf.function(jit_compile=True)
    def in_graph(p, n):
        def body(i, total):
            value, gradient = value_and_gradients(p + tf.cast(i, tf.float64) * 1e-15)
            return i + 1, total + value + tf.reduce_sum(gradient)
        return tf.while_loop(lambda i, total: i < n, body, (tf.constant(0), tf.constant(0.0, tf.float64)))[1]

    in_graph(position, tf.constant(2))
    start = time.perf_counter()
    in_graph(position, tf.constant(evaluations))
    graph_loop = (time.perf_counter() - start) / evaluations
    return {
        "width": width, "num_points": num_points, "iterations": iterations, "evaluations": evaluations,
        "lbfgs_s_per_evaluation": per_evaluation,
        "compile_s_estimate": first_blocks - per_evaluation * int(result.evaluations[1]),
        "bare_python_loop_s_per_evaluation": python_loop, "bare_compiled_loop_s_per_evaluation": graph_loop,
        "ratio_vs_python_loop": per_evaluation / python_loop, "ratio_vs_compiled_loop": per_evaluation / graph_loop,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench_regression.json")
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true",
                        help="print and record where each stage's time goes (msnn.TimeProfile)")
    parser.add_argument("--multistage-only", action="store_true",
                        help="skip the single-network comparison and the L-BFGS cost measurement")
    args = parser.parse_args(argv)
    x = np.linspace(-1, 1, 5000)[:, None]
    x_eval = np.linspace(-1, 1, 8000)[:, None]
    y, y_eval = target(x), target(x_eval)
    settings = dict(seed=args.seed, verbose=1)
    if args.quick:
        settings.update(adam_steps=100, lbfgs_iterations=100)
    regressor = msnn.MultiStageRegressor(**settings)
    profile = msnn.TimeProfile()
    start = time.perf_counter()
    history = regressor.fit(x, y, num_stages=4, validation_data=(x_eval, y_eval), callbacks=[profile])
    wall = time.perf_counter() - start
    scale = float(np.std(y))
    times, values = rms_curve(history, scale)
    reached = {}
    for threshold in THRESHOLDS:
        below = np.nonzero(values <= threshold)[0]
        reached[f"{threshold:.0e}"] = float(times[below[0]]) if below.size else None
    error = y_eval - regressor.predict(x_eval)
    multistage = {
        "settings": "MultiStageRegressor() defaults" + (" (--quick)" if args.quick else ""),
        "wall_time_s": wall, "eval_rms": float(np.sqrt(np.mean(error**2))), "eval_max": float(np.max(np.abs(error))),
        "wall_time_to_rms_s": reached,
        "stages": [{k: s.to_dict()[k] for k in ("stage", "epsilon", "dominant_frequency", "kappa_hat", "width",
                                                "adam_steps", "lbfgs_iterations", "validation_rms", "validation_max",
                                                "train_rms", "wall_time", "accepted")} for s in history.stages],
        "parameters": int(sum(n.count_params() for n in regressor.model.stage_networks)),
        "time_profile": {"stages": profile.stages, "totals": profile.totals()},
    }
    if args.profile:
        print()
        print(profile.table())
    # Single network of the same size: 3 hidden layers of width w have 2w^2 + 4w + 1 parameters.
    total = multistage["parameters"]
    width = int(round((-4 + np.sqrt(16 + 8 * (total - 1))) / 4))
    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "tensorflow": tf.__version__, "python": sys.version.split()[0]},
        "multistage": multistage,
    }
    if not args.multistage_only:
        single = single_network(x, y, x_eval, y_eval, width, wall, args.seed)
        trained_widths = [s.width for s in history.stages if s.depth > 1] or [20]
        cost = lbfgs_cost(width=max(trained_widths), num_points=5000, iterations=50 if args.quick else 1000)
        result.update(single_network_same_size_same_time=single,
                      single_over_multistage_eval_rms=single["eval_rms"] / multistage["eval_rms"], lbfgs_cost=cost)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print()
    print(history.table())
    print(f"\nmulti-stage: eval RMS {multistage['eval_rms']:.3e}, max {multistage['eval_max']:.3e}, {wall:.0f} s, "
          f"{total} parameters")
    for key, value in reached.items():
        print(f"  wall time to RMS <= {key}: " + ("not reached" if value is None else f"{value:.0f} s"))
    if not args.multistage_only:
        print(f"single network {single['parameters']} parameters (3x{width}), {single['wall_time_s']:.0f} s: "
              f"eval RMS {single['eval_rms']:.3e}, max {single['eval_max']:.3e} "
              f"({result['single_over_multistage_eval_rms']:.1e} x the multi-stage RMS)")
        print(f"L-BFGS cost per evaluation (3x{cost['width']}, {cost['num_points']} points): "
              f"{cost['ratio_vs_python_loop']:.2f}x a Python loop of compiled evaluations, "
              f"{cost['ratio_vs_compiled_loop']:.2f}x one compiled loop of evaluations "
              f"(compilation excluded; each lbfgs_minimize call also compiles for ~{cost['compile_s_estimate']:.0f} s)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
