import math
import warnings

import numpy as np
import pytest

import msnn_tf as msnn


def target(x):
    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


FAST = dict(width=(12, 16), adam_steps=400, lbfgs_iterations=600, verbose=0, seed=0)


@pytest.fixture(scope="module")
def two_stage(trained_run):
    return trained_run("fast_regression")


def test_second_stage_beats_first_by_1e3(two_stage):
    regressor, history, x_val = two_stage
    first, second = history.stages
    assert first.accepted and second.accepted
    assert second.validation_rms <= first.validation_rms / 1e3, (first.validation_rms, second.validation_rms)
    # The stage-1 prefactor is the RMS of the normalised residue (eq. 2.3).
    y = target(np.linspace(-1, 1, 600)[:, None])
    residue = (y - regressor.predict(np.linspace(-1, 1, 600)[:, None], num_stages=1)) / np.std(y)
    assert second.epsilon == pytest.approx(msnn.rms(residue), rel=1e-9)
    assert second.first_activation == "sin" and first.first_activation == "tanh"
    # Default spectrum-informed start: kappa = 1 and first-layer frequencies from the residue.
    assert second.kappa == 1.0


def test_history_reports_every_stage(two_stage):
    _, history, _ = two_stage
    for report in history.stages:
        assert report.adam_steps == 400 and 0 < report.lbfgs_iterations <= 600
        assert report.adam_losses.shape == (400,)
        assert report.wall_time > 0 and report.num_points == 600
        assert np.isfinite(report.final_loss)
    data = history.to_dict()
    assert len(data["stages"]) == 2 and data["stages"][1]["epsilon"] == history.stages[1].epsilon
    table = history.table()
    assert "train RMS" in table and len(table.splitlines()) == 4


def test_predict_matches_model_and_validation_error(two_stage):
    regressor, history, x_val = two_stage
    prediction = regressor.predict(x_val)
    assert prediction.shape == (1601, 1) and prediction.dtype == np.float64
    assert msnn.rms(target(x_val) - prediction) == pytest.approx(history.stages[-1].validation_rms, rel=1e-12)


def test_save_load_round_trip(two_stage, tmp_path):
    regressor, _, x_val = two_stage
    regressor.save(tmp_path / "model.keras")
    loaded = msnn.MultiStageRegressor.load(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.predict(x_val), regressor.predict(x_val))


def test_function_target_grows_points_with_frequency():
    # The points are chosen when a stage is planned: a few Adam steps and no L-BFGS suffice.
    regressor = msnn.MultiStageRegressor(width=10, adam_steps=50, lbfgs_iterations=0, verbose=0,
                                         points_safety=2.0, stage_solver="adam_lbfgs")  # eq. (2.10) alone
    history = regressor.fit(target, domain=(-1.0, 1.0), num_points=40, num_stages=2)
    first, second = history.stages
    assert first.num_points == 40
    needed = msnn.min_points_for_frequency(second.dominant_frequency[0], safety=2.0)
    assert second.num_points == max(40, needed)


def test_non_finite_loss_discards_stage_and_keeps_earlier():
    x = np.linspace(-1, 1, 300)[:, None]
    # A learning rate of 1e200 makes stage 1's loss overflow to inf.
    regressor = msnn.MultiStageRegressor(width=10, adam_steps=100, lbfgs_iterations=0, verbose=0,
                                         learning_rate=(1e-3, 1e200), first_layer_init="xavier",
                                         stage_solver="adam_lbfgs")
    with pytest.warns(RuntimeWarning, match="non-finite") as record:
        history = regressor.fit(x, target(x), num_stages=3)
    assert [w.filename for w in record if "non-finite" in str(w.message)] == [__file__]  # points at the caller
    assert len(history.stages) == 2
    assert history.stages[0].accepted and not history.stages[1].accepted
    assert "non-finite" in history.stages[1].message and "stopped at stage 1" in history.message
    assert regressor.model.num_stages == 1
    # The paper's setting for the discarded stage: kappa_hat = 1.5 pi f_d (eq. 2.9 with kappa_factor 1.5).
    assert history.stages[1].kappa_hat == pytest.approx(1.5 * math.pi * history.stages[1].dominant_frequency[0], rel=1e-12)
    assert msnn.rms(target(x) - regressor.predict(x)) == pytest.approx(history.stages[0].train_rms, rel=1e-12)


def test_stage_that_does_not_improve_validation_is_discarded():
    # Validation values equal to stage 0's own predictions: its validation RMS is ~0 (same seed, same
    # data), so any stage-1 correction (size eps ~ 1e-3 here) must raise it and be discarded.
    x = np.linspace(-1, 1, 200)[:, None]
    x_val = np.linspace(-1, 1, 333)[:, None]
    settings = dict(width=10, adam_steps=200, lbfgs_iterations=0, verbose=0)
    first = msnn.MultiStageRegressor(**settings)
    first.fit(x, target(x), num_stages=1)
    y_val = first.predict(x_val)
    regressor = msnn.MultiStageRegressor(**settings)
    with pytest.warns(RuntimeWarning, match="no improvement on the validation data"):
        history = regressor.fit(x, target(x), num_stages=3, validation_data=(x_val, y_val))
    assert len(history.stages) == 2 and not history.stages[1].accepted
    assert history.stages[0].validation_rms < 1e-12  # stage 0 reproduces the first fit (abs 1e-12)
    assert history.stages[1].train_rms == history.stages[0].train_rms  # the report keeps stage 0's errors
    assert history.stages[1].validation_rms == history.stages[0].validation_rms
    assert history.stages[1].validation_max == history.stages[0].validation_max
    assert regressor.model.num_stages == 1 and "stopped at stage 1" in history.message
    np.testing.assert_array_equal(regressor.predict(x_val), regressor.model.predict(x_val, num_stages=1))


def test_target_rms_stops_early():
    x = np.linspace(-1, 1, 300)[:, None]
    regressor = msnn.MultiStageRegressor(width=10, adam_steps=200, lbfgs_iterations=200, verbose=0)
    history = regressor.fit(x, target(x), num_stages=3, target_rms=1e-1)
    assert len(history.stages) == 1 and "target_rms" in history.message


def test_progress_is_printed_and_quiet(capsys):
    x = np.linspace(-1, 1, 100)[:, None]
    msnn.MultiStageRegressor(width=5, adam_steps=20, lbfgs_iterations=20, verbose=1, jit_compile=False).fit(x, target(x), num_stages=1)
    out = capsys.readouterr().out
    assert "stage 0 | adam" in out and "loss" in out and " s" in out
    msnn.MultiStageRegressor(width=5, adam_steps=20, lbfgs_iterations=20, verbose=0, jit_compile=False).fit(x, target(x), num_stages=1)
    assert capsys.readouterr().out == ""


X = np.linspace(-1, 1, 50)[:, None]
Y = target(X)


@pytest.mark.parametrize("args, kwargs, word", [
    ((X, np.where(X > 0.5, np.nan, Y)), {}, "`y` must be finite"),
    ((np.where(X > 0.5, np.inf, X), Y), {}, "`x` must be finite"),
    ((X, Y[:-1]), {}, "same number of rows"),
    ((np.zeros((0, 1)), np.zeros((0, 1))), {}, "must not be empty"),
    ((X[:, :, None], Y), {}, "shape"),
    ((X, np.hstack([Y, Y])), {}, "column"),
    ((X, Y), dict(num_stages=0), "num_stages"),
    ((X, Y), dict(num_stages=-2), "num_stages"),
    ((X, Y), dict(target_rms=-1.0), "target_rms"),
    ((X, Y), dict(validation_data=(X, Y[:-3])), "validation"),
    ((X, None), {}, "`y` is required"),
    ((target,), dict(domain=(1.0, -1.0), num_points=10), "domain"),
    ((target,), dict(domain=(-1.0, 1.0), num_points=0), "num_points"),
])
def test_fit_rejects_bad_input(args, kwargs, word):
    regressor = msnn.MultiStageRegressor(verbose=0)
    with pytest.raises(ValueError, match=word):
        regressor.fit(*args, **kwargs)


@pytest.mark.parametrize("kwargs, word", [
    (dict(width=0), "width"), (dict(width=(20, -1)), "width"), (dict(depth=0), "depth"),
    (dict(adam_steps=-5), "adam_steps"), (dict(lbfgs_iterations=-1), "lbfgs_iterations"),
    (dict(learning_rate=0.0), "learning_rate"), (dict(kappa_factor=0.0), "kappa_factor"),
    (dict(kappa_factor=float("nan")), "kappa_factor"), (dict(decay_rate=1.5), "decay_rate"),
    (dict(verbose=5), "verbose"), (dict(first_layer_init="he"), "first_layer_init"),
    (dict(loss_weighting="huber"), "loss_weighting"), (dict(end_refinement_cells=-1), "end_refinement_cells"),
    (dict(end_refinement_cells=2.5), "end_refinement_cells"),
])
def test_constructor_rejects_bad_settings(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.MultiStageRegressor(**kwargs)


def test_predict_before_fit_and_bad_shapes():
    with pytest.raises(ValueError, match="fit"):
        msnn.MultiStageRegressor(verbose=0).predict(X)


def test_boundary_weights_are_chebyshev_and_mean_one():
    from msnn_tf.weighting import boundary_weights

    h = np.linspace(-1, 1, 101)[:, None]
    w = boundary_weights(h)
    assert w.shape == (101, 1) and np.mean(w) == pytest.approx(1.0, rel=1e-14)
    delta = 2.0 / 100
    expected = 1.0 / np.sqrt(1.0 - h**2 + delta)
    np.testing.assert_allclose(w, expected / expected.mean(), rtol=1e-14)
    assert w[0, 0] / w[50, 0] == pytest.approx(np.sqrt((1 + delta) / delta), rel=1e-12)
    grid = np.stack(np.meshgrid(h[:, 0], h[:, 0], indexing="ij"), -1).reshape(-1, 2)
    w2 = boundary_weights(grid)
    # Product over axes: the corner outweighs an edge midpoint by the 1-D end/centre ratio.
    corner, edge = w2[0, 0], w2[50, 0]
    assert corner / edge == pytest.approx(w[0, 0] / w[50, 0], rel=1e-12)


def test_function_target_in_2d_respects_max_points():
    def bump(x):
        return np.sin(4.0 * x[:, 0]) * np.cos(3.0 * x[:, 1]) + x[:, 0] * x[:, 1]

    regressor = msnn.MultiStageRegressor(width=8, adam_steps=100, lbfgs_iterations=0, verbose=0, max_points=900)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        history = regressor.fit(bump, domain=([-1.0, -1.0], [1.0, 1.0]), num_points=12, num_stages=2)
    first, second = history.stages
    assert first.num_points == 144 and len(second.dominant_frequency) == 2
    assert 144 <= second.num_points <= 900  # per axis at most 900 ** (1/2) = 30
    assert regressor.predict(np.zeros((3, 2))).shape == (3, 1)


def test_float32_two_stages_reach_float32_limit_not_float64():
    """Fig. 1's setting: in float32 the second stage stops near float32 round-off (eps32 = 1.2e-7)."""
    x = np.linspace(-1, 1, 300)[:, None]
    regressor = msnn.MultiStageRegressor(width=20, adam_steps=1000, lbfgs_iterations=1500, verbose=0, dtype="float32")
    history = regressor.fit(x, target(x), num_stages=2)
    prediction = regressor.predict(x)
    assert prediction.dtype == np.float32 and regressor.model.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in regressor.model.weights)
    first, second = history.stages
    assert second.accepted and second.train_rms < first.train_rms / 10
    # float32 round-off of O(1) data: the two-stage error cannot fall far below 1e-7 (tolerance: 2e-9).
    assert 2e-9 < second.train_rms < 1e-5, second.train_rms


def test_sin_first_stage_with_kappa_and_no_normalisation():
    x = np.linspace(-1, 1, 200)[:, None]
    y = 1e3 * target(x)
    regressor = msnn.MultiStageRegressor(width=10, adam_steps=50, lbfgs_iterations=0, verbose=0,
                                         first_stage_activation="sin", first_stage_kappa=5.0, normalize=False)
    history = regressor.fit(x, y, num_stages=1)
    report = history.stages[0]
    assert report.first_activation == "sin" and report.kappa == 5.0
    # Eq. (2.8): kappa_hat = kappa * sqrt(2 / (fan_in + units)) (tolerance 1e-12 relative).
    assert report.kappa_hat == pytest.approx(5.0 * math.sqrt(2.0 / 11.0), rel=1e-12)
    assert regressor.model.output_offset == [0.0] and regressor.model.output_scale == [1.0]


def test_num_points_schedule_sets_points_per_stage():
    # The points are set when a stage is planned: a few Adam steps and no L-BFGS suffice.
    regressor = msnn.MultiStageRegressor(width=8, adam_steps=100, lbfgs_iterations=0, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        history = regressor.fit(target, domain=(-1.02, 1.02), num_points=[50, 80, 120], num_stages=4)
    assert [s.num_points for s in history.stages if s.accepted] == [50, 80, 120, 120][:sum(s.accepted for s in history.stages)]
    assert regressor.model.lower == [-1.02] and regressor.model.upper == [1.02]


@pytest.mark.parametrize("kwargs, word", [
    (dict(dtype="float16"), "dtype"), (dict(first_stage_activation="relu"), "first_stage_activation"),
    (dict(grid_refinement=0), "grid_refinement"), (dict(grid_refinement=1.5), "grid_refinement"),
])
def test_constructor_rejects_bad_new_settings(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.MultiStageRegressor(**kwargs)


def test_mse_objective_value_and_gradient_match_finite_differences():
    network = msnn.build_stage_network(1, width=4, depth=2, seed=3)
    x = np.linspace(-1, 1, 30)[:, None]
    y = np.cos(3 * x)
    weights = msnn.boundary_weights(x)
    value_and_gradients, flat = msnn.mse_objective(network, x, y, weights)
    position = flat.pack()
    value, gradient = value_and_gradients(position)
    expected = np.mean(weights * (network(x).numpy() - y) ** 2)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    step = 1e-6
    for i in (0, 5, int(position.shape[0]) - 1):
        e = np.zeros(position.shape[0]); e[i] = step
        numeric = (float(value_and_gradients(position + e)[0]) - float(value_and_gradients(position - e)[0])) / (2 * step)
        assert float(gradient[i]) == pytest.approx(numeric, rel=1e-6, abs=1e-10)


def test_gridded_2d_data_are_refined_for_later_stages(capsys):
    """Stages >= 1 of 2-D grid data fit the grid refined 2x per axis (values interpolated, tested in
    test_interpolation); scattered data and a refined grid above ``max_points`` are not refined.
    (Trained stages: a least-squares stage raises the refinement, see test_least_squares.)"""
    axis = np.linspace(-1.0, 1.0, 12)
    x = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)[::-1]
    smooth = lambda p: (np.sin(2.0 * p[:, 0] + p[:, 1]) + 0.5 * p[:, 0] * p[:, 1])[:, None]  # noqa: E731
    # The refinement is decided when a stage is planned: a few Adam steps and no L-BFGS suffice.
    settings = dict(width=(8, 12), adam_steps=100, lbfgs_iterations=0, seed=0, stage_solver="adam_lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        history = msnn.MultiStageRegressor(verbose=1, **settings).fit(x, smooth(x), num_stages=2)
        assert [s.grid_refinement for s in history.stages] == [1, 2]
        assert all(s.num_points == 144 for s in history.stages)  # the data; the loss covers 23^2
        assert "refined 2x per axis (529 points" in capsys.readouterr().out
        # The refinement is decided when a stage is planned: a few Adam steps and no L-BFGS suffice (a
        # stage that gains nothing is discarded, with its report and warning).
        warnings.simplefilter("ignore", RuntimeWarning)
        brief = dict(settings, adam_steps=20, lbfgs_iterations=0)
        capped = msnn.MultiStageRegressor(verbose=0, max_points=500, **brief).fit(x, smooth(x), num_stages=2)
        assert [s.grid_refinement for s in capped.stages] == [1, 1]
        scattered = np.random.default_rng(0).uniform(-1.0, 1.0, (144, 2))
        unrefined = msnn.MultiStageRegressor(verbose=0, **brief).fit(scattered, smooth(scattered), num_stages=2)
        assert [s.grid_refinement for s in unrefined.stages] == [1, 1]
