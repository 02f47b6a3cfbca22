"""Issue 19 (time to machine precision): the stop rule of trained stages, one-program L-BFGS, and the
``stage_solver="auto"`` defaults that solve 1-D regression and PINN stages >= 1.

Timings are never asserted here (they live in ``tools/bench_regression.py --profile``); the tests
check what the rules decide and the accuracy the defaults reach, with their tolerances stated.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf

import golden_runs
import msnn_tf as msnn
from msnn_tf.engine import PINNSettings, RegressionSettings
from msnn_tf.optimizers import block_gain_stalled


def slow_power_law(position):
    """``sum_i x_i^4``: Adam and L-BFGS slow down on it (the minimum is degenerate), so their loss
    keeps falling by shrinking factors, the regime the stop rule is for."""
    with tf.GradientTape() as tape:
        tape.watch(position)
        value = tf.reduce_sum(position**4)
    return value, tape.gradient(value, position)


START = tf.constant(np.linspace(0.5, 2.0, 6), tf.float64)


@pytest.mark.parametrize("before, after, stalled", [
    (1.0, 0.4, False), (1.0, 0.5, False), (1.0, 0.6, True), (1e-10, 0.0, True), (1.0, math.nan, False),
    (3.0, 3.0, True), (1.0, 2.0, True),
])
def test_block_gain_rule(before, after, stalled):
    """Stalled when ``before < 2 after`` (gain factor 2): 2.5x and exactly 2x continue, 1.67x stops."""
    assert block_gain_stalled(before, after, 2.0) is stalled


def test_lbfgs_gain_rule_stops_at_the_first_block_below_the_factor():
    """Every block before the last lowered the loss by >= 3x (the first from the initial value); the
    last by < 3x; fewer iterations than the cap (one program, as the engine runs it with the rule)."""
    result = msnn.lbfgs_minimize(slow_power_law, START, max_iterations=400, block_size=4, min_block_gain=3.0,
                                 single_program=True, jit_compile=False)
    losses = np.concatenate([[float(slow_power_law(START)[0])], result.losses])
    assert result.num_iterations < 400 and "lowered the objective by less than a factor 3" in result.message
    assert losses[-2] < 3.0 * losses[-1]
    assert np.all(losses[:-2] >= 3.0 * losses[1:-1])


def test_lbfgs_single_program_reaches_the_minimiser_like_two_programs():
    """Rosenbrock from (-1.2, 1), compiled as one program: (1, 1) to 1e-10 with an objective below
    1e-20, as ``test_lbfgs_rosenbrock_to_1e_10`` asks of the two-program run."""
    start = tf.constant([-1.2, 1.0], tf.float64)
    result = msnn.lbfgs_minimize(golden_rosenbrock, start, max_iterations=500, block_size=20, single_program=True)
    np.testing.assert_allclose(result.position.numpy(), [1.0, 1.0], rtol=0, atol=1e-10)
    assert result.objective_value < 1e-20 and not result.failed


def golden_rosenbrock(position):
    with tf.GradientTape() as tape:
        tape.watch(position)
        value = (1.0 - position[0]) ** 2 + 100.0 * (position[1] - position[0] ** 2) ** 2
    return value, tape.gradient(value, position)


def test_adam_gain_rule_compares_the_best_loss_of_consecutive_blocks():
    result = msnn.adam_minimize(slow_power_law, START, 5000, learning_rate=1e-2, block_size=50, min_block_gain=1.5,
                                jit_compile=False)
    assert result.num_steps < 5000 and "lowered the objective by less than a factor 1.5" in result.message
    best = np.minimum.accumulate(result.losses)
    block_best = best[np.asarray(result.block_steps) - 1]
    assert block_best[-2] < 1.5 * block_best[-1]
    assert np.all(np.concatenate([[result.losses[0]], block_best[:-2]]) >= 1.5 * block_best[:-1])


@pytest.mark.parametrize("kwargs, word", [
    (dict(min_block_gain=1.0), "min_block_gain"), (dict(min_block_gain=math.inf), "min_block_gain"),
    (dict(min_block_gain=2.0, resample=lambda step: None, resample_every=10), "resample"),
])
def test_adam_gain_rule_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.adam_minimize(slow_power_law, START, 10, **kwargs)


def test_lbfgs_gain_rule_bad_argument():
    with pytest.raises(ValueError, match="min_block_gain"):
        msnn.lbfgs_minimize(slow_power_law, START, min_block_gain=0.5)


@pytest.mark.parametrize("cls", [RegressionSettings, PINNSettings])
def test_stop_rule_settings(cls):
    """``auto`` uses the gain rule only when ``stage_solver="auto"`` solves the later stages."""
    assert cls().uses_gain_rule(True) and not cls().uses_gain_rule(False)
    assert not cls(stage_solver="adam_lbfgs").uses_gain_rule(True)
    assert not cls(stage_solver="least_squares").uses_gain_rule(True)
    assert cls(stop_rule="gain", stage_solver="adam_lbfgs").uses_gain_rule(False)
    assert not cls(stop_rule="budget").uses_gain_rule(True)
    assert cls().block_gain(True) == 2.0 and cls().block_gain(False) is None
    assert cls(stop_rule="gain", min_block_gain=3.0).block_gain(False) == 3.0
    for name, value in (("stop_rule", "fast"), ("min_block_gain", 1.0), ("min_block_gain", math.nan)):
        with pytest.raises(ValueError, match=f"`{name}`"):
            cls(**{name: value})


def test_regressor_defaults_solve_1d_stages_and_stop_at_round_off():
    """1500 samples of the benchmark target, every setting default but smaller budgets: stage 0 is
    trained (tanh), stage 1 is solved and reaches round-off, where training stops. Evaluation RMS on
    4001 points off the data <= 1e-14, max <= 1e-13."""
    x = np.linspace(-1.0, 1.0, 1500)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 4001)[:, None] + 1e-4 / 3
    x_eval = np.clip(x_eval, -1.0, 1.0)
    regressor = msnn.MultiStageRegressor(adam_steps=2000, lbfgs_iterations=3000, verbose=0)
    history = regressor.fit(x, golden_runs.target(x), num_stages=4)
    error = golden_runs.target(x_eval) - regressor.predict(x_eval)
    assert [s.first_activation for s in history.stages][:2] == ["tanh", "sin"]
    assert history.stages[1].depth == 1 and history.stages[1].lbfgs_iterations == 0  # solved, not trained
    assert float(np.sqrt(np.mean(error**2))) <= 1e-14 and float(np.max(np.abs(error))) <= 1e-13
    assert "round-off reached" in history.message


def test_regressor_auto_trains_1d_stages_from_few_samples():
    """200 samples allow 50 features at four points each, below ``min_least_squares_features`` 64:
    stage 1 is trained (3 hidden layers); with the threshold at 40 it is solved."""
    x = np.linspace(-1.0, 1.0, 200)[:, None]
    small = dict(width=8, adam_steps=50, lbfgs_iterations=0, verbose=0)
    trained = msnn.MultiStageRegressor(**small)
    solved = msnn.MultiStageRegressor(min_least_squares_features=40, **small)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 50 Adam steps may not improve on stage 0
        trained.fit(x, golden_runs.target(x), num_stages=2)
        solved.fit(x, golden_runs.target(x), num_stages=2)
    assert trained.history.stages[1].depth == 3 and solved.history.stages[1].depth == 1


def test_pinn_defaults_solve_later_stages():
    """Eq. (3.3) with the defaults but a short stage 0: stages >= 1 are solved and the error against
    e^x - x - 1 on 2001 points is <= 1e-14 RMS."""
    solver = msnn.MultiStagePINN(golden_runs.ode_problem(), adam_steps=1000, lbfgs_iterations=1000, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a last stage at round-off may be discarded
        history = solver.fit(num_stages=2)
    assert history.stages[1].lbfgs_iterations == 0 and history.stages[1].adam_steps == 0
    assert solver.objective.later_stages_solved
    x = np.linspace(-1.0, 1.0, 2001)[:, None]
    error = golden_runs.ode_problem().exact(x) - solver.predict(x)
    assert float(np.sqrt(np.mean(error**2))) <= 1e-14


def test_pinn_auto_trains_where_the_solve_does_not_apply():
    """Two outputs: no least-squares stage, so ``auto`` trains every stage (and keeps the budgets)."""
    problem = msnn.pinn.Problem(
        msnn.pinn.Interval(-1.0, 1.0), lambda x, u, d: tf.concat([d["x"][:, :1] - u[:, 1:], d["x"][:, 1:] + u[:, :1]], 1),
        ["x"], [msnn.pinn.PointValues([[0.0]], [[0.0, 1.0]])], output_dim=2)
    solver = msnn.MultiStagePINN(problem, verbose=0)
    assert not solver.objective.later_stages_solved
    assert not solver.settings.uses_gain_rule(solver.objective.later_stages_solved)


@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_mse_objective_equals_the_one_block_loss(weighted):
    """100 rows in blocks of 7 (the last padded with weight-0 rows): loss and gradient equal the
    one-block ones to 1e-13 relative (summation order only), with and without point weights."""
    from msnn_tf.regression import mse_objective

    x = np.linspace(-1.0, 1.0, 100)[:, None]
    y = golden_runs.target(x)
    weights = np.linspace(0.5, 2.0, 100)[:, None] if weighted else None
    network = msnn.build_stage_network(1, width=6, depth=2, seed=3)
    whole, flat = mse_objective(network, x, y, weights)
    blocked, _ = mse_objective(network, x, y, weights, block_rows=7)
    (loss, gradient), (loss_b, gradient_b) = whole(flat.pack()), blocked(flat.pack())
    np.testing.assert_allclose(float(loss_b), float(loss), rtol=1e-13)
    np.testing.assert_allclose(gradient_b.numpy(), gradient.numpy(), rtol=1e-13, atol=1e-13 * float(tf.reduce_max(tf.abs(gradient))))
    with pytest.raises(ValueError, match="block_rows"):
        mse_objective(network, x, y, block_rows=0)
