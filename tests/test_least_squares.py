import warnings

import keras
import numpy as np
import pytest

import msnn_tf as msnn
from msnn_tf.least_squares import network_values, solve_output_layer


def sin_network(input_dim=1, width=40, kappa=20.0, seed=3):
    return msnn.build_stage_network(input_dim, width=width, depth=1, kappa=kappa, first_activation="sin",
                                    bias_initializer="phase", seed=seed)


def test_fits_targets_in_the_span_of_the_features_to_round_off():
    """Targets made by the network itself with other output weights are fitted to 1e-12 relative (the
    weights themselves are not unique to that accuracy: sin features of nearby frequencies are nearly
    dependent), and the network's prediction is the fit."""
    network = sin_network(kappa=150.0)  # kappa_hat 33: frequencies ~5 per unit, resolved by 400 points
    x = np.linspace(-1.0, 1.0, 400)[:, None]
    planted_kernel = np.random.default_rng(0).normal(size=(40, 1))
    network.layers[-1].kernel.assign(planted_kernel)
    network.layers[-1].bias.assign([0.3])
    target = np.asarray(network(x))
    network.layers[-1].kernel.assign(np.zeros((40, 1)))
    network.layers[-1].bias.assign([0.0])
    result = solve_output_layer(network, x, target)
    assert not result.failed and result.num_points == 400 and result.num_features == 40 and result.rank <= 41
    assert result.residual_rms <= 1e-12 * np.sqrt(np.mean(target**2))
    np.testing.assert_allclose(np.asarray(network(x)), target, rtol=0, atol=1e-12 * np.abs(target).max())


def test_weighted_blocked_solve_matches_dense_lstsq():
    """Blocks of 7 rows and per-point weights give the dense weighted solution (relative 1e-9)."""
    network = sin_network(input_dim=2, width=30, kappa=8.0)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.0, 1.0, (300, 2))
    target = np.exp(x[:, :1]) * np.cos(3.0 * x[:, 1:])
    weights = rng.uniform(0.5, 2.0, 300)
    result = solve_output_layer(network, x, target, weights=weights, block_rows=7)
    features = np.asarray(network.layers[0](x))
    design = np.concatenate([features, np.ones((300, 1))], axis=1) * np.sqrt(weights)[:, None]
    expected, *_ = np.linalg.lstsq(design, target[:, 0] * np.sqrt(weights), rcond=None)
    prediction = np.asarray(network(x))[:, 0]
    # Fitted values, not coefficients (nearly dependent sin features make those non-unique).
    np.testing.assert_allclose(prediction, design @ expected / np.sqrt(weights), rtol=0, atol=1e-9 * np.abs(target).max())
    assert result.loss == pytest.approx(np.mean(weights * (target[:, 0] - prediction) ** 2), rel=1e-9)


def test_fewer_points_than_features_interpolates():
    """An underdetermined problem (10 points, 40 features) is solved, not rejected: residual ~0."""
    network = sin_network()
    x = np.linspace(-1.0, 1.0, 10)[:, None]
    result = solve_output_layer(network, x, np.sin(5.0 * x))
    assert result.rank <= 10 and result.residual_rms <= 1e-10


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=np.zeros((5, 1))), "x"),
    (dict(weights=-np.ones(20)), "weights"),
    (dict(block_rows=0), "block_rows"),
])
def test_bad_input(kwargs, match):
    network = sin_network()
    arguments = dict(x=np.linspace(-1, 1, 20)[:, None], target=np.zeros((20, 1)))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve_output_layer(network, **arguments)


def test_rejects_a_nonlinear_output_layer():
    network = keras.Sequential([keras.Input((1,), dtype="float64"),
                                keras.layers.Dense(4, activation="tanh", dtype="float64"),
                                keras.layers.Dense(1, activation="tanh", dtype="float64")])
    with pytest.raises(ValueError, match="linear Dense"):
        solve_output_layer(network, np.zeros((5, 1)), np.zeros((5, 1)))


def test_non_finite_target_leaves_the_layer_unchanged():
    network = sin_network()
    before = network.layers[-1].kernel.numpy().copy()
    target = np.zeros((20, 1)); target[3] = np.nan
    result = solve_output_layer(network, np.linspace(-1, 1, 20)[:, None], target)
    assert result.failed and "non-finite" in result.message
    np.testing.assert_array_equal(network.layers[-1].kernel.numpy(), before)


def smooth_2d(p):
    return (np.exp(-0.5 * (p[:, 0] ** 2 + p[:, 1] ** 2)) * np.sin(3.0 * p[:, 0] + 2.0 * p[:, 1]))[:, None]


def grid(n):
    axis = np.linspace(-1.0, 1.0, n)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


def test_2d_default_stage_is_a_least_squares_stage_and_gains_1e4(trained_run):
    """2-D default (``stage_solver="auto"``): stage 1 is a solved one-layer sin network; the data grid
    is refined until the loss has four points per feature; on 31^2 grid data of a smooth target the
    stage lowers the error on a 101^2 grid by >= 1e4 (golden_runs: adam_steps=300,
    lbfgs_iterations=(1500, 0), least_squares_width=950)."""
    regressor, history, _ = trained_run("least_squares_regression_2d")
    first, second = history.stages
    assert second.accepted, second.message
    assert (second.depth, second.adam_steps, second.lbfgs_iterations) == (1, 0, 0)
    assert second.width == 950 and second.grid_refinement == 3  # 61^2 < 4 * 950 <= 91^2 loss points; 950 < 961 data
    assert second.validation_rms <= first.validation_rms / 1e4, (first.validation_rms, second.validation_rms)
    assert regressor.model.num_stages == 2


def test_stage_solver_choice_and_bad_value():
    x = grid(12)
    settings = dict(width=(8, 12), adam_steps=50, lbfgs_iterations=0, verbose=0)  # the choice is made when planning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        trained = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", **settings).fit(x, smooth_2d(x), num_stages=2)
    assert trained.stages[1].depth == 3 and trained.stages[1].adam_steps == 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", msnn.DataDensityWarning)
        solved = msnn.MultiStageRegressor(**settings).fit(x, smooth_2d(x), num_stages=2)
    # "auto" in 2-D: a least-squares stage with no more features than the 144 data points; the grid is
    # refined until the loss has four points per feature (23^2 = 529 < 576 <= 34^2).
    assert (solved.stages[1].depth, solved.stages[1].width, solved.stages[1].grid_refinement) == (1, 144, 3)
    with pytest.raises(ValueError, match="stage_solver"):
        msnn.MultiStageRegressor(stage_solver="lstsq")
    with pytest.raises(ValueError, match="least_squares_width"):
        msnn.MultiStageRegressor(least_squares_width=0)
    for factors in (-1.0, (), (3.0, float("nan"))):
        with pytest.raises(ValueError, match="least_squares_kappa_factors"):
            msnn.MultiStageRegressor(least_squares_kappa_factors=factors)


def test_network_values_keep_float64_inputs():
    """``network_values`` evaluates in float64 in blocks, equal to calling the network to round-off
    (1e-14; blocks change the summation order), where Keras's ``predict`` casts inputs to float32
    (measured 2.6e-7 off for this layer; asserted > 1e-10)."""
    network = sin_network(input_dim=2, width=10, kappa=50.0)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (37, 2)) + 1e-9
    direct = np.asarray(network(x))
    np.testing.assert_allclose(network_values(network, x, block_rows=5), direct, rtol=0, atol=1e-14)
    assert np.max(np.abs(network.predict(x, verbose=0) - direct)) > 1e-10


def test_qr_least_squares_matches_gelsy_on_the_whole_matrix():
    # A tall, rank-deficient system (two equal columns): the same minimiser as LAPACK gelsy on the
    # whole matrix, to 1e-12 relative (both resolve the rank with pivoted QR).
    from scipy.linalg import lstsq

    from msnn_tf.least_squares import qr_least_squares

    rng = np.random.default_rng(4)
    matrix = rng.normal(size=(300, 40))
    matrix[:, 7] = matrix[:, 3]
    rhs = rng.normal(size=300)
    expected = lstsq(matrix, rhs, lapack_driver="gelsy")[0]
    solution = qr_least_squares(matrix.copy(), rhs, min_qr_numbers=0)  # the QR-first path at any size
    np.testing.assert_allclose(matrix @ solution, matrix @ expected, rtol=0, atol=1e-12 * np.linalg.norm(rhs))
    # Fewer rows than columns: handed to gelsy directly (interpolates).
    wide = rng.normal(size=(10, 20))
    np.testing.assert_allclose(wide @ qr_least_squares(wide, rhs[:10], min_qr_numbers=0), rhs[:10], rtol=0, atol=1e-12)
    # Small matrices (the default threshold): gelsy on the whole matrix, bit for bit.
    np.testing.assert_array_equal(qr_least_squares(matrix, rhs), expected)


@pytest.mark.parametrize("best_factor, extensions, solved", [
    (4.0, 3, [1.0, 2.0, 4.0, 8.0]),                # best inside the ladder: no extension
    (16.0, 3, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),   # best above it: doubled until the score worsens
    (1000.0, 2, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),  # at most `max_extensions` more
    (16.0, 0, [1.0, 2.0, 4.0, 8.0]),               # the regressor's ladder stays as given
])
def test_least_squares_ladder_extends_upwards_while_its_top_is_best(best_factor, extensions, solved):
    from msnn_tf.engine import LeastSquaresCandidate, select_least_squares

    class Hooks:
        def message(self, kind, text):
            pass

    calls = []

    def solve(factor, fit):
        calls.append(factor)
        return LeastSquaresCandidate(network=factor, score=abs(np.log2(factor / best_factor)), failed=False, message="")

    choice = select_least_squares((1.0, 2.0, 4.0, 8.0), solve, 800, 0, Hooks(), max_extensions=extensions)
    assert calls == solved
    assert choice.candidate.network == min(solved, key=lambda f: abs(np.log2(f / best_factor)))
