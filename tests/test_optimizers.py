import numpy as np
import pytest
import tensorflow as tf

import msnn_tf as msnn


def rosenbrock(position):
    with tf.GradientTape() as tape:
        tape.watch(position)
        x, y = position[0], position[1]
        value = (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2
    return value, tape.gradient(value, position)


def test_lbfgs_rosenbrock_to_1e_10():
    start = tf.constant([-1.2, 1.0], tf.float64)
    calls = []
    result = msnn.lbfgs_minimize(rosenbrock, start, max_iterations=500, block_size=20,
                                 callback=lambda i, loss, t: calls.append((i, loss)))
    np.testing.assert_allclose(result.position.numpy(), [1.0, 1.0], rtol=0, atol=1e-10)
    assert result.objective_value < 1e-20
    assert not result.failed and result.num_iterations > 10
    assert calls and calls[-1][0] == result.num_iterations
    assert result.losses.size == len(calls)
    with pytest.raises(AttributeError):
        result.position = None  # results are immutable


def test_lbfgs_resumes_in_blocks_like_one_run():
    start = tf.constant([-1.2, 1.0], tf.float64)
    one = msnn.lbfgs_minimize(rosenbrock, start, max_iterations=30, block_size=30, jit_compile=False)
    blocks = msnn.lbfgs_minimize(rosenbrock, start, max_iterations=30, block_size=7, jit_compile=False)
    assert blocks.num_iterations == one.num_iterations == 30
    np.testing.assert_allclose(blocks.position.numpy(), one.position.numpy(), rtol=1e-12)
    # Per-block records: 5 blocks (7, 14, 21, 28, 30 iterations), evaluation counts rising to the total.
    np.testing.assert_array_equal(blocks.iterations, [7, 14, 21, 28, 30])
    assert len(blocks.evaluations) == 5 and np.all(np.diff(blocks.evaluations) > 0)
    assert blocks.evaluations[-1] == blocks.num_objective_evaluations == one.num_objective_evaluations


def test_adam_quadratic_and_history():
    target = tf.constant([1.0, -2.0, 3.0], tf.float64)

    def quadratic(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            value = tf.reduce_sum((position - target) ** 2)
        return value, tape.gradient(value, position)

    result = msnn.adam_minimize(quadratic, tf.zeros(3, tf.float64), num_steps=3000, learning_rate=0.05,
                                decay_rate=0.5, decay_steps=300, block_size=1000)
    np.testing.assert_allclose(result.position.numpy(), target.numpy(), atol=1e-6)
    assert result.num_steps == 3000 and result.losses.shape == (3000,)
    assert result.losses[0] == pytest.approx(14.0, rel=1e-15)
    assert not result.failed


def test_adam_stops_on_non_finite_loss_and_keeps_best():
    def overflowing(position):
        # Adam climbs x by ~learning_rate per step; past x = 1 the square root is NaN.
        with tf.GradientTape() as tape:
            tape.watch(position)
            value = tf.reduce_sum(-position + 0.0 * tf.sqrt(1.0 - position))
        return value, tape.gradient(value, position)

    result = msnn.adam_minimize(overflowing, tf.constant([0.0], tf.float64), num_steps=200, learning_rate=0.3,
                                block_size=50)
    assert result.failed and "non-finite" in result.message
    assert np.isfinite(result.objective_value) and np.all(np.isfinite(result.position.numpy()))
    assert result.num_steps < 10
    assert result.objective_value == pytest.approx(-float(result.position.numpy()[0]), rel=1e-15)


@pytest.mark.parametrize("kwargs, word", [
    (dict(num_steps=-1), "num_steps"), (dict(num_steps=5, learning_rate=0.0), "learning_rate"),
    (dict(num_steps=5, decay_rate=0.0), "decay_rate"), (dict(num_steps=5, block_size=0), "block_size"),
])
def test_adam_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.adam_minimize(rosenbrock, tf.zeros(2, tf.float64), **kwargs)


@pytest.mark.parametrize("kwargs, word", [
    (dict(max_iterations=-1), "max_iterations"), (dict(num_correction_pairs=0), "num_correction_pairs"),
    (dict(block_size=0), "block_size"),
])
def test_lbfgs_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.lbfgs_minimize(rosenbrock, tf.zeros(2, tf.float64), **kwargs)


def _shifted_quadratic(shift):
    target = tf.constant([1.0, -2.0, 3.0], tf.float64)

    def value_and_gradients(p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = tf.reduce_sum((p - target - shift) ** 2)
        return loss, tape.gradient(loss, p)

    return value_and_gradients


def test_adam_records_a_vector_before_every_step():
    result = msnn.adam_minimize(_shifted_quadratic(0.0), np.zeros(3), 730, learning_rate=0.05, block_size=200,
                                record=lambda p: tf.stack([tf.reduce_sum(p), p[0]]))
    assert result.records.shape == (730, 2)
    np.testing.assert_array_equal(result.records[0], [0.0, 0.0])
    # The first Adam step moves each coordinate by the learning rate towards (1, -2, 3): sum 0.05, p0 0.05
    # (tolerance 1e-9: Adam's epsilon 1e-8 over gradients of size 2-6).
    np.testing.assert_allclose(result.records[1], [0.05, 0.05], rtol=0, atol=1e-9)
    assert msnn.adam_minimize(_shifted_quadratic(0.0), np.zeros(3), 5).records is None


def test_adam_resamples_at_multiples_and_keeps_the_last_position():
    shift = tf.Variable(0.0, dtype=tf.float64)
    calls = []

    def resample(step):
        calls.append(step)
        shift.assign(1e-3 * len(calls))

    result = msnn.adam_minimize(_shifted_quadratic(shift), np.zeros(3), 1000, learning_rate=0.05, block_size=300,
                                resample=resample, resample_every=100)
    assert calls == list(range(100, 1000, 100))
    # The last objective moved the minimum by 9e-3: the result follows it (the last position, 1e-3).
    np.testing.assert_allclose(result.position.numpy(), [1.009, -1.991, 3.009], rtol=0, atol=1e-3)
    with pytest.raises(ValueError, match="resample_every"):
        msnn.adam_minimize(_shifted_quadratic(0.0), np.zeros(3), 10, resample=resample)


def test_adam_halves_the_learning_rate_on_a_plateau():
    # A constant objective plateaus at once: cuts every 2 * window steps (checked at block ends).
    def flat(p):
        return tf.reduce_sum(p * 0.0) + 1.0, tf.zeros_like(p)

    result = msnn.adam_minimize(flat, np.zeros(2), 1000, block_size=100, plateau_window=100)
    assert result.learning_rate_cuts == (200, 400, 600, 800)
    # A steadily falling objective never plateaus.
    falling = msnn.adam_minimize(_shifted_quadratic(0.0), np.zeros(3), 300, learning_rate=1e-3, block_size=50,
                                 plateau_window=50)
    assert falling.learning_rate_cuts == ()
    with pytest.raises(ValueError, match="plateau_factor"):
        msnn.adam_minimize(flat, np.zeros(2), 10, plateau_window=5, plateau_factor=1.5)


def exponential_fit():
    """Rows of an exact two-exponential fit ``a e^{-b t} + c e^{-d t}`` (a zero-residual problem) and
    their analytic Jacobian."""
    t = np.linspace(0.0, 4.0, 200)
    true = np.array([1.5, 0.7, -0.8, 3.1])

    def model(p):
        return p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t)

    data = model(true)

    def rows(p):
        return model(p) - data

    def rows_and_jacobian(p):
        e1, e2 = np.exp(-p[1] * t), np.exp(-p[3] * t)
        return rows(p), np.stack([e1, -p[0] * t * e1, e2, -p[2] * t * e2], axis=1)

    return rows, rows_and_jacobian, true


def test_levenberg_marquardt_finds_an_exact_fit_to_round_off():
    """From a start 40 % off in every parameter the damped Gauss-Newton steps find the exact parameters
    (a zero-residual problem converges quadratically): parameters to 1e-12, objective <= 1e-26."""
    rows, rows_and_jacobian, true = exponential_fit()
    result = msnn.levenberg_marquardt_minimize(rows_and_jacobian, rows, [1.0, 1.0, -1.0, 2.0], max_iterations=200)
    assert not result.failed
    assert result.objective_value <= 1e-26, result
    np.testing.assert_allclose(result.position, true, rtol=0, atol=1e-12)
    assert result.initial_value > 1.0
    assert np.all(np.diff(result.losses) <= 0)  # monotone: only steps that lower the objective are kept


def test_levenberg_marquardt_stops_when_steps_stop_paying_and_on_the_cap():
    """A least-squares problem with a non-zero minimum (noisy data): the run ends by the gain rule at the
    linear least-squares solution of the same rows (objective within 1e-12 relative), and
    ``max_iterations`` caps it."""
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 50)
    data = np.sin(3 * t) + 0.1 * rng.normal(size=t.size)
    basis = np.stack([np.ones_like(t), t, t**2], axis=1)

    def rows(p):
        return basis @ p - data

    result = msnn.levenberg_marquardt_minimize(lambda p: (rows(p), basis), rows, np.zeros(3), max_iterations=100)
    best = np.linalg.lstsq(basis, data, rcond=None)[0]
    assert "lowered the objective by less than" in result.message or "did not lower" in result.message, result.message
    assert abs(result.objective_value - float(rows(best) @ rows(best))) <= 1e-12 * result.objective_value
    capped = msnn.levenberg_marquardt_minimize(lambda p: (rows(p), basis), rows, np.zeros(3), max_iterations=1)
    assert capped.num_iterations == 1 and capped.message.startswith("reached max_iterations")


def test_levenberg_marquardt_reports_a_non_finite_start_and_rejects_bad_arguments():
    rows, rows_and_jacobian, _ = exponential_fit()
    result = msnn.levenberg_marquardt_minimize(rows_and_jacobian, rows, [np.nan, 1.0, 1.0, 1.0])
    assert result.failed and "non-finite" in result.message
    for kwargs, word in [(dict(max_iterations=-1), "max_iterations"), (dict(min_gain=1.0), "min_gain"),
                         (dict(initial_damping=0.0), "initial_damping"), (dict(patience=0), "patience")]:
        with pytest.raises(ValueError, match=word):
            msnn.levenberg_marquardt_minimize(rows_and_jacobian, rows, [1.0, 1.0, -1.0, 2.0], **kwargs)
