"""Algorithm 3 (equation weight by pre-training), resampling and first-stage settings of MultiStagePINN."""

import math

import numpy as np
import pytest
import tensorflow as tf

import msnn_tf as msnn
from msnn_tf import pinn


def test_convergence_ratio_eqs_3_34_to_3_36():
    steps = np.arange(100, dtype=float)
    history = np.stack([10.0 ** (-steps / 20), 10.0 ** (-steps / 50)], axis=1)
    c_d, c_e, ratio = pinn.convergence_ratio(history)
    # L^(0): largest of the first 10 steps (the first one here); L^(m): smallest of the last 10 (the last).
    assert c_d == pytest.approx(10.0 ** (99 / 20), rel=1e-12)
    assert c_e == pytest.approx(10.0 ** (99 / 50), rel=1e-12)
    assert ratio == pytest.approx(c_d / c_e, rel=1e-12)
    with pytest.raises(ValueError, match="history"):
        pinn.convergence_ratio(np.ones((5, 3)))


def test_pretraining_finds_the_weight_that_balances_the_rates():
    """L_d = p^2, L_e = (p - 1)^2 from p = -1: the weighted minimum is p* = gamma, so
    R_c = C_d / C_e = (1 - gamma)^2 / (4 gamma^2), inside (0.1, 10) for 0.137 < gamma < 0.613."""

    def build(gamma):
        def value_and_gradients(p):
            with tf.GradientTape() as tape:
                tape.watch(p)
                loss = (1 - gamma) * p[0] ** 2 + gamma * (p[0] - 1.0) ** 2
            return loss, tape.gradient(loss, p)

        return value_and_gradients, lambda p: (p[0] ** 2, (p[0] - 1.0) ** 2), tf.constant([-1.0], tf.float64)

    search = pinn.pretrain_equation_weight(build, initial_gamma=0.01, pretrain_steps=400, learning_rate=0.05,
                                           jit_compile=False)
    assert search.converged and 0.137 < search.gamma < 0.613, search.rounds
    first_gamma, _, _, first_ratio = search.rounds[0]
    # After 400 steps p is at its minimum to ~1e-3 relative: R_c within 5% of the formula.
    assert first_ratio == pytest.approx((1 - first_gamma) ** 2 / (4 * first_gamma**2), rel=0.05)
    assert search.gamma == pytest.approx(first_gamma * first_ratio**0.5, rel=1e-12)  # update (3.37), eta = 0.5
    assert len(search.histories) == len(search.rounds) and search.histories[0].shape == (400, 2)
    with pytest.raises(ValueError, match="initial_gamma"):
        pinn.pretrain_equation_weight(build, initial_gamma=1.5)
    with pytest.raises(ValueError, match="bounds"):
        pinn.pretrain_equation_weight(build, bounds=(10.0, 0.1))


def ode_problem():
    return pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - (u + x), ["x"],
                        [pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)


@pytest.fixture(scope="module")
def one_stage():
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=300, lbfgs_iterations=200, verbose=0, seed=1,
                                 stage_solver="adam_lbfgs",  # trained stages: their networks are built by the plan
                                 jit_compile=False)  # compiling costs more than these 500 steps
    solver.fit(num_stages=1)
    return solver


def test_resampling_draws_new_points_and_recomputes_frozen_stages(one_stage):
    one_stage.objective.plan_stage(1)
    work = one_stage.objective.work
    before = work.collocation.numpy().copy()
    work.resample()
    after = work.collocation.numpy()
    assert after.shape == before.shape and np.all(np.abs(after) <= 1.0)
    assert np.min(np.abs(np.sort(after[:-2, 0]) - np.sort(before[:-2, 0]))) > 0  # every interior point moved
    expected = one_stage.objective.analyzer.model_partials(tf.constant(after), work.keys)
    for key, variable in work.frozen_values.items():
        # Tolerance 1e-14 absolute: the same computation, eager in both cases.
        np.testing.assert_allclose(variable.numpy(), expected.values[key].numpy(), rtol=0, atol=1e-14)


def test_stage_above_the_estimate_starts_at_the_estimate(one_stage):
    """A hand-set epsilon 1e-2, far above the eq. (3.19) estimate: the new network's output layer starts
    at estimate / epsilon of the unscaled Glorot draw (the same seed), so its first contribution has the
    size of the error it must remove."""
    automatic = one_stage.settings
    one_stage.settings = automatic.replace(epsilon=[1e-2])
    try:
        plan = one_stage.objective.plan_stage(1)
    finally:
        one_stage.settings = automatic
    scale = plan.extras["estimate"] / 1e-2
    assert plan.epsilon == 1e-2 and 0 < scale < 1e-2
    plain = msnn.build_stage_network(1, width=20, depth=3, seed=one_stage.seed + 1000)
    # Tolerance 1e-15 relative: one multiplication.
    np.testing.assert_allclose(one_stage.objective.work.network.layers[-1].kernel.numpy(), plain.layers[-1].kernel.numpy() * scale, rtol=1e-15, atol=0)


def test_fit_with_resampling_and_pretrained_gamma(trained_run):
    # golden_runs: adam_steps=400, lbfgs_iterations=100, resample_every=100, gamma="pretrain", pretrain_steps=100
    solver, history, _ = trained_run("pinn_resampling_pretrain")
    report = history.stages[0]
    assert report.accepted and report.adam_steps == 400
    assert len(report.gamma_rounds) >= 1 and report.gamma == pytest.approx(report.gamma_rounds[-1][0], rel=1e-12)
    # Resampled Adam + L-BFGS still solves the equation: error below 1e-2 of the solution's size (~0.5).
    assert report.true_rms < 5e-3, report.true_rms


def test_first_stage_settings():
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=10, lbfgs_iterations=0, first_stage_epsilon=0.25,
                                 first_stage_activation="sin", first_stage_kappa=3.0, verbose=0)
    history = solver.fit(num_stages=1)
    assert history.stages[0].epsilon == 0.25 and solver.model.epsilons[0] == 0.25
    layer = solver.model.stage_networks[0].layers[0]
    assert layer.activation == "sin" and layer.kappa == 3.0
    for kwargs, word in (({"first_stage_epsilon": 0.0}, "first_stage_epsilon"),
                         ({"first_stage_activation": "relu"}, "first_stage_activation"),
                         ({"first_stage_kappa": math.inf}, "first_stage_kappa"),
                         ({"resample_every": -1}, "resample_every"),
                         ({"gamma": "pretrainx"}, "gamma"),
                         ({"pretrain_initial_gamma": 1.0}, "pretrain_initial_gamma"),
                         ({"plateau_window": 0}, "plateau_window"),
                         ({"sin_bias_initializer": "ones"}, "sin_bias_initializer")):
        with pytest.raises(ValueError, match=word):
            msnn.MultiStagePINN(ode_problem(), **kwargs)
