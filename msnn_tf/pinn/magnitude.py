"""Algorithm 2 of the paper: the magnitude of the solution of a linear equation with a high-frequency source.

For ``N[x, u] = s(x)`` with zero boundary conditions, the guess ``u_s = alpha s`` (eq. 3.23) is
substituted, ``N_s = r(x, u_s) + s`` (eq. 3.25) is computed, and ``alpha <- alpha / R^eta`` with
``R = ||N_s|| / ||s||`` (eq. 3.27) until ``0.1 < R < 10`` (eq. 3.26); then ``eps = alpha * RMS(s)``
(eq. 3.28). For a linear operator ``R`` is proportional to ``alpha``, so ``eta = 1`` lands on
``R = 1`` in one step.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.pinn.problem import Problem
from msnn_tf.validation import positive_int

__all__ = ["MagnitudeEstimate", "solution_magnitude"]


@dataclasses.dataclass(frozen=True)
class MagnitudeEstimate:
    """Result of :func:`solution_magnitude`.

    Attributes:
        epsilon: ``alpha * RMS(s)`` (eq. 3.28): the RMS magnitude of the solution.
        epsilon_max: ``alpha * max|s|``: the amplitude of the solution.
        alpha: Final coefficient of the guess ``u_s = alpha s``.
        ratio: Final ``R(alpha)`` (eq. 3.26).
        iterations: Updates of ``alpha`` made.
        ratios: ``R`` at every iteration.
    """

    epsilon: float
    epsilon_max: float
    alpha: float
    ratio: float
    iterations: int
    ratios: tuple


def solution_magnitude(problem: Problem, source: Callable, num_points: int = 101, learning_rate: float = 1.0,
                       lower: float = 0.1, upper: float = 10.0, target: float | None = 1.0,
                       max_iterations: int = 100) -> MagnitudeEstimate:
    """Algorithm 2: magnitude of the solution of ``problem`` (linear, source ``s``, zero conditions).

    Args:
        problem: The equation; its residual must be ``N[x, u] - s(x)``.
        source: ``s(x)`` as a TensorFlow function of ``(N, d)`` points returning ``(N, 1)``.
        num_points: Uniform grid points per axis on which norms are taken.
        learning_rate: ``eta`` of eq. (3.27).
        lower: Lower bound of the criterion (3.26).
        upper: Upper bound of the criterion (3.26).
        target: If given, keep iterating until ``|log R| <= |log target| + 1e-3`` (``R`` within 0.1%
            of ``target``) instead of stopping at the first ``R`` inside ``(lower, upper)``: the
            criterion alone fixes the magnitude only within a factor 10. ``None``: the paper's rule.
        max_iterations: Cap on updates.

    Returns:
        A :class:`MagnitudeEstimate`.

    Raises:
        ValueError: on a source that vanishes on the grid or non-positive sizes.
    """
    num_points = positive_int("num_points", num_points)
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(f"`learning_rate` must be positive, got {learning_rate!r}")
    domain = problem.domain
    axes = [np.linspace(lo, hi, num_points) for lo, hi in zip(domain.lower, domain.upper)]
    x = tf.constant(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, domain.dim))
    s = source(x)
    s_norm = float(tf.norm(s))
    if not s_norm > 0:
        raise ValueError("the source vanishes on the grid: Algorithm 2 needs a non-zero source s(x)")
    alpha, ratios = 1.0, []
    for iteration in range(max_iterations + 1):
        a = tf.constant(alpha, tf.float64)
        partials = problem.partials(lambda points: a * source(points), x)
        operator = problem.residual_values(x, partials) + s  # eq. (3.25)
        ratio = float(tf.norm(operator)) / s_norm
        ratios.append(ratio)
        inside = lower < ratio < upper
        if inside and (target is None or abs(math.log(ratio / target)) <= 1e-3):
            break
        if iteration == max_iterations:
            break
        alpha = alpha / (ratio / (target or 1.0)) ** learning_rate  # eq. (3.27)
    s_values = s.numpy()
    return MagnitudeEstimate(epsilon=alpha * spectral.rms(s_values), epsilon_max=alpha * float(np.max(np.abs(s_values))),
                             alpha=alpha, ratio=ratios[-1], iterations=len(ratios) - 1, ratios=tuple(ratios))
