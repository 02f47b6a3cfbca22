"""Levenberg-Marquardt steps on a sum of squared rows (a damped Gauss-Newton method).

A stage's loss is a sum of squares, ``L(theta) = sum_i r_i(theta)^2``. Adam and L-BFGS see only
its value and gradient; a Gauss-Newton step sees the rows' Jacobian ``J`` and solves the linearised
problem ``min ||r + J d||^2`` at once, which for a small network (hundreds to a few thousand
weights) costs one QR factorisation per step and converges in tens of steps where first-order
methods need thousands (``../anchors``: Gauss-Newton stages reach round-off on self-similar profiles
where Adam and L-BFGS stall). The damping ``mu`` (Marquardt's scaling by the column norms of ``J``)
keeps each step inside the region where the linearisation holds; it follows Nielsen's rule
(H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05): shrunk after a step
that achieved what the linear model predicted, doubled (and doubling faster) after a refused one.

Each step solves ``min ||r + J d||^2 + mu ||D d||^2`` through the singular values of ``J D^-1`` (a QR
factorisation, then the SVD of its triangle, once per Jacobian; every trial ``mu`` then costs a few
matrix-vector products), never through the normal equations ``J^T J``, whose condition number is the
square of ``J``'s: a network's Jacobian is ill conditioned (1e8 and more), and the normal equations
would stop the run far above round-off.
"""

from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import numpy as np

from msnn_tf.validation import non_negative_int, positive_finite, positive_int

__all__ = ["LevenbergMarquardtResults", "levenberg_marquardt_minimize"]


class LevenbergMarquardtResults(NamedTuple):
    """Outcome of :func:`levenberg_marquardt_minimize` (immutable).

    Attributes:
        position: The best position found (the method is monotone: the last accepted step), float64.
        objective_value: ``sum(rows^2)`` at ``position``.
        initial_value: ``sum(rows^2)`` at the start.
        num_iterations: Jacobians computed (one per accepted step, plus the first).
        num_trials: Row evaluations of trial steps (accepted and refused).
        damping: The damping ``mu`` at the end.
        failed: The rows became non-finite at the start (the start is returned).
        losses: Objective after each iteration.
        times: Seconds since the start after each iteration.
        message: Why the run stopped.
        wall_time: Seconds spent, compilation included.
    """

    position: np.ndarray
    objective_value: float
    initial_value: float
    num_iterations: int
    num_trials: int
    damping: float
    failed: bool
    losses: np.ndarray
    times: np.ndarray
    message: str
    wall_time: float


def levenberg_marquardt_minimize(rows_and_jacobian: Callable, rows: Callable, initial_position,
                                 max_iterations: int = 100, initial_damping: float = 1e-6,
                                 min_gain: float = 1.05, patience: int = 3, max_trials: int = 12,
                                 callback: Callable | None = None, time_limit: float | None = None
                                 ) -> LevenbergMarquardtResults:
    """Minimises ``sum(rows(theta)^2)`` by Levenberg-Marquardt steps.

    Args:
        rows_and_jacobian: ``theta -> (rows (M,), Jacobian (M, P))``, NumPy float64 (or convertible).
        rows: ``theta -> rows (M,)``, for the trial steps (cheaper than the Jacobian).
        initial_position: Starting vector ``(P,)``.
        max_iterations: Jacobians at most (0 returns the start with its value).
        initial_damping: ``mu`` at the start, relative to the Marquardt scaling (``D = ||J_:,j||``, so that
            ``mu`` compares with the squared singular values of ``J D^-1``, at most the number of columns):
            the step is the Gauss-Newton step for ``mu -> 0``, a short scaled gradient step for large ``mu``.
        min_gain: The run stops after ``patience`` iterations in a row that each lowered the objective by
            less than this factor: it has reached what the rows' rounding allows.
        patience: See ``min_gain``.
        max_trials: Refused trial steps in a row (``mu`` doubling faster each time) before the run stops.
        callback: ``callback(iteration, objective_value, elapsed_seconds)`` after each iteration; returning
            ``True`` stops the run there.
        time_limit: Stop after the first iteration that ends past this many seconds.

    Raises:
        ValueError: on a negative ``max_iterations``, a ``min_gain`` not above 1 or non-positive sizes.
    """
    max_iterations = non_negative_int("max_iterations", max_iterations)
    patience = positive_int("patience", patience)
    max_trials = positive_int("max_trials", max_trials)
    initial_damping = positive_finite("initial_damping", initial_damping)
    if not (math.isfinite(float(min_gain)) and min_gain > 1):
        raise ValueError(f"`min_gain` must be a finite number above 1, got {min_gain!r}")
    start = time.perf_counter()
    theta = np.asarray(initial_position, dtype=np.float64).reshape(-1).copy()
    r, jac = (np.asarray(a, dtype=np.float64) for a in rows_and_jacobian(theta))
    value = float(r @ r)
    initial_value = value
    losses, times = [], []
    if not math.isfinite(value) or not np.all(np.isfinite(jac)):
        return LevenbergMarquardtResults(theta, value, value, 1, 0, initial_damping, True, np.zeros(0),
                                         np.zeros(0), "non-finite rows or Jacobian at the start; returned it",
                                         time.perf_counter() - start)
    mu, nu = initial_damping, 2.0
    iteration, trials, slow, refused = 1, 0, 0, 0
    message = f"reached max_iterations={max_iterations}"
    while iteration <= max_iterations:
        if value == 0.0:
            message = "the rows vanish"
            break
        scale = np.linalg.norm(jac, axis=0)
        scale = np.maximum(scale, 1e-12 * max(float(scale.max()), 1e-300))
        # J D^-1 = Q R = Q U S V^T: one QR and one SVD per Jacobian, then each trial mu costs O(P^2).
        q, r_factor = np.linalg.qr(jac / scale, mode="reduced")
        u_svd, s_svd, vt_svd = np.linalg.svd(r_factor, full_matrices=False)
        rhs = -(u_svd.T @ (q.T @ r))
        residual_out = max(value - float(rhs @ rhs), 0.0)  # part of ||r||^2 outside J's range
        accepted = False
        while not accepted:
            filtered = s_svd / (s_svd**2 + mu) * rhs
            step = (vt_svd.T @ filtered) / scale
            predicted_rows = rhs - s_svd * filtered
            predicted = value - (residual_out + float(predicted_rows @ predicted_rows))
            trial = theta + step
            r_trial = np.asarray(rows(trial), dtype=np.float64)
            trials += 1
            value_trial = float(r_trial @ r_trial)
            actual = value - value_trial
            if math.isfinite(value_trial) and actual > 0 and predicted > 0:
                rho = actual / predicted
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                accepted = True
            else:
                mu *= nu
                nu *= 2.0
                refused += 1
                if refused >= max_trials:
                    break
        if not accepted:
            message = (f"stopped after {iteration} iterations: {max_trials} trial steps in a row did not lower the "
                       f"objective ({value:.3e}, damping {mu:.1e})")
            break
        refused = 0
        slow = slow + 1 if value < min_gain * value_trial else 0
        theta = trial
        value = value_trial
        losses.append(value)
        times.append(time.perf_counter() - start)
        if callback is not None and callback(iteration, value, times[-1]) is True:
            message = f"stopped by the callback after {iteration} iterations"
            break
        if slow >= patience:
            message = (f"stopped after {iteration} iterations: the last {patience} each lowered the objective by less "
                       f"than a factor {min_gain:g} ({value:.3e})")
            break
        if time_limit is not None and times[-1] >= time_limit:
            message = f"time_limit={time_limit} s reached after {iteration} iterations"
            break
        if iteration == max_iterations:
            break
        r, jac = (np.asarray(a, dtype=np.float64) for a in rows_and_jacobian(theta))
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jac))):
            message = f"non-finite Jacobian after {iteration} iterations; kept the last finite position"
            break
        value = float(r @ r)
        iteration += 1
    return LevenbergMarquardtResults(theta, value, initial_value, iteration, trials, mu, False, np.asarray(losses),
                                     np.asarray(times), message, time.perf_counter() - start)
