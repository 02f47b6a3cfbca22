import numpy as np
import pytest

from msnn_tf.interpolation import end_points, local_interpolation


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
