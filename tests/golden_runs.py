"""The five fixed-seed runs whose histories and predictions are recorded as golden data.

They were recorded on main at 9f1f4cf, before the stage engine replaced the two trainers' loops
(``python tests/golden_runs.py --record``), and ``tests/test_golden.py`` checks that the current code
reproduces them: integers and strings exactly, floats to rtol 1e-12. The same runs serve the other
tests through the session fixtures of ``conftest.py``, so each is trained once per test session.

A change that moves these numbers on purpose (a new default, a fix) re-records them in a commit that
says which change moved which number by how much.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

import msnn_tf as msnn
from msnn_tf import pinn
from msnn_tf.engine import json_ready

GOLDEN_DIR = Path(__file__).parent / "golden"


def target(x):
    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def smooth_2d(p):
    return (np.exp(-0.5 * (p[:, 0] ** 2 + p[:, 1] ** 2)) * np.sin(3.0 * p[:, 0] + 2.0 * p[:, 1]))[:, None]


def grid(n):
    axis = np.linspace(-1.0, 1.0, n)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


def ode_problem():
    """Eq. (3.3): u' = u + x on [-1, 1], u(0) = 0, exact e^x - x - 1."""
    return pinn.Problem(domain=pinn.Interval(-1.0, 1.0), residual=lambda x, u, d: d["x"] - (u + x), derivatives=["x"],
                        conditions=[pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)


def diffusion_problem():
    """Eq. (3.44), Fig. 13: u_t = u_xx / 2 + (1 - x^2 + t), u(+-1, t) = u(x, 0) = 0, exact t (1 - x^2)."""
    return pinn.Problem(
        pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0), lambda x, u, d: d["t"] - 0.5 * d["xx"] - (1.0 - x[:, :1] ** 2 + x[:, 1:]),
        ["t", "xx"],
        [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=60, faces=[(0, 0), (0, 1)]),
         pinn.InitialCondition(lambda x: np.zeros(len(x)), num_points=60)],
        exact=lambda x: x[:, 1:] * (1.0 - x[:, :1] ** 2))


# The solvers are named where a default changed after the recording (issue 19: ``stage_solver="auto"``
# solves 1-D regression and PINN stages >= 1, and stops a trained stage 0 when its loss stalls): each
# run keeps the path it recorded.
FAST = dict(width=(12, 16), adam_steps=400, lbfgs_iterations=600, verbose=0, seed=0, stage_solver="adam_lbfgs")


def fast_regression(**fit_kwargs):
    """Two 1-D trained stages of ``sin(2x + 1) + 0.2 exp(1.3x)`` from 600 points (validation on 1601)."""
    x = np.linspace(-1, 1, 600)[:, None]
    x_val = np.linspace(-1, 1, 1601)[:, None]
    regressor = msnn.MultiStageRegressor(**FAST)
    history = regressor.fit(x, target(x), num_stages=2, validation_data=(x_val, target(x_val)), **fit_kwargs)
    return regressor, history, x_val


def least_squares_regression_2d(**fit_kwargs):
    """2-D default solver: stage 1 a least-squares stage on 31^2 grid data refined 3x."""
    x, x_val = grid(31), grid(101)
    regressor = msnn.MultiStageRegressor(adam_steps=300, lbfgs_iterations=(1500, 0), least_squares_width=950, verbose=0,
                                         stage_solver="least_squares")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        history = regressor.fit(x, smooth_2d(x), num_stages=2, validation_data=(x_val, smooth_2d(x_val)), **fit_kwargs)
    return regressor, history, x_val


def pinn_ode(**fit_kwargs):
    """Two trained PINN stages of eq. (3.3)."""
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=500, lbfgs_iterations=500, verbose=0, seed=0,
                                 stage_solver="adam_lbfgs")
    history = solver.fit(num_stages=2, **fit_kwargs)
    return solver, history, np.linspace(-1, 1, 101)[:, None]


def pinn_least_squares_diffusion(**fit_kwargs):
    """Eq. (3.44): a crude trained stage 0, then one least-squares stage of 500 features."""
    solver = msnn.MultiStagePINN(diffusion_problem(), width=10, num_collocation=2000, adam_steps=150,
                                 lbfgs_iterations=150, stage_solver="least_squares", least_squares_width=500,
                                 grid_points=61, verbose=0, seed=0)
    history = solver.fit(num_stages=2, **fit_kwargs)
    x = np.random.default_rng(1).uniform([-1.0, 0.0], [1.0, 1.0], (50, 2))
    return solver, history, x


def pinn_resampling_pretrain(**fit_kwargs):
    """One stage of eq. (3.3) with collocation resampled every 100 Adam steps and Algorithm 3's gamma."""
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=400, lbfgs_iterations=100, resample_every=100,
                                 gamma="pretrain", pretrain_steps=100, verbose=0, seed=2, stage_solver="adam_lbfgs")
    history = solver.fit(num_stages=1, **fit_kwargs)
    return solver, history, np.linspace(-1, 1, 101)[:, None]


RUNS = {
    "fast_regression": fast_regression,
    "least_squares_regression_2d": least_squares_regression_2d,
    "pinn_ode": pinn_ode,
    "pinn_least_squares_diffusion": pinn_least_squares_diffusion,
    "pinn_resampling_pretrain": pinn_resampling_pretrain,
}


def strict(value):
    """JSON-ready copy: arrays and tuples as lists, non-finite floats as None, NumPy scalars as Python
    (the engine's :func:`~msnn_tf.engine.json_ready`; the golden files were written with an identical copy)."""
    return json_ready(value)


def without_times(value):
    """The history dictionary minus wall times (every key that names a time)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if "time" not in k}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def snapshot(solver, history, x) -> dict:
    """What a golden file holds: the history minus wall times, and predictions at ``x`` (every k-th
    row of it, at most ~1500)."""
    x = np.asarray(x)[:: max(1, len(x) // 1500)]
    return {"history": without_times(strict(history.to_dict())), "x": strict(x), "prediction": strict(solver.predict(x))}


def record(names=None) -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in names or RUNS:
        solver, history, x = RUNS[name]()
        path = GOLDEN_DIR / f"{name}.json"
        path.write_text(json.dumps(snapshot(solver, history, x), indent=1) + "\n")
        print(f"recorded {path}", flush=True)


if __name__ == "__main__":
    if "--record" not in sys.argv:
        sys.exit("usage: python tests/golden_runs.py --record [run names]")
    record([a for a in sys.argv[1:] if a != "--record"])
