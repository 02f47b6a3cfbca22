import numpy as np
import pytest
import tensorflow as tf

import msnn_tf as msnn
from msnn_tf.derivatives import parse_derivative, partial_derivatives

RTOL = 1e-12  # relative tolerance of every analytic comparison (float64)


def u_fn(x):
    """u(x, t) = sin(2x) exp(t/2) + x^3 t^2, two outputs: u and u^2 / 10 (independent rows)."""
    a = tf.sin(2.0 * x[:, :1]) * tf.exp(0.5 * x[:, 1:]) + x[:, :1] ** 3 * x[:, 1:] ** 2
    return tf.concat([a, 0.1 * a * a], axis=1)


def exact(x, t, key):
    s, c, e = np.sin(2 * x), np.cos(2 * x), np.exp(0.5 * t)
    table = {
        "": s * e + x**3 * t**2,
        "x": 2 * c * e + 3 * x**2 * t**2,
        "xx": -4 * s * e + 6 * x * t**2,
        "xxx": -8 * c * e + 6 * t**2,
        "xxxx": 16 * s * e,
        "t": 0.5 * s * e + 2 * x**3 * t,
        "tt": 0.25 * s * e + 2 * x**3,
        "xt": c * e + 6 * x**2 * t,
        "xxtt": -s * e + 12 * x,
        "xttt": 0.25 * c * e,
        "xxxt": -4 * c * e + 12 * t,
    }
    return table[key]


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, size=(40, 2))


KEYS = ["", "x", "xx", "xxx", "xxxx", "t", "tt", "xt", "xxtt", "xttt", "xxxt"]


def test_all_orders_up_to_four_match_analytic(points):
    d = partial_derivatives(u_fn, tf.constant(points), KEYS, axis_names="xt")
    x, t = points[:, :1], points[:, 1:]
    for key in KEYS:
        value = d[key].numpy()
        assert value.shape == (40, 2)
        np.testing.assert_allclose(value[:, :1], exact(x, t, key), rtol=RTOL, atol=RTOL, err_msg=key)


def test_second_output_by_chain_rule(points):
    d = partial_derivatives(u_fn, tf.constant(points), ["", "x", "xx"], axis_names="xt")
    a, a_x, a_xx = (d[k].numpy()[:, 0] for k in ("", "x", "xx"))
    # (a^2/10)'' = (2 a'^2 + 2 a a'') / 10 (tolerance 1e-12 relative)
    np.testing.assert_allclose(d["xx"].numpy()[:, 1], 0.2 * (a_x**2 + a * a_xx), rtol=RTOL, atol=RTOL)


def test_keys_tuples_dicts_and_laplacian(points):
    d = partial_derivatives(u_fn, tf.constant(points), [(0, 0), {1: 2}, "u_x"], axis_names="xt")
    np.testing.assert_array_equal(d[(0, 0)].numpy(), d["xx"].numpy())
    np.testing.assert_array_equal(d[{1: 2}].numpy(), d["tt"].numpy())
    x, t = points[:, :1], points[:, 1:]
    np.testing.assert_allclose(d.laplacian().numpy()[:, :1], exact(x, t, "xx") + exact(x, t, "tt"), rtol=RTOL, atol=RTOL)
    assert "x" in d and "xxxx" not in d
    with pytest.raises(KeyError, match="not requested"):
        d["xxxx"]


def test_network_derivatives_inside_tf_function_and_weight_gradients():
    network = msnn.build_stage_network(2, width=8, depth=2, kappa=3.0, first_activation="sin", seed=1)
    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, size=(16, 2)))

    @tf.function
    def residual_loss():
        d = partial_derivatives(network, x, ["xx", "y"], axis_names="xy")
        return tf.reduce_mean(tf.square(d["xx"] - d["y"]))

    with tf.GradientTape() as tape:
        loss = residual_loss()
    gradients = tape.gradient(loss, network.trainable_variables)
    assert np.isfinite(float(loss)) and float(loss) > 0
    # Every weight reaches the derivatives except the output bias, which no derivative sees.
    missing = [v.path for v, g in zip(network.trainable_variables, gradients) if g is None]
    assert len(missing) == 1 and missing[0].endswith("bias") and network.trainable_variables[-1].path == missing[0]
    # Third derivative along x of the network against a central difference of the exact second derivative.
    h = 1e-4
    shift = tf.constant([[h, 0.0]], tf.float64)
    plus = partial_derivatives(network, x + shift, "xx", axis_names="xy")["xx"]
    minus = partial_derivatives(network, x - shift, "xx", axis_names="xy")["xx"]
    third = partial_derivatives(network, x, "xxx", axis_names="xy")["xxx"]
    np.testing.assert_allclose(third.numpy(), ((plus - minus) / (2 * h)).numpy(), rtol=1e-6, atol=1e-6)


def test_partials_are_linear_and_scale():
    x = tf.constant([[0.3, -0.2]], tf.float64)
    a = partial_derivatives(u_fn, x, ["x", "xt"], axis_names="xt")
    total = (a + a.scaled(2.0))
    np.testing.assert_allclose(total["xt"].numpy(), 3.0 * a["xt"].numpy(), rtol=1e-15)


@pytest.mark.parametrize("key, word", [("xz", "unknown axis"), ((0, 5), "out of range"), ({0: -1}, "non-negative"),
                                       (3.5, "must be a string")])
def test_bad_keys_are_named(key, word):
    with pytest.raises(ValueError, match=word):
        parse_derivative(key, 2, "xt")


def test_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        partial_derivatives(u_fn, tf.zeros((3,), tf.float64), "x", axis_names="x")
    with pytest.raises(ValueError, match="axis_names"):
        partial_derivatives(u_fn, tf.zeros((3, 2), tf.float64), "x", axis_names="xyz")
