import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import msnn_tf as msnn
from msnn_tf import pinn


def ode_problem():
    """Eq. (3.3): u' = u + x on [-1, 1], u(0) = 0, exact e^x - x - 1."""
    return pinn.Problem(domain=pinn.Interval(-1.0, 1.0), residual=lambda x, u, d: d["x"] - (u + x), derivatives=["x"],
                        conditions=[pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)


@pytest.fixture(scope="module")
def solved(trained_run):
    solver, history, _ = trained_run("pinn_ode")
    return solver, history


def test_second_stage_cuts_the_true_error_by_1e3(solved):
    _, history = solved
    first, second = history.stages
    assert first.accepted and second.accepted
    assert second.true_rms < first.true_rms / 1e3, (first.true_rms, second.true_rms)


def test_epsilon_follows_eq_3_9_and_estimates_the_error(solved):
    solver, history = solved
    first, second = history.stages
    # Eq. (3.19) for u' = u + x over both terms (beta_u = -1, beta_x = 1): eps_1 = eps_r / (2 pi f_d + 1)
    # (eq. 3.9 keeps only 2 pi f_d); the automatic epsilon is the larger of it, its per-frequency
    # version and the condition mismatch (tolerance 1e-12 relative).
    eq_3_19 = second.residual_rms / (2 * math.pi * second.dominant_frequency[0] + 1.0)
    assert second.epsilon >= eq_3_19 * (1 - 1e-12) and second.epsilon >= second.condition_rms
    assert second.beta_keys == ((0,), (1,))
    assert second.beta_rms == pytest.approx((1.0, 1.0), rel=1e-12)
    # The estimate is the magnitude of the true error of stage 0 (paper: within the same order; here 3x).
    assert first.true_rms / 3 < second.epsilon < 3 * first.true_rms, (second.epsilon, first.true_rms)
    # Eq. (3.32) with L_d ~ eps^2 and L_e ~ eps_r^2.
    assert second.gamma == pytest.approx(second.epsilon**2 / (second.epsilon**2 + second.residual_rms**2), rel=1e-12)


def test_predict_residual_and_round_trips(solved, tmp_path):
    solver, history = solved
    x = np.linspace(-1, 1, 101)[:, None]
    error = solver.predict(x) - (np.exp(x) - x - 1.0)
    assert np.sqrt(np.mean(error**2)) < 10 * history.stages[-1].true_rms
    residual = solver.residual(x)
    assert residual.shape == (101, 1) and np.sqrt(np.mean(residual**2)) < 10 * history.stages[-1].residual_rms_after
    solver.model.save(tmp_path / "pinn.keras")
    loaded = keras.saving.load_model(tmp_path / "pinn.keras")
    np.testing.assert_array_equal(loaded.predict(x), solver.predict(x))
    table = history.table()
    assert "est. error" in table and len(table.splitlines()) == 4
    assert history.to_dict()["stages"][1]["epsilon"] == history.stages[1].epsilon


def test_gradient_enhanced_loss_runs_and_sets_gamma_g():
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=100, lbfgs_iterations=0, gradient_enhanced=True, verbose=0)
    history = solver.fit(num_stages=1)
    report = history.stages[0]
    # Eq. (3.40) at the start: r = -x for u = 0, so gamma_g = ||x||^2 / ||1||^2 = mean(x^2) = 1/3 on [-1, 1].
    assert report.gamma_g == pytest.approx(1.0 / 3.0, rel=2e-3)
    assert report.accepted and math.isfinite(report.equation_loss)


def test_hand_set_epsilon_and_gamma_are_used():
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=50, lbfgs_iterations=0, epsilon=[1e-3], gamma=0.3, verbose=0)
    history = solver.fit(num_stages=2)
    assert history.stages[1].epsilon == 1e-3 and history.stages[1].gamma == 0.3 and history.stages[0].gamma == 0.3


@pytest.mark.parametrize("kwargs, word", [
    (dict(epsilon=-1.0), "epsilon"), (dict(gamma=1.5), "gamma"), (dict(first_layer_init="he"), "first_layer_init"),
    (dict(verbose=3), "verbose"), (dict(depth=0), "depth"), (dict(open_margin=-0.1), "open_margin"),
    (dict(loss_weighting="huber"), "loss_weighting"), (dict(bias_initializer="zeros"), "bias_initializer"),
])
def test_bad_settings(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.MultiStagePINN(ode_problem(), **kwargs)


def test_open_margin_grows_the_training_box_past_open_faces_only():
    solver = msnn.MultiStagePINN(ode_problem(), open_margin=0.02, verbose=0)
    # u(0) = 0 lies inside: both ends are open and move out by 2% of the span 2.
    np.testing.assert_allclose([solver.training_domain.lower[0], solver.training_domain.upper[0]], [-1.04, 1.04], rtol=1e-15)
    points = solver.objective.collocation(0, np.array([1.0]))
    assert points.min() == -1.04 and points.max() == 1.04 and np.mean(np.abs(points) > 1.0) > 0.01
    np.testing.assert_allclose(solver.problem.domain.upper, [1.0], rtol=0, atol=0)  # the problem is untouched
    zero = lambda x: np.zeros(len(x))  # noqa: E731
    heat = pinn.Problem(pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0), lambda x, u, d: d["t"] - 0.5 * d["xx"], ["t", "xx"],
                        [pinn.DirichletBoundary(zero, faces=[(0, 0), (0, 1)]), pinn.InitialCondition(zero)])
    box = msnn.MultiStagePINN(heat, open_margin=0.05, verbose=0).training_domain
    np.testing.assert_allclose(np.concatenate([box.lower, box.upper]), [-1.0, 0.0, 1.0, 1.05], rtol=1e-15)
    # A stage trained on the grown box solves the problem on its own domain (errors measured there).
    # (Without XLA: compiling costs more than these 600 steps.)
    grown = msnn.MultiStagePINN(ode_problem(), open_margin=0.02, adam_steps=300, lbfgs_iterations=300, verbose=0, seed=0,
                                jit_compile=False)
    report = grown.fit(num_stages=1).stages[0]
    assert report.accepted and report.num_collocation >= 256
    x = np.linspace(-1.0, 1.0, 401)[:, None]
    assert msnn.rms(np.exp(x) - x - 1.0 - grown.predict(x)) < 1e-4  # a plain PINN after 600 steps: ~1e-6


def test_chebyshev_loss_weighting_weights_points_by_the_training_box():
    zero = lambda x: np.zeros(len(x))  # noqa: E731
    heat = pinn.Problem(pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0), lambda x, u, d: d["t"] - 0.5 * d["xx"], ["t", "xx"],
                        [pinn.DirichletBoundary(zero, faces=[(0, 0), (0, 1)]), pinn.InitialCondition(zero)])
    solver = msnn.MultiStagePINN(heat, loss_weighting="chebyshev", verbose=0)
    points = np.array([[0.0, 0.5], [1.0, 1.0], [-1.0, 0.0], [0.5, 0.25]])
    weights = solver.objective.point_weights(points, points_per_axis=51)[:, 0]
    # prod_i (1 - h_i^2 + delta)^(-1/2), h scaled to [-1, 1] (t = 0.5 -> 0), delta = 2 / 50, mean 1 (1e-15).
    h = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [0.5, -0.5]])
    raw = np.prod(1.0 / np.sqrt(1.0 - h**2 + 0.04), axis=1)
    np.testing.assert_allclose(weights, raw / raw.mean(), rtol=1e-15, atol=0)
    assert weights[1] / weights[0] == pytest.approx(1.04 / 0.04, rel=1e-12)  # a corner weighs 26x the centre
    uniform = msnn.MultiStagePINN(heat, verbose=0).objective.point_weights(points)
    np.testing.assert_array_equal(uniform, np.ones((4, 1)))
    # A weighted stage still solves the ODE (a plain PINN after 600 steps: ~1e-6; bound 1e-4).
    solver = msnn.MultiStagePINN(ode_problem(), loss_weighting="chebyshev", adam_steps=300, lbfgs_iterations=300,
                                 verbose=0, seed=0, jit_compile=False)  # without XLA: compiling costs more than 600 steps
    assert solver.fit(num_stages=1).stages[0].accepted
    x = np.linspace(-1.0, 1.0, 401)[:, None]
    assert msnn.rms(np.exp(x) - x - 1.0 - solver.predict(x)) < 1e-4


def test_bad_problem_and_residual():
    with pytest.raises(ValueError, match="Problem"):
        msnn.MultiStagePINN("u' = u")
    broken = pinn.Problem(pinn.Interval(0.0, 1.0), lambda x, u, d: tf.concat([d["x"]] * 2, axis=0), ["x"],
                          [pinn.PointValues([[0.0]], [[0.0]])])
    with pytest.raises(ValueError, match="residual must return shape"):
        msnn.MultiStagePINN(broken, verbose=0).fit(num_stages=1)


def test_rar_adds_the_points_of_largest_residual(solved):
    solver, _ = solved
    points = solver.refinement_points(10, candidates=400, seed=5)
    pool = solver.problem.domain.sample(400, "random", seed=5)
    residual = np.abs(solver.residual(pool))[:, 0]
    chosen = np.abs(solver.residual(points))[:, 0]
    # The 10 chosen points are the 10 largest |r| of the same candidate pool (batching round-off: 1e-15).
    np.testing.assert_allclose(np.sort(chosen), np.sort(residual)[-10:], rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="rar_points"):
        msnn.MultiStagePINN(ode_problem(), rar_points=-1)


@pytest.mark.parametrize("alpha", [1e-6, 1.0])
def test_error_estimate_picks_the_dominant_term_appendix_c(alpha):
    """Appendix C, eqs. (C.4)-(C.6): alpha u'''' + u'' - u = F. The error of u = 0 is the exact
    solution delta sin(6 pi x); eq. (3.19) over every term estimates its RMS whether the
    fourth-derivative term dominates (alpha = 1) or the second-derivative one does (alpha = 1e-6,
    where the highest-order-only estimate would be ~2800x too large)."""
    delta, k = 1e-3, 6.0 * math.pi

    def exact(x):
        return delta * np.sin(k * x)

    def source(x):
        return delta * (alpha * k**4 - k**2 - 1.0) * tf.sin(k * x)

    problem = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: alpha * d["xxxx"] + d["xx"] - u - source(x),
                           ["xx", "xxxx"], [pinn.PointValues([[-1.0], [1.0]], exact(np.array([[-1.0], [1.0]])))],
                           exact=exact)
    solver = msnn.MultiStagePINN(problem, verbose=0)
    analysis = solver.objective.analysis()
    frequencies, betas, estimate = analysis.frequencies, analysis.beta_rms, analysis.estimate
    assert frequencies[0] == pytest.approx(3.0, rel=0.01)
    assert betas == pytest.approx((1.0, 1.0, alpha), rel=1e-12)
    # Tolerance 5%: f_d is read from a 2001-point FFT (1% in f_d is ~2-4% in (2 pi f_d)^2..4).
    assert estimate == pytest.approx(delta / math.sqrt(2.0), rel=0.05)


def test_least_squares_stage_solves_a_linear_pde_to_1e_11(trained_run):
    """A least-squares stage (solved output layer, residual linearised: exact for eq. 3.44) takes a
    crude stage 0 of Fig. 13's problem (true error ~1e-3) to <= 1e-11 RMS against the exact solution
    (measured 1e-13 with 2000 points), and predictions match the exact solution between the points."""
    solver, history, _ = trained_run("pinn_least_squares_diffusion")  # golden_runs: 500 features, 2000 points
    first, second = history.stages[:2]
    assert first.true_rms > 1e-5
    assert second.accepted and (second.adam_steps, second.lbfgs_iterations, second.gamma_g) == (0, 0, 0.0)
    assert second.true_rms <= 1e-11, second.true_rms
    assert solver.model.stage_networks[1].count_params() == 500 * 4 + 1  # one sin layer of 500 units, linear out
    x = np.random.default_rng(1).uniform([-1.0, 0.0], [1.0, 1.0], (50, 2))
    np.testing.assert_allclose(solver.predict(x), x[:, 1:] * (1.0 - x[:, :1] ** 2), rtol=0, atol=1e-9)


def test_least_squares_settings_are_checked():
    with pytest.raises(ValueError, match="stage_solver"):
        msnn.MultiStagePINN(ode_problem(), stage_solver="lstsq")
    with pytest.raises(ValueError, match="least_squares_kappa_factors"):
        msnn.MultiStagePINN(ode_problem(), least_squares_kappa_factors=())
    with pytest.raises(ValueError, match="least_squares_width"):
        msnn.MultiStagePINN(ode_problem(), least_squares_width=0)


def riccati_problem():
    """``u' + u^2 = f`` on [0, 1] with ``u(0) = 1/2`` and exact ``u = 1/2 + sin(2x) / 4``: nonlinear in ``u``."""
    def exact(x):
        return 0.5 + 0.25 * np.sin(2.0 * x)

    def residual(x, u, d):
        return d["x"] + u**2 - (0.5 * tf.cos(2.0 * x) + (0.5 + 0.25 * tf.sin(2.0 * x)) ** 2)

    return pinn.Problem(domain=pinn.Interval(0.0, 1.0), residual=residual, derivatives=["x"],
                        conditions=[pinn.PointValues([[0.0]], [[0.5]])], exact=exact)


def solved_stage_messages(problem, **settings):
    """Fits a crude stage 0 (150 Adam steps) and one solved stage; returns the history and the solve's lines."""
    lines = []

    class Lines(msnn.StageCallback):
        def on_block_end(self, stage, logs):
            if "message" in logs:
                lines.append(str(logs["message"]))

    solver = msnn.MultiStagePINN(problem, adam_steps=150, lbfgs_iterations=0, jit_compile=False, verbose=0, **settings)
    history = solver.fit(num_stages=2, callbacks=[Lines()])
    assert history.stages[1].accepted and history.stages[1].adam_steps == 0
    return history, lines


def test_gauss_newton_steps_remove_the_linearisation_error_of_a_nonlinear_equation():
    """A solved stage linearises ``r(u + eps v)``: one solve leaves an error of order ``eps^2`` (the
    ``u^2`` term); Gauss-Newton steps on the same features remove it. From a crude stage 0 (true
    error above 1e-4), the stage with the steps reaches 1e-12 RMS and at least 1e4 times less than
    one solve (tolerances: see the measured values in the assertion message)."""
    crude, plain = solved_stage_messages(riccati_problem(), gauss_newton_steps=0)
    history, lines = solved_stage_messages(riccati_problem())
    assert crude.stages[0].true_rms > 1e-4
    assert not any("Gauss-Newton" in line for line in plain)
    assert any("Gauss-Newton step 1" in line for line in lines), lines
    errors = (crude.stages[1].true_rms, history.stages[1].true_rms)
    assert errors[1] <= 1e-12 and errors[1] <= 1e-4 * errors[0], errors


def test_gauss_newton_steps_are_not_taken_for_a_linear_equation():
    history, lines = solved_stage_messages(ode_problem())
    assert lines and not any("Gauss-Newton" in line for line in lines), lines
    assert history.stages[1].true_rms < 1e-3 * history.stages[0].true_rms


def test_gauss_newton_steps_relinearise_a_nonlinear_condition():
    """A linear equation with a nonlinear condition, ``u' = u + x`` and ``u(0) + u(0)^3 = 5/8`` (one real root)
    (exact ``1.5 e^x - x - 1``, ``u(0) = 1/2``): the solve linearises the condition at stage 0, leaving
    an error of order ``eps^2`` in ``u(0)``; the Gauss-Newton steps take its mismatch to round-off.
    Measured 5.3e-5 RMS after one solve, 5.3e-16 with the steps; asserted: <= 1e-11 and <= 1e-3 x the solve."""
    def problem():
        return pinn.Problem(
            domain=pinn.Interval(-1.0, 1.0), residual=lambda x, u, d: d["x"] - (u + x), derivatives=["x"],
            conditions=[pinn.OperatorCondition(lambda x, u, d: u + u**3, [[0.0]], [], values=[[0.625]])],
            exact=lambda x: 1.5 * np.exp(x) - x - 1.0)

    crude, plain = solved_stage_messages(problem(), gauss_newton_steps=0)
    history, lines = solved_stage_messages(problem())
    assert not any("Gauss-Newton" in line for line in plain)
    assert any("Gauss-Newton step 1" in line for line in lines), lines
    errors = (crude.stages[1].true_rms, history.stages[1].true_rms)
    assert errors[1] <= 1e-11 and errors[1] <= 1e-3 * errors[0], errors


def steep_stage(slope: float, amplitude: float) -> keras.Model:
    """``amplitude tanh(slope (h - 0.2))`` as a stage network (float64, linear Dense output)."""
    network = keras.Sequential([keras.Input((1,), dtype="float64"), keras.layers.Dense(1, activation="tanh", dtype="float64"),
                                keras.layers.Dense(1, dtype="float64")])
    network.layers[0].kernel.assign([[slope]])
    network.layers[0].bias.assign([-0.2 * slope])
    network.layers[1].kernel.assign([[amplitude]])
    network.layers[1].bias.assign([0.0])
    return network


def sine_problem():
    """``u'' = -pi^2 sin(pi x)`` on [0, 1], ``u(0) = u(1) = 0``: exact ``sin(pi x)``."""
    return pinn.Problem(domain=pinn.Interval(0.0, 1.0),
                        residual=lambda x, u, d: d["xx"] + math.pi**2 * keras.ops.sin(math.pi * x), derivatives=["xx"],
                        conditions=[pinn.PointValues([[0.0], [1.0]], [[0.0], [0.0]])], exact=lambda x: np.sin(math.pi * x))


@pytest.mark.parametrize("slope", [30.0, 100.0])
def test_solved_stage_rescales_frozen_stages_its_features_cannot_represent(slope):
    """A frozen stage 0 that is a steep tanh (``1e-3 tanh(slope (h - 0.2))``, far from the solution): the
    solved stage's sin features (kappa_hat from the residual's f_d = 1) cannot represent it, so with the
    earlier stages kept as they are the error stays near 1e-4..1e-2 (measured 1.9e-4 / 1.1e-2); the
    column of the frozen stages lets the solve remove stage 0 (factor ~1e-16) and reach round-off
    (measured 2.5e-16 / 2.0e-16). Asserted: <= 1e-13 with the column, >= 1e-6 without."""
    errors, scales = [], []
    for rescale in (False, True):
        solver = msnn.MultiStagePINN(sine_problem(), stage_solver="least_squares", verbose=0,
                                     rescale_frozen_stages=rescale)
        solver.model.add_stage(steep_stage(slope, 1e-3), 1.0)
        report = solver.fit(num_stages=1).stages[-1]
        assert report.accepted
        errors.append(report.true_rms)
        scales.append(report.frozen_scale)
    assert errors[0] >= 1e-6 and errors[1] <= 1e-13, errors
    assert scales[0] == 1.0 and abs(scales[1]) <= 1e-12, scales


def test_a_discarded_stage_undoes_its_factor_on_the_earlier_stages():
    """The stage loop applies an outcome's ``frozen_scale`` before measuring the new stage and, when the
    stage is discarded, puts the earlier stages' output weights back: predictions are bit-identical to
    those before it, and a RuntimeWarning says why."""
    import types

    from msnn_tf.engine import CallbackList, StageObjective, StageOutcome, run_stages

    class Discarding(StageObjective):
        def __init__(self, model):
            self.model = model

        def plan_stage(self, stage):
            return types.SimpleNamespace(stage=stage, epsilon=1e-3)

        def solve_stage(self, plan, hooks, stage_start):
            return StageOutcome(msnn.build_stage_network(1, width=4, seed=3), frozen_scale=0.37)

        def measure(self, plan):
            return float(self.model.predict(np.array([[0.25]]))[0, 0])

        def rejection(self, plan, before, after):
            return "no improvement" if self.model.num_stages == 2 else None

        def report(self, plan, outcome, after, accepted, message, wall_time):
            return types.SimpleNamespace(accepted=accepted, measured=after)

    model = msnn.StagedModel(1)
    model.add_stage(steep_stage(30.0, 1e-3), 1.0)
    x = np.linspace(-1.0, 1.0, 101)[:, None]
    before = model.predict(x)
    objective = Discarding(model)
    history = types.SimpleNamespace(stages=[], wall_time=0.0, message="")
    with pytest.warns(RuntimeWarning, match="no improvement"):
        run_stages(objective, 1, CallbackList(), history)
    assert model.num_stages == 1 and not history.stages[0].accepted
    np.testing.assert_array_equal(model.predict(x), before)
    assert model.output_revision == 2  # scaled, then restored


def test_closed_form_partials_of_a_solved_stage_match_the_tapes():
    """The analysis evaluates a one-layer sin network (a solved stage's) in closed form; up to third
    derivatives in 2-D it agrees with nested gradient tapes to 1e-13 of each partial's size (measured
    ~5e-15), and any other network (stage 0's tanh one) is left to the tapes (``None``)."""
    from msnn_tf.derivatives import partial_derivatives
    from msnn_tf.least_squares import feature_network
    from msnn_tf.pinn.analysis import derivative_requests

    problem = pinn.Problem(domain=pinn.Rectangle([0.0, -1.0], [2.0, 1.0]), residual=lambda x, u, d: d["xx"] + d["yy"],
                           derivatives=["xx", "yy"], conditions=[pinn.DirichletBoundary(lambda x: 0.0 * x[:, 0])])
    solver = msnn.MultiStagePINN(problem, verbose=0)
    analyzer = solver.objective.analyzer
    network = feature_network(2, 300, 3.0, 4.0, 0, "features")
    rng = np.random.default_rng(0)
    network.layers[-1].kernel.assign(rng.normal(size=(300, 1)))
    network.layers[-1].bias.assign([0.3])
    x = tf.constant(rng.uniform([0.0, -1.0], [2.0, 1.0], (400, 2)))
    keys = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3)]
    closed = analyzer._feature_partials(network, x, keys)
    taped = partial_derivatives(analyzer.stage_function(network), x, derivative_requests(keys)).values
    for key in keys:
        size = float(np.max(np.abs(taped[key].numpy())))
        assert float(np.max(np.abs(closed[key].numpy() - taped[key].numpy()))) <= 1e-13 * size, key
    assert analyzer._feature_partials(msnn.build_stage_network(2, width=8), x, keys) is None


def riccati_inverse_problem():
    """The Riccati problem with its coefficient unknown (``c u^2``, exact ``c = 1``), a Neumann end, and a
    first-order constraint on the residual: every kind of row a stage loss has."""
    base = riccati_problem()

    def residual(x, u, d, p):
        return d["x"] + p["c"] * u**2 - (0.5 * tf.cos(2.0 * x) + (0.5 + 0.25 * tf.sin(2.0 * x)) ** 2)

    return pinn.Problem(domain=base.domain, residual=residual, derivatives=["x"],
                        conditions=[pinn.PointValues([[0.0]], [[0.5]]),
                                    pinn.NeumannBoundary(lambda x: 0.5 * np.cos(2.0 * x[:, :1]), points_per_face=1,
                                                         faces=[(0, 1)])],
                        parameters={"c": 0.9}, constraints=[pinn.ResidualDerivative("x", pinn.Interval(0.4, 0.6), num_points=8)],
                        exact=base.exact)


def test_stage_rows_square_to_the_stage_loss_and_their_jacobian_gives_its_gradient():
    """``StageRows`` (the Levenberg-Marquardt form of a stage loss): ``sum rows^2`` equals the loss
    (1e-13 relative) and ``2 J^T rows`` its gradient (1e-11 relative to the largest entry), at a
    position off the start, with gPINN, value and Neumann conditions, a constraint and a parameter."""
    solver = msnn.MultiStagePINN(riccati_inverse_problem(), width=6, adam_steps=100, lbfgs_iterations=0,
                                 stage_solver="adam_lbfgs", gradient_enhanced=True, jit_compile=False, verbose=0)
    solver.fit(num_stages=1)
    plan = solver.objective.plan_stage(1)
    work = solver.objective.work
    value_and_gradients, flat, _, rows = work.make_loss(plan.extras["gamma"], work.network, residual_rows=True)
    position = flat.pack() + 0.05 * tf.random.stateless_normal([flat.size], [1, 2], dtype=tf.float64)
    loss, gradient = value_and_gradients(position)
    values, jacobian = rows.values_and_jacobian(position.numpy())
    assert jacobian.shape == (values.size, flat.size)
    assert values.size > 2 * plan.num_points  # residual and its gradient per point, then conditions and constraint
    assert abs(float(values @ values) - float(loss)) <= 1e-13 * float(loss)
    np.testing.assert_allclose(2.0 * jacobian.T @ values, gradient.numpy(), rtol=0,
                               atol=1e-11 * float(np.max(np.abs(gradient.numpy()))))
    np.testing.assert_allclose(rows.values(position.numpy()), values, rtol=0, atol=1e-15 * float(np.max(np.abs(values))))


def test_levenberg_marquardt_after_adam_takes_a_trained_stage_far_below_adam():
    """``levenberg_marquardt_iterations``: after 200 Adam steps of stage 1 on the Riccati problem, damped
    Gauss-Newton steps over the whole stage network lower the stage loss far below Adam's (at least
    1e4x; measured 6e6x) and the true error with it (at least 100x below the same stage without them; measured 1e4x);
    their losses extend the stage's loss curve and are counted in the report."""
    def fit(iterations):
        solver = msnn.MultiStagePINN(riccati_problem(), width=8, adam_steps=(300, 200), lbfgs_iterations=0,
                                     num_collocation=(128, 200), stage_solver="adam_lbfgs", jit_compile=False, verbose=0,
                                     levenberg_marquardt_iterations=(0, iterations))
        return solver.fit(num_stages=2).stages

    plain, refined = fit(0), fit(30)
    assert plain[1].levenberg_marquardt_iterations == 0 and 0 < refined[1].levenberg_marquardt_iterations <= 30
    assert refined[0].levenberg_marquardt_iterations == 0  # per stage: none at stage 0
    adam_end = refined[1].losses[refined[1].adam_steps - 1]
    assert refined[1].losses[-1] <= 1e-4 * adam_end, (adam_end, refined[1].losses[-1])
    assert refined[1].loss_iterations.size == refined[1].adam_steps + refined[1].levenberg_marquardt_iterations
    assert refined[1].true_rms <= 1e-2 * plain[1].true_rms, (plain[1].true_rms, refined[1].true_rms)
