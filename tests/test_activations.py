"""msnn_tf.activations: the XLA-vectorisable float64 sine and cosine of the first layer."""

import numpy as np
import pytest
import tensorflow as tf

from msnn_tf import activations


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_values_match_numpy_to_one_ulp(name):
    z = np.concatenate([np.linspace(-1e5, 1e5, 400001), np.linspace(-10.0, 10.0, 40001), [0.0, np.pi / 4, -np.pi / 2]])
    ours = getattr(activations, name)(tf.constant(z)).numpy()
    # Tolerance: one unit in the last place of 1 (2.2e-16), fdlibm's kernels' accuracy.
    np.testing.assert_allclose(ours, getattr(np, name)(z), rtol=0, atol=2.3e-16)


def test_values_inside_xla_match_eager():
    z = tf.constant(np.linspace(-50.0, 50.0, 1001))
    compiled = tf.function(activations.sin, jit_compile=True)(z).numpy()
    np.testing.assert_allclose(compiled, np.sin(z.numpy()), rtol=0, atol=2.3e-16)


def test_derivatives_up_to_order_four_are_exact():
    z = tf.constant(np.linspace(-30.0, 30.0, 601))
    derivatives = []
    with tf.GradientTape() as t4:
        t4.watch(z)
        with tf.GradientTape() as t3:
            t3.watch(z)
            with tf.GradientTape() as t2:
                t2.watch(z)
                with tf.GradientTape() as t1:
                    t1.watch(z)
                    y = activations.sin(z)
                derivatives.append(t1.gradient(y, z))
            derivatives.append(t2.gradient(derivatives[-1], z))
        derivatives.append(t3.gradient(derivatives[-1], z))
    derivatives.append(t4.gradient(derivatives[-1], z))
    x = z.numpy()
    expected = [np.cos(x), -np.sin(x), -np.cos(x), np.sin(x)]
    for order, (got, want) in enumerate(zip(derivatives, expected), start=1):
        # Tolerance 2.3e-16 absolute: each derivative is itself one of the kernels, not a difference.
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=2.3e-16, err_msg=f"order {order}")


def test_float32_uses_tensorflow_sin():
    z = tf.constant(np.linspace(-5, 5, 11), tf.float32)
    np.testing.assert_array_equal(activations.sin(z).numpy(), tf.sin(z).numpy())
    assert activations.cos(z).dtype == tf.float32
