"""Time to machine precision with the defaults (issue 19's acceptance cases), each in its own process.

Cases, every setting at its default (``MultiStageRegressor()`` / ``MultiStagePINN(problem)``):

* ``regression``: ``sin(2x + 1) + 0.2 exp(1.3x)``, 5000 points on [-1, 1], 4 stages (the benchmark's fit);
* ``reference_regression``: ``log(x + 2) cos(2x + x^3)`` as a callable target on [-1.02, 1.02] from 1501
  points, 4 stages (the reference script's example);
* ``ode``: eq. (3.3) of Figs. 11-12, ``u' = u + x``, ``u(0) = 0`` on [-1, 1], 3 stages;
* ``diffusion``: eq. (3.44) of Fig. 13 with its conditions, 3 stages.

Errors are RMS / max against the exact function on points off the training data (8000 on [-1, 1];
Fig. 13: a 101 x 101 grid). Wall time is the ``fit`` call, compilation included (TensorFlow's import
excluded). Each case also records its :class:`msnn_tf.TimeProfile` totals.

Usage: ``python tools/bench_defaults.py [--out results/bench_defaults.json] [--cases C ...] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CASES = ("regression", "reference_regression", "ode", "diffusion")
GOALS = {"regression": (1e-14, 30.0), "reference_regression": (1e-13, 60.0), "ode": (2e-15, 20.0),
         "diffusion": (1e-12, 120.0)}


def run_case(name: str, quick: bool) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import numpy as np

    import msnn_tf as msnn
    from msnn_tf import pinn

    small = dict(adam_steps=100, lbfgs_iterations=100) if quick else {}
    profile = msnn.TimeProfile()
    warnings.simplefilter("ignore", RuntimeWarning)  # a last stage at round-off is discarded with a warning
    x_eval = np.linspace(-1.0, 1.0, 8000)[:, None]
    start = time.perf_counter()
    if name in ("regression", "reference_regression"):
        regressor = msnn.MultiStageRegressor(verbose=0, **small)
        if name == "regression":
            function = lambda x: np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)  # noqa: E731
            x = np.linspace(-1.0, 1.0, 5000)[:, None]
            history = regressor.fit(x, function(x), num_stages=4, callbacks=[profile])
        else:
            function = lambda x: np.log(x + 2.0) * np.cos(2.0 * x + x**3)  # noqa: E731
            history = regressor.fit(function, domain=(-1.02, 1.02), num_points=1501, num_stages=4, callbacks=[profile])
        wall = time.perf_counter() - start
        error = function(x_eval) - regressor.predict(x_eval)
    else:
        if name == "ode":
            problem = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - (u + x), ["x"],
                                   [pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)
        else:
            problem = pinn.Problem(
                pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0),
                lambda x, u, d: d["t"] - 0.5 * d["xx"] - (1.0 - x[:, :1] ** 2 + x[:, 1:]), ["t", "xx"],
                [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=100, faces=[(0, 0), (0, 1)]),
                 pinn.InitialCondition(lambda x: np.zeros(len(x)), num_points=100)],
                exact=lambda x: x[:, 1:] * (1.0 - x[:, :1] ** 2))
            axis_x, axis_t = np.linspace(-1.0, 1.0, 101), np.linspace(0.0, 1.0, 101)
            x_eval = np.stack(np.meshgrid(axis_x, axis_t, indexing="ij"), -1).reshape(-1, 2)
        solver = msnn.MultiStagePINN(problem, verbose=0, **small)
        history = solver.fit(num_stages=3, callbacks=[profile])
        wall = time.perf_counter() - start
        error = problem.exact(x_eval) - solver.predict(x_eval)
    goal_rms, goal_time = GOALS[name]
    rms, worst = float(np.sqrt(np.mean(error**2))), float(np.max(np.abs(error)))
    return {"case": name, "wall_time_s": wall, "rms": rms, "max": worst, "goal_rms": goal_rms,
            "goal_time_s": goal_time, "met": bool(rms <= goal_rms and wall <= goal_time),
            "stages": [{"stage": p["stage"], "solver": p["solver"], "wall_time_s": p["wall_time"],
                        "accepted": bool(r.accepted)} for p, r in zip(profile.stages, history.stages)],
            "time_profile_totals": profile.totals(), "message": history.message}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench_defaults.json")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test; goals not expected)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_case(args.one, args.quick)))
        return 0
    rows = []
    for name in args.cases:
        command = [sys.executable, __file__, "--one", name] + (["--quick"] if args.quick else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            rows.append({"case": name, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name:>21}: RMS {row['rms']:.2e} (max {row['max']:.2e}) in {row['wall_time_s']:5.1f} s; goal "
              f"<= {row['goal_rms']:.0e} in <= {row['goal_time_s']:.0f} s: {'met' if row['met'] else 'NOT met'}",
              flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                           "python": sys.version.split()[0]}, "quick": args.quick, "cases": rows},
                              indent=1))
    print(f"wrote {out}")
    return 0 if all(r.get("met") for r in rows) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
