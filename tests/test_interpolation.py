import numpy as np
import pytest

from msnn_tf.interpolation import end_points, grid_axes, local_interpolation, refine_grid


def test_local_interpolation_reproduces_degree_seven_polynomials_on_scattered_points():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, 60)  # unsorted, non-uniform
    polynomial = lambda t: 3.0 * t**7 - t**3 + 0.5 * t + 2.0  # noqa: E731
    points = np.linspace(x.min(), x.max(), 301)
    values = local_interpolation(x, polynomial(x), points, order=8)
    assert values.shape == (301, 1)
    # Exact up to the round-off of the barycentric sums (values ~1-6; tolerance 1e-11 absolute).
    np.testing.assert_allclose(values[:, 0], polynomial(points), rtol=0, atol=1e-11)
    # At a sample the sample's value comes back exactly.
    np.testing.assert_array_equal(local_interpolation(x, polynomial(x), x[:5])[:, 0], polynomial(x[:5]))


def test_end_points_of_smooth_data_are_at_round_off():
    target = lambda t: np.log(t + 2.0) * np.cos(2.0 * t + t**3)  # noqa: E731
    x = np.linspace(-1.0, 1.0, 5000)[:, None]
    x_new, y_new = end_points(x[::-1], target(x[::-1]), cells=64)  # the order of the samples is free
    h = 2.0 / 4999
    # Per end: 2 intervals x 7 eighth points, 6 x 3 quarter points, 56 midpoints.
    assert x_new.shape == y_new.shape == (2 * (14 + 18 + 56), 1)
    steps = (x_new[:, 0] + 1.0) / h  # positions in grid steps from the left end
    left = steps[steps < 64]
    np.testing.assert_allclose(left[:7], np.arange(1, 8) / 8, rtol=0, atol=1e-9)
    np.testing.assert_allclose(left[-56:], np.arange(8, 64) + 0.5, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.sort(2.0 - (x_new[:, 0] + 1.0)) / h, np.sort(steps), rtol=0, atol=1e-9)  # symmetric
    # Degree-7 interpolation at h = 4e-4 of a smooth target: error at round-off (measured 4.4e-16).
    np.testing.assert_allclose(y_new[:, 0], target(x_new[:, 0]), rtol=0, atol=2e-15)
    # More cells than 10 samples have: each of the 9 intervals split by its distance to the nearer end
    # (4 intervals in eighths, 5 in quarters), no point repeated.
    few, _ = end_points(x[:10], target(x[:10]), cells=64)
    assert few.shape[0] == np.unique(few).shape[0] == 4 * 7 + 5 * 3
    assert few.min() > x[0, 0] and few.max() < x[9, 0]


@pytest.mark.parametrize("args, kwargs, word", [
    (([0.0, 1.0, 2.0], [0.0, 1.0], [0.5]), {}, "same length"),
    (([0.0, 1.0, 1.0], [0.0, 1.0, 2.0], [0.5]), dict(order=2), "distinct"),
    (([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.5]), dict(order=8), "order"),
    (([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.5]), dict(order=0), "order"),
])
def test_local_interpolation_rejects_bad_input(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        local_interpolation(*args, **kwargs)
    with pytest.raises(ValueError, match="cells"):
        end_points(np.zeros((3, 1)), np.zeros((3, 1)), cells=0)


def _grid(*axes):
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def test_grid_axes_finds_grids_in_any_row_order_and_rejects_the_rest():
    a, b = np.linspace(-1.0, 1.0, 7), np.array([0.0, 0.1, 0.5, 2.0])
    points = _grid(a, b)[np.random.default_rng(0).permutation(28)]
    axes = grid_axes(points)
    np.testing.assert_array_equal(axes[0], a)
    np.testing.assert_array_equal(axes[1], b)
    assert grid_axes(points[:-1]) is None  # a combination missing
    assert grid_axes(np.concatenate([points[:-1], points[:1]])) is None  # one repeated, one missing
    assert grid_axes(np.random.default_rng(1).uniform(size=(28, 2))) is None  # scattered
    assert grid_axes(np.zeros((0, 2))) is None


def test_refine_grid_is_exact_for_tensor_polynomials_and_keeps_the_data():
    axes = (np.linspace(0.0, 2.0, 9), np.sort(np.random.default_rng(2).uniform(-1.0, 1.0, 11)), np.linspace(0.0, 1.0, 10))
    points = _grid(*axes)[::-1]  # row order is free
    polynomial = lambda p: (p[:, 0] ** 7 * p[:, 1] ** 3 - 2.0 * p[:, 2] ** 5 * p[:, 0] + 1.0)[:, None]  # noqa: E731
    new, values = refine_grid(points, polynomial(points), factor=3)
    assert new.shape == (25 * 31 * 28, 3) and values.shape == (25 * 31 * 28, 1)
    # Degree <= 7 per axis: exact up to round-off (values up to ~260; tolerance 1e-12 relative).
    np.testing.assert_allclose(values, polynomial(new), rtol=0, atol=1e-12 * np.abs(polynomial(new)).max())
    # Every data point is on the refined grid, with its value bit for bit.
    on_data = np.isin(new[:, 0], axes[0]) & np.isin(new[:, 1], axes[1]) & np.isin(new[:, 2], axes[2])
    assert on_data.sum() == points.shape[0]
    order = np.lexsort(new[on_data].T[::-1])
    data_order = np.lexsort(points.T[::-1])
    np.testing.assert_array_equal(values[on_data][order], polynomial(points)[data_order])


def test_refine_grid_of_smooth_2d_data_converges_at_order_eight():
    target = lambda p: (np.exp(-0.5 * (p[:, 0] ** 2 + p[:, 1] ** 2)) * np.sin(3.0 * p[:, 0] + 2.0 * p[:, 1]))[:, None]  # noqa: E731
    errors = []
    for n in (51, 101):
        points = _grid(np.linspace(-1.0, 1.0, n), np.linspace(-1.0, 1.0, n))
        new, values = refine_grid(points, target(points), factor=2)
        assert new.shape == ((2 * n - 1) ** 2, 2)
        errors.append(np.sqrt(np.mean((values - target(new)) ** 2)))
    # Measured 3.0e-10 and 9.0e-13 (ratio 338; h^8 predicts 256): demand a ratio >= 100 and 1e-12 at 101^2.
    assert errors[1] < 1e-12 and errors[0] / errors[1] > 100


@pytest.mark.parametrize("args, kwargs, word", [
    ((np.random.default_rng(0).uniform(size=(16, 2)), np.zeros(16), 2), {}, "grid"),
    ((_grid(np.arange(9.0), np.arange(9.0)), np.zeros(80), 2), {}, "rows"),
    ((_grid(np.arange(9.0), np.arange(9.0)), np.zeros(81), 0), {}, "factor"),
    ((_grid(np.arange(9.0), np.arange(5.0)), np.zeros(45), 2), {"order": 8}, "order"),
])
def test_refine_grid_rejects_bad_input(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        refine_grid(*args, **kwargs)
