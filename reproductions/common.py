"""Shared plumbing of the reproduction scripts: arguments, metrics files, fits and plotting.

Every script ``reproductions/figNN_*.py`` has ``main(argv) -> int``, accepts ``--quick`` (iteration
counts shrunk so that it runs in seconds), ``--out DIR`` and ``--seed``, recomputes its figure's data
with msnn_tf's public API and writes ``DIR/<name>.png`` and ``DIR/metrics.json``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from msnn_tf.jsonio import write_json

__all__ = [
    "POISSON_AMPLITUDE",
    "RESULTS",
    "chirp",
    "chirp_derivative",
    "fit_exp_root",
    "fit_power_law",
    "iteration_curve",
    "ode_problem",
    "parse_args",
    "poisson_first_stage",
    "poisson_problem",
    "poisson_source",
    "pinn_stage_summary",
    "pyplot",
    "smooth_target",
    "square_error",
    "square_grid",
    "square_map",
    "stage_metrics",
    "train_network",
    "write_metrics",
]

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv, name: str, description: str, add_arguments=None) -> argparse.Namespace:
    """``--quick``, ``--out`` (default ``reproductions/results/<name>``), ``--seed``, ``--verbose``, and
    whatever ``add_arguments(parser)`` adds."""
    parser = argparse.ArgumentParser(prog=name, description=description)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (seconds), for tests")
    parser.add_argument("--out", default=str(RESULTS / name), help="folder for the PNG and metrics.json")
    parser.add_argument("--seed", type=int, default=0, help="seed of every initialiser and sampler")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1), help="training progress lines")
    args = parser.parse_args(argv)
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    args.name = name
    args.start = time.perf_counter()
    return args


def stage_metrics(history, model, x_eval, y_eval) -> list[dict]:
    """Per accepted stage: its settings and the RMS / max error of the first ``k`` stages on ``x_eval``."""
    rows = []
    k = 0
    for report in history.stages:
        row = {
            "stage": report.stage,
            "accepted": report.accepted,
            "epsilon": report.epsilon,
            "dominant_frequency": list(report.dominant_frequency),
            "kappa": report.kappa,
            "kappa_hat": report.kappa_hat,
            "first_activation": report.first_activation,
            "width": report.width,
            "depth": report.depth,
            "num_points": report.num_points,
            "adam_steps": report.adam_steps,
            "lbfgs_iterations": report.lbfgs_iterations,
            "iterations": report.iterations,
            "train_rms": report.train_rms,
            "wall_time_s": report.wall_time,
        }
        if report.accepted:
            k += 1
            error = np.asarray(y_eval) - model.predict(x_eval, num_stages=k)
            row["rms_error"] = float(np.sqrt(np.mean(error.astype(np.float64) ** 2)))
            row["max_error"] = float(np.max(np.abs(error)))
        rows.append(row)
    total = 0
    for row in rows:
        total += row["iterations"]
        row["cumulative_iterations"] = total
    return rows


def iteration_curve(history, scale: float = 1.0):
    """``(cumulative iteration, RMS estimate)`` along all stages, from each stage's loss history.

    During stage ``k`` the loss ``L`` of the normalised residue gives an RMS error of about
    ``scale * eps_k * sqrt(L)`` (exact for a uniform loss; the Chebyshev weighting makes it an
    estimate).
    """
    iterations, values, offset = [], [], 0
    for report in history.stages:
        if not report.accepted:
            break
        adam = np.asarray(report.adam_losses)
        iterations.append(offset + np.arange(1, adam.size + 1))
        values.append(scale * report.epsilon * np.sqrt(np.maximum(adam, 0.0)))
        if report.lbfgs_losses.size:
            iterations.append(offset + adam.size + np.asarray(report.lbfgs_iterations_history))
            values.append(scale * report.epsilon * np.sqrt(np.maximum(report.lbfgs_losses, 0.0)))
        offset += report.iterations
    if not iterations:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(iterations).astype(float), np.concatenate(values)


def fit_power_law(epsilons, frequencies) -> float:
    """Exponent ``alpha`` of eq. (2.11), ``f_d ~ f_0 eps^(-alpha)``, by least squares in log-log."""
    eps = np.asarray(epsilons, dtype=float)
    f = np.asarray(frequencies, dtype=float)
    keep = (eps > 0) & (f > 0)
    if keep.sum() < 2:
        return float("nan")
    slope = np.polyfit(np.log(eps[keep]), np.log(f[keep]), 1)[0]
    return float(-slope)


def fit_exp_root(iterations, values, root: float = 2.0) -> tuple[float, float]:
    """``(c, A)`` of ``eps ~ A exp(-n^(1/root) / c)`` (Fig. 5c: root 2; Fig. 6f: root 3), least squares in log."""
    n = np.asarray(iterations, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = (n > 0) & (v > 0) & np.isfinite(v)
    if keep.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(n[keep] ** (1.0 / root), np.log(v[keep]), 1)
    return (float(-1.0 / slope) if slope < 0 else float("inf")), float(np.exp(intercept))


def write_metrics(args, metrics: dict) -> Path:
    """Writes ``metrics.json`` (with wall time, machine, command) into ``args.out`` and returns its path."""
    metrics = dict(metrics)
    metrics.setdefault("wall_time_s", time.perf_counter() - args.start)
    metrics["figure"] = args.name
    metrics["quick"] = bool(args.quick)
    metrics["seed"] = args.seed
    metrics["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    path = args.out / "metrics.json"
    write_json(path, metrics, indent=2)  # strict JSON: non-finite numbers as null
    return path


def pyplot():
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def train_network(network, x_scaled, target, adam_steps: int, lbfgs_iterations: int, learning_rate: float = 1e-3,
                  decay_rate: float = 1.0):
    """Trains one Keras network on MSE with msnn_tf's compiled Adam then L-BFGS; returns the losses.

    Uses the public building blocks (:func:`msnn_tf.mse_objective` and the engine's stage solver
    :func:`msnn_tf.engine.train_adam_lbfgs`, Adam with ``decay_rate`` per 1000 steps then L-BFGS with
    50 correction pairs) for settings the regressor does not offer (e.g. frozen Fourier features).
    Returns ``(iterations, losses)`` over both optimizers.
    """
    import msnn_tf as msnn
    from msnn_tf.engine import StageSettings, train_adam_lbfgs

    value_and_gradients, flat = msnn.mse_objective(network, x_scaled, target)
    trained = train_adam_lbfgs(value_and_gradients, flat.pack(), adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations,
                               learning_rate=learning_rate, settings=StageSettings(decay_rate=decay_rate))
    adam, lbfgs = trained.adam, trained.lbfgs
    iterations, losses = [np.arange(1, adam.num_steps + 1)], [adam.losses]
    if lbfgs is not None:
        iterations.append(adam.num_steps + lbfgs.iterations)
        losses.append(lbfgs.losses)
    flat.assign(trained.position)
    return np.concatenate(iterations).astype(float), np.concatenate(losses)


def smooth_target(x):
    """Eq. (2.2): ``sin(2x + 1) + 0.2 exp(1.3x)``, the regression target of Figs. 1, 5, 15, 16."""
    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def ode_problem(lower: float = -1.0, upper: float = 1.0):
    """Eq. (3.3): ``u' = u + x`` on ``[lower, upper]``, ``u(0) = 0``, exact ``e^x - x - 1`` (Figs. 7, 11-12)."""
    from msnn_tf import pinn

    return pinn.Problem(pinn.Interval(lower, upper), lambda x, u, d: d["x"] - (u + x), ["x"],
                        [pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)


def chirp(x, m):
    """Eq. (2.6): ``(1 - x^2/2) cos(m (x + 0.5 x^3))``."""
    return (1.0 - 0.5 * x**2) * np.cos(m * (x + 0.5 * x**3))


def chirp_derivative(x, m):
    """Analytic ``du/dx`` of eq. (2.6)."""
    phase = m * (x + 0.5 * x**3)
    return -x * np.cos(phase) - (1.0 - 0.5 * x**2) * np.sin(phase) * m * (1.0 + 1.5 * x**2)


def pinn_stage_summary(report) -> dict:
    """A PINN stage report as a dict without its per-iteration loss history (kept out of metrics.json)."""
    return {k: v for k, v in report.to_dict().items() if k not in ("losses", "loss_iterations", "loss_parts")}


POISSON_AMPLITUDE = 1.0 / (2 * (6 * math.pi) ** 2)


def poisson_source(x):
    """Source of eq. (3.20), ``-sin(6 pi x) sin(6 pi y)``, for ``(N, 2)`` TensorFlow points."""
    import tensorflow as tf

    return -tf.sin(6 * math.pi * x[:, :1]) * tf.sin(6 * math.pi * x[:, 1:])


def poisson_problem(points_per_face: int = 50):
    """Eq. (3.20): ``u_xx + u_yy = -sin(6 pi x) sin(6 pi y)`` on [-1, 1]^2, zero boundary; exact (3.21)."""
    from msnn_tf import pinn

    return pinn.Problem(pinn.Rectangle([-1, -1], [1, 1]), lambda x, u, d: d["xx"] + d["yy"] - poisson_source(x),
                        ["xx", "yy"], [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=points_per_face)],
                        exact=lambda x: POISSON_AMPLITUDE * np.sin(6 * np.pi * x[:, :1]) * np.sin(6 * np.pi * x[:, 1:]))


def square_grid(n: int) -> np.ndarray:
    """``n x n`` uniform points of [-1, 1]^2 as an ``(n * n, 2)`` array ("ij" order: reshape to (n, n))."""
    axis = np.linspace(-1, 1, n)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


def square_error(solver, n: int) -> np.ndarray:
    """``exact - prediction`` of a PINN solver (its problem's exact solution) on :func:`square_grid`, ``(n, n)``."""
    points = square_grid(n)
    return (solver.problem.exact(points) - solver.predict(points))[:, 0].reshape(n, n)


def square_map(fig, ax, values, title: str) -> None:
    """``values`` on :func:`square_grid` (shape ``(n, n)``) as an image of [-1, 1]^2 with a colour bar."""
    image = ax.imshow(values.T, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r")
    fig.colorbar(image, ax=ax)
    ax.set(xlabel="x", ylabel="y", title=title)


def poisson_first_stage(problem, width: int = 20):
    """Stage-0 settings for eq. (3.20) from section 3.1: eps_0 by Algorithm 2 (RMS of the solution) and
    a sin first layer with kappa from eq. (2.9) (kappa_hat = 1.5 pi f_d) at the source's f_d per axis."""
    import msnn_tf as msnn
    from msnn_tf import pinn

    magnitude = pinn.solution_magnitude(problem, poisson_source, num_points=121)
    points = square_grid(241)
    f_d = float(np.max(msnn.dominant_frequencies(points, poisson_source(points).numpy()[:, 0])))
    kappa = msnn.kappa_for_frequency(f_d, fan_in=2, units=width, factor=1.5)
    return dict(first_stage_epsilon=magnitude.epsilon, first_stage_activation="sin", first_stage_kappa=kappa), f_d
