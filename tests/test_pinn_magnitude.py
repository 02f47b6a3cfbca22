import math

import numpy as np
import pytest
import tensorflow as tf

from msnn_tf import pinn


def poisson(source):
    """Eq. (3.20): u_xx + u_yy = s on [-1, 1]^2, zero boundary."""
    return pinn.Problem(pinn.Rectangle([-1, -1], [1, 1]), lambda x, u, d: d["xx"] + d["yy"] - source(x), ["xx", "yy"],
                        [pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=10)])


def source(x):
    return -tf.sin(6 * math.pi * x[:, :1]) * tf.sin(6 * math.pi * x[:, 1:])


def test_algorithm_2_recovers_the_exact_magnitude_of_3_21():
    estimate = pinn.solution_magnitude(poisson(source), source, num_points=121)  # grid through the peaks of s
    exact_amplitude = 1.0 / (2 * (6 * math.pi) ** 2)  # eq. (3.21): 1.407e-3
    # Linear operator: R = alpha * 2 (6 pi)^2 exactly, so the amplitude is exact (tolerance 1e-9 relative).
    assert estimate.alpha == pytest.approx(exact_amplitude, rel=1e-9)
    assert estimate.epsilon_max == pytest.approx(exact_amplitude, rel=1e-9)
    grid = np.linspace(-1, 1, 121)
    s = source(tf.constant(np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)))
    assert estimate.epsilon == pytest.approx(exact_amplitude * float(np.sqrt(np.mean(s.numpy() ** 2))), rel=1e-9)
    assert estimate.ratio == pytest.approx(1.0, rel=1e-3) and estimate.iterations == 1


def test_paper_rule_stops_inside_the_band():
    estimate = pinn.solution_magnitude(poisson(source), source, num_points=31, learning_rate=0.3, target=None)
    assert 0.1 < estimate.ratio < 10 and estimate.iterations >= 1
    assert all(r >= 10 for r in estimate.ratios[:-1])


def test_zero_source_is_rejected():
    zero = lambda x: tf.zeros_like(x[:, :1])  # noqa: E731
    with pytest.raises(ValueError, match="source vanishes"):
        pinn.solution_magnitude(poisson(zero), zero, num_points=11)
