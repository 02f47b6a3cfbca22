"""Neumann, Robin, periodic and operator conditions: their rows against analytic derivatives, their
linearisation, bad input, and a solved stage that meets them."""

import math

import numpy as np
import pytest
import tensorflow as tf

from msnn_tf import pinn
from msnn_tf.derivatives import partial_derivatives
from msnn_tf.pinn.stage_loss import OperatorPoints, linearize_condition

SQUARE = pinn.Rectangle([0.0, -1.0], [1.0, 1.0])


def poisson(conditions, domain=SQUARE):
    return pinn.Problem(domain=domain, residual=lambda x, u, d: d["xx"] + d["yy"], derivatives=["xx", "yy"],
                        conditions=conditions)


def trial(x):
    """``u = sin(1.3 x + 0.2) exp(0.7 y)`` as a TensorFlow function."""
    return tf.sin(1.3 * x[:, :1] + 0.2) * tf.exp(0.7 * x[:, 1:2])


def trial_gradient(x):
    u = np.sin(1.3 * x[:, 0] + 0.2) * np.exp(0.7 * x[:, 1])
    return np.stack([1.3 * np.cos(1.3 * x[:, 0] + 0.2) * np.exp(0.7 * x[:, 1]), 0.7 * u], axis=1), u


def mismatch_of(problem, rows, function=trial):
    xs = [tf.constant(p) for p in rows.points]
    partials = [partial_derivatives(function, x, [dict(enumerate(k)) for k in rows.keys], problem.domain.axis_names)
                for x in xs]
    return rows.mismatch(xs, partials).numpy()


def outward_normals(x, domain):
    normals = np.zeros_like(x)
    for axis in range(domain.dim):
        normals[np.isclose(x[:, axis], domain.lower[axis]), axis] = -1.0
        normals[np.isclose(x[:, axis], domain.upper[axis]), axis] = 1.0
    return normals


def test_neumann_rows_are_the_outward_normal_derivative_minus_the_data():
    # g = 0: the mismatch is n . grad u itself, to 1e-14 of the analytic derivative.
    problem = poisson([pinn.DirichletBoundary(lambda x: np.zeros(len(x)), faces=[(0, 0)]),
                       pinn.NeumannBoundary(lambda x: np.zeros(len(x)), points_per_face=30, faces=[(0, 1), (1, 0), (1, 1)])])
    (rows,) = problem.operator_rows(seed=3)
    x = rows.points[0]
    assert x.shape == (90, 2)
    gradient, _ = trial_gradient(x)
    expected = np.sum(outward_normals(x, SQUARE) * gradient, axis=1)
    np.testing.assert_allclose(mismatch_of(problem, rows)[:, 0], expected, rtol=0, atol=1e-14)
    # g = the exact normal derivative: the mismatch vanishes (to 1e-14).
    exact = pinn.NeumannBoundary(lambda p: np.sum(outward_normals(p, SQUARE) * trial_gradient(p)[0], axis=1),
                                 points_per_face=30, faces=[(0, 1), (1, 0), (1, 1)])
    (rows,) = poisson([pinn.DirichletBoundary(lambda p: np.zeros(len(p)), faces=[(0, 0)]), exact]).operator_rows(seed=3)
    assert np.max(np.abs(mismatch_of(problem, rows))) < 1e-14


def test_robin_rows_and_their_linearisation():
    problem = poisson([pinn.RobinBoundary(2.0, -0.5, lambda x: np.ones(len(x)), points_per_face=20)])
    (rows,) = problem.operator_rows(seed=1)
    x = rows.points[0]
    gradient, u = trial_gradient(x)
    normals = outward_normals(x, SQUARE)
    expected = 2.0 * u - 0.5 * np.sum(normals * gradient, axis=1) - 1.0
    np.testing.assert_allclose(mismatch_of(problem, rows)[:, 0], expected, rtol=0, atol=1e-14)
    # The linearisation: d mismatch / d u = alpha, d mismatch / d u_axis = beta n_axis (exact, it is linear).
    xs = tuple(tf.constant(p) for p in rows.points)
    frozen = tuple(partial_derivatives(trial, p, [dict(enumerate(k)) for k in rows.keys]).values for p in xs)
    state = OperatorPoints(rows, xs, frozen, tf.ones((len(x), 1), tf.float64))
    values, betas = linearize_condition(state, 2, SQUARE.axis_names)
    np.testing.assert_allclose(values[:, 0], expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(betas[(0, (0, 0))][:, 0], 2.0)
    np.testing.assert_array_equal(betas[(0, (1, 0))][:, 0], -0.5 * normals[:, 0])
    np.testing.assert_array_equal(betas[(0, (0, 1))][:, 0], -0.5 * normals[:, 1])


def periodic_heat(points_per_face):
    """``u_t = u_xx`` on [0, 1] x [0, 1/2], periodic in x."""
    return pinn.Problem(domain=pinn.SpaceTimeBox(0.0, 1.0, 0.0, 0.5), residual=lambda x, u, d: d["t"] - d["xx"],
                        derivatives=["t", "xx"], conditions=[pinn.InitialCondition(lambda x: np.sin(2 * np.pi * x[:, 0])),
                                                             pinn.PeriodicBoundary("x", points_per_face=points_per_face)])


def test_periodic_rows_match_values_and_derivatives_across_the_faces():
    problem = periodic_heat(25)
    (rows,) = problem.operator_rows(seed=0)
    lower, upper = rows.points
    np.testing.assert_array_equal(lower[:, 0], 0.0)
    np.testing.assert_array_equal(upper[:, 0], 1.0)
    np.testing.assert_array_equal(lower[:, 1], upper[:, 1])
    # Orders matched by default: u and u_x (the residual is second order in x).
    periodic = lambda x: tf.sin(2 * math.pi * x[:, :1] + 0.3) * tf.exp(-x[:, 1:2])
    assert np.max(np.abs(mismatch_of(problem, rows, periodic))) < 1e-13
    # A non-periodic u: the mismatch is (u(0, t) - u(1, t), u_x(0, t) - u_x(1, t)) analytically.
    values = mismatch_of(problem, rows, lambda x: x[:, :1] ** 3 * (1.0 + x[:, 1:2]))
    t = lower[:, 1]
    np.testing.assert_allclose(values, np.stack([-(1 + t), -3 * (1 + t)], axis=1), rtol=0, atol=1e-14)
    assert problem.open_faces() == [(1, 1)]  # only the final time


def test_operator_condition_rows():
    points = np.array([[0.0, -0.5], [0.0, 0.25], [0.5, 1.0]])
    condition = pinn.OperatorCondition(lambda x, u, d: d["x"] + u**2, points, ["x"], values=np.ones(3))
    problem = poisson([pinn.DirichletBoundary(lambda x: np.zeros(len(x))), condition])
    (rows,) = problem.operator_rows()
    gradient, u = trial_gradient(points)
    np.testing.assert_allclose(mismatch_of(problem, rows)[:, 0], gradient[:, 0] + u**2 - 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("make, message", [
    (lambda: pinn.NeumannBoundary(lambda x: np.zeros(len(x)), faces=[(0, 2)]), r"`faces`.*side 0 or 1.*\(0, 2\)"),
    (lambda: pinn.RobinBoundary(1.0, 0.0, lambda x: x, faces=[(-1, 0)]), r"`faces`.*axis >= 0.*\(-1, 0\)"),
    (lambda: pinn.NeumannBoundary(np.zeros(3)), r"`function` must be callable"),
    (lambda: pinn.RobinBoundary(1.0, 1.0, "g"), r"`function` must be callable"),
    (lambda: pinn.RobinBoundary(0.0, 0.0, lambda x: x), r"`alpha` and `beta` must not both be 0"),
    (lambda: pinn.RobinBoundary(float("nan"), 1.0, lambda x: x), r"`alpha` must be a finite number, got nan"),
    (lambda: pinn.PeriodicBoundary(-1), r"`axis` must be an axis index >= 0 or an axis name, got -1"),
    (lambda: pinn.PeriodicBoundary(0, orders=[]), r"`orders` must be non-negative integers"),
    (lambda: pinn.OperatorCondition(None, [[0.0, 0.0]], ["x"]), r"`operator` must be callable"),
    (lambda: pinn.OperatorCondition(lambda x, u, d: u, np.zeros((0, 2)), []), r"`points` must have shape \(N, d\)"),
])
def test_bad_condition_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("condition, message", [
    (pinn.NeumannBoundary(lambda x: np.zeros(len(x)), faces=[(2, 0)]), r"NeumannBoundary: face \(2, 0\) needs axis < 2"),
    (pinn.RobinBoundary(1.0, 1.0, lambda x: np.zeros(len(x)), faces=[(3, 1)]), r"RobinBoundary: face \(3, 1\) needs axis < 2"),
    (pinn.PeriodicBoundary("z"), r"PeriodicBoundary: axis 'z' is not one of the domain's axes"),
    (pinn.PeriodicBoundary(2), r"PeriodicBoundary: axis 2 needs axis < 2"),
    (pinn.NeumannBoundary(lambda x: np.zeros((len(x), 2))), r"`NeumannBoundary.function\(x\)` must have shape \(400, 1\), got shape \(400, 2\)"),
    (pinn.RobinBoundary(1.0, 1.0, lambda x: np.full(len(x), np.nan)), r"`RobinBoundary.function\(x\)` must be finite"),
    (pinn.RobinBoundary(1.0, 1.0, lambda x: np.zeros(3)), r"`RobinBoundary.function\(x\)` must have shape \(400, 1\), got shape \(3, 1\)"),
    (pinn.OperatorCondition(lambda x, u, d: tf.concat([u, u], axis=1), [[0.5, 0.0]], [], values=np.ones(1)),
     r"OperatorCondition: the operator returns 2 column\(s\) but `values` has 1"),
    (pinn.OperatorCondition(lambda x, u, d: d["y"], [[0.5, 0.0]], ["x"]), r"OperatorCondition: derivative 'y'.*was not requested"),
    (pinn.OperatorCondition(lambda x, u, d: u, [[0.5, 0.0], [0.2, 0.1]], [], values=np.ones(3)),
     r"`OperatorCondition.values` must have shape \(2, k\), got shape \(3,\)"),
    (pinn.OperatorCondition(lambda x, u, d: u, [[2.5, 0.0]], []), r"`OperatorCondition.points` has points outside the domain"),
])
def test_bad_conditions_fail_when_the_problem_is_built(condition, message):
    with pytest.raises(ValueError, match=message):
        poisson([pinn.DirichletBoundary(lambda x: np.zeros(len(x)), faces=[(0, 0)]), condition])


def test_a_solved_stage_meets_neumann_and_robin_ends():
    # u'' = -pi^2 sin(pi x) ... with u = sin(pi x) + x^2 / 2 + e^x / 4 on [0, 1]:
    # u'(0) = pi + 1/4 (Neumann at x = 0, outward normal -1 so g = -(pi + 1/4)), u + u'(1) at x = 1 (Robin).
    u = lambda x: np.sin(np.pi * x) + 0.5 * x**2 + 0.25 * np.exp(x)
    du = lambda x: np.pi * np.cos(np.pi * x) + x + 0.25 * np.exp(x)
    problem = pinn.Problem(
        domain=pinn.Interval(0.0, 1.0),
        residual=lambda x, v, d: d["xx"] - (-np.pi**2 * tf.sin(np.pi * x) + 1.0 + 0.25 * tf.exp(x)),
        derivatives=["xx"],
        conditions=[pinn.NeumannBoundary(lambda x: -du(x[:, 0]), faces=[(0, 0)]),
                    pinn.RobinBoundary(1.0, 1.0, lambda x: u(x[:, 0]) + du(x[:, 0]), faces=[(0, 1)])],
        exact=lambda x: u(x))
    # Stage 0 without XLA: compiling costs more than its 600 steps.
    solver = pinn.MultiStagePINN(problem, adam_steps=300, lbfgs_iterations=300, verbose=0, jit_compile=False)
    history = solver.fit(num_stages=3)
    assert history.stages[1].accepted
    assert history.stages[0].true_rms > 1e-6
    x = np.linspace(0.0, 1.0, 1001)[:, None]
    error = np.max(np.abs(solver.predict(x) - u(x)))
    assert error < 1e-11, error  # tolerance: max error on 1001 points, 1e-11 (measured ~1e-14)


def test_least_squares_rows_of_a_periodic_pair_are_the_feature_differences():
    # The solved stage's rows of u(0, t) = u(1, t), u_x(0, t) = u_x(1, t): for each matched order the
    # features' derivative on the lower face minus that on the upper face, times sqrt(weight / count).
    from msnn_tf.pinn.linearized import _linearized_operators, _operator_blocks

    problem = periodic_heat(7)
    domain = problem.domain
    (rows,) = problem.operator_rows(seed=0)
    xs = tuple(tf.constant(p) for p in rows.points)
    frozen = tuple(partial_derivatives(trial, p, [dict(enumerate(k)) for k in rows.keys]).values for p in xs)
    state = OperatorPoints(rows, xs, frozen, tf.ones((7, 1), tf.float64))
    (operator,) = _linearized_operators([state], 2, domain.axis_names, lambda x: x)
    rng = np.random.default_rng(0)
    table = {}

    def columns(h, key):  # any fixed feature values per (point, key): random, remembered
        table.setdefault((h.tobytes(), key), rng.normal(size=(len(h), 5)))
        return table[(h.tobytes(), key)]

    blocks, rhs = _operator_blocks([operator], columns, 0.25, 100)
    assert len(blocks) == 2  # orders 0 and 1
    lower, upper = (p for p in rows.points)
    for block, key in zip(blocks, [(0, 0), (1, 0)]):
        expected = np.sqrt(0.25 / 100) * (columns(lower, key) - columns(upper, key))
        np.testing.assert_allclose(block, expected, rtol=0, atol=1e-15)
    u_lower, u_upper = (trial(tf.constant(p)).numpy()[:, 0] for p in (lower, upper))
    np.testing.assert_allclose(rhs[0], -np.sqrt(0.25 / 100) * (u_lower - u_upper), rtol=0, atol=1e-15)
