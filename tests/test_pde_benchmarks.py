"""The PDE test set (msnn_tf.pinn.benchmarks): each exact solution solves its equation and conditions.

The exact solutions are NumPy functions, so the check differentiates them by central differences of
order 8 (9-point stencils, step h = 1e-2: truncation ~1e-11 on these solutions) and feeds those
derivatives to the residual and to the operator conditions' mismatch."""

import numpy as np
import pytest
import tensorflow as tf

from msnn_tf.derivatives import Partials
from msnn_tf.pinn import benchmarks

# Central-difference weights of order 8 for the first and second derivative.
FIRST = np.array([1 / 280, -4 / 105, 1 / 5, -4 / 5, 0.0, 4 / 5, -1 / 5, 4 / 105, -1 / 280])
SECOND = np.array([-1 / 560, 8 / 315, -1 / 5, 8 / 5, -205 / 72, 8 / 5, -1 / 5, 8 / 315, -1 / 560])


def finite_difference_partials(exact, domain, keys, x, h=1e-2):
    """``u`` and the derivatives ``keys`` (pure first or second derivatives) of ``exact`` at ``x``."""
    d = domain.dim
    values = {(0,) * d: exact(x)}
    for key in keys:
        if sum(key) == 0:
            continue
        axis = int(np.argmax(key))
        if sum(key) != key[axis] or key[axis] > 2:
            raise AssertionError(f"the test differentiates pure first and second derivatives only, got {key}")
        weights = FIRST if key[axis] == 1 else SECOND
        total = 0.0
        for offset, weight in zip(range(-4, 5), weights):
            shifted = x.copy()
            shifted[:, axis] += offset * h
            total = total + weight * exact(shifted)
        values[key] = total / h ** key[axis]
    return Partials({k: tf.constant(v) for k, v in values.items()}, d, domain.axis_names)


@pytest.mark.parametrize("name", sorted(benchmarks.BENCHMARKS))
def test_exact_solution_solves_the_equation(name):
    problem = benchmarks.BENCHMARKS[name]()
    rng = np.random.default_rng(0)
    domain = problem.domain
    x = domain.lower + (domain.upper - domain.lower) * (0.1 + 0.8 * rng.uniform(size=(200, domain.dim)))
    partials = finite_difference_partials(problem.exact, problem.domain, problem.orders, x)
    residual = problem.residual_values(tf.constant(x), partials).numpy()
    scale = max(float(np.max(np.abs(v.numpy()))) for v in partials.values.values())
    # tolerance: the 9-point stencils' truncation and round-off at h = 1e-2, 1e-9 of the largest term
    assert np.max(np.abs(residual)) < 1e-9 * scale, (name, np.max(np.abs(residual)))


@pytest.mark.parametrize("name", sorted(benchmarks.BENCHMARKS))
def test_exact_solution_meets_the_conditions(name):
    problem = benchmarks.BENCHMARKS[name]()
    x, y = problem.condition_data(seed=0)
    if len(x):
        np.testing.assert_allclose(problem.exact(x), y, rtol=0, atol=1e-15)
    for rows in problem.operator_rows(seed=0):
        xs = [tf.constant(p) for p in rows.points]
        partials = [finite_difference_partials(problem.exact, problem.domain, rows.keys, points.copy())
                    for points in rows.points]
        mismatch = rows.mismatch(xs, partials).numpy()
        # tolerance: first derivatives by 9-point stencils, 1e-9 absolute on O(1) solutions
        assert np.max(np.abs(mismatch)) < 1e-9, (name, rows.name, np.max(np.abs(mismatch)))


def test_goals_cover_every_problem():
    assert set(benchmarks.GOALS) == set(benchmarks.BENCHMARKS)


#: Problems whose goal the defaults do not reach yet (docs/pde_suite.md): none since solved stages may
#: rescale the frozen ones (heat 6.5e-15, advection-diffusion 7.0e-14, 3-D Poisson 1.3e-15, measured).
NOT_REACHED: set = set()


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="floor left, see docs"))
                                  if n in NOT_REACHED else n for n in benchmarks.BENCHMARKS])
def test_defaults_reach_the_goal(name):
    """Issue 18's acceptance with every setting at its default: RMS error on a cell-centred grid off the
    collocation points at most the problem's goal (1e-13 in 2-D, 1e-12 Burgers, 1e-10 3-D)."""
    import msnn_tf as msnn

    problem = benchmarks.BENCHMARKS[name]()
    solver = msnn.MultiStagePINN(problem, verbose=0)
    solver.fit()
    per_axis = 200 if problem.domain.dim == 2 else 40
    axes = [lo + (np.arange(per_axis) + 0.5) * (hi - lo) / per_axis
            for lo, hi in zip(problem.domain.lower, problem.domain.upper)]
    x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, problem.domain.dim)
    error = problem.exact(x) - solver.predict(x)
    assert np.sqrt(np.mean(error**2)) <= benchmarks.GOALS[name]
