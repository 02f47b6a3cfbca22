"""Cost of a PINN training step at stages 1, 2, 3 (issue: multi-stage PINN, item 7).

Frozen stages do not change within a stage, so MultiStagePINN computes their values and derivatives
at the collocation points once per stage; a step at stage k then costs one forward-and-derivative
pass of the newest network only. For eq. (3.3) (``u' = u + x``, gPINN) and eq. (3.44)
(``u_t = u_xx / 2 + 1 - x^2 + t``) this builds three stages (tiny training budgets: only the cost
matters) and times, for each stage's objective (loss and gradient):

* ``ms_per_step``: one XLA-compiled loop of ``repeats`` evaluations, divided by ``repeats``;
* ``ms_per_call``: a Python loop of compiled single evaluations (adds dispatch);
* ``outside_tf_share``: ``1 - ms_per_step / ms_per_call``, the share of a Python-driven step spent
  outside TensorFlow ops (the optimizers themselves run whole blocks inside one compiled call).

Usage: ``python tools/bench_pinn.py [--out results/bench_pinn.json] [--quick]``.
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
from msnn_tf import pinn


def problems():
    ode = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - (u + x), ["x"],
                       [pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)
    domain = pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0)
    heat = pinn.Problem(domain, lambda x, u, d: d["t"] - 0.5 * d["xx"] - (1.0 - x[:, :1] ** 2 + x[:, 1:]), ["t", "xx"],
                        [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=50, faces=[(0, 0), (0, 1)]),
                         pinn.InitialCondition(lambda x: np.zeros(len(x)), num_points=50)],
                        exact=lambda x: x[:, 1:] * (1.0 - x[:, :1] ** 2))
    return {"ode_3_3_gpinn": (ode, True, 400), "diffusion_3_44": (heat, False, 2000)}


def time_objective(value_and_gradients, position, repeats):
    single = tf.function(value_and_gradients, jit_compile=True)

    @tf.function(jit_compile=True)
    def loop(position):
        def body(i, total):
            value, gradient = value_and_gradients(position + tf.cast(i, tf.float64) * 0.0)
            return i + 1, total + value + tf.reduce_sum(gradient) * 0.0
        return tf.while_loop(lambda i, total: i < repeats, body, (tf.constant(0), tf.constant(0.0, tf.float64)))[1]

    single(position)
    loop(position)  # compile both
    best_loop, best_call = np.inf, np.inf
    for _ in range(3):
        start = time.perf_counter()
        loop(position).numpy()
        best_loop = min(best_loop, (time.perf_counter() - start) / repeats)
        start = time.perf_counter()
        for _ in range(repeats):
            value, _ = single(position)
        value.numpy()
        best_call = min(best_call, (time.perf_counter() - start) / repeats)
    return 1e3 * best_loop, 1e3 * best_call


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench_pinn.json")
    parser.add_argument("--quick", action="store_true", help="fewer collocation points and repeats")
    args = parser.parse_args(argv)
    repeats = 20 if args.quick else 200
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "tensorflow": tf.__version__, "problems": {}}
    for name, (problem, gradient_enhanced, points) in problems().items():
        points = points // 4 if args.quick else points
        solver = msnn.MultiStagePINN(problem, adam_steps=20, lbfgs_iterations=0, gradient_enhanced=gradient_enhanced,
                                     num_collocation=points, max_collocation=points, verbose=0)
        rows = []

        class StepTimer(msnn.StageCallback):
            """Times the stage's loss once the stage is planned, before it is trained."""

            def on_stage_begin(self, stage, plan, solver=solver, name=name):
                work = solver.objective.work
                value_and_gradients, flat, _ = work.make_loss(plan.extras["gamma"], work.network)
                ms_step, ms_call = time_objective(value_and_gradients, flat.pack(), repeats)
                rows.append({"stage": stage + 1, "frozen_stages": stage, "collocation_points": plan.num_points,
                             "ms_per_step": ms_step, "ms_per_call": ms_call, "outside_tf_share": 1.0 - ms_step / ms_call})
                print(f"{name} stage {stage + 1}: {ms_step:.3f} ms per compiled step, {ms_call:.3f} ms per Python-driven "
                      f"call ({rows[-1]['outside_tf_share']:.0%} outside TF ops), {plan.num_points} points", flush=True)

        solver.fit(num_stages=3, callbacks=[StepTimer()], verbose=0)
        ratio = rows[2]["ms_per_step"] / rows[0]["ms_per_step"]
        result["problems"][name] = {"stages": rows, "stage3_over_stage1": ratio}
        print(f"{name}: stage-3 / stage-1 step time {ratio:.2f} (acceptance <= 1.3)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
