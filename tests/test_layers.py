import math

import keras
import numpy as np
import pytest

import msnn_tf as msnn
from msnn_tf.layers import xavier_variance


def test_input_scaling_maps_box_to_unit_interval():
    layer = msnn.InputScaling([-2.0, 0.0], [3.0, 10.0])
    x = np.array([[-2.0, 0.0], [3.0, 10.0], [0.5, 5.0]])
    np.testing.assert_allclose(layer(x).numpy(), [[-1, -1], [1, 1], [0, 0]], rtol=0, atol=1e-15)


@pytest.mark.parametrize("lower, upper", [([0.0], [0.0]), ([1.0], [0.0]), ([0.0, 1.0], [1.0]), ([np.nan], [1.0]), ([], [])])
def test_input_scaling_rejects_bad_bounds(lower, upper):
    with pytest.raises(ValueError, match="lower|upper"):
        msnn.InputScaling(lower, upper)


def test_scaled_first_layer_formula_and_shape():
    layer = msnn.ScaledFirstLayer(7, kappa=12.5, activation="sin", bias_initializer="phase", seed=3)
    x = np.linspace(-1, 1, 11).reshape(-1, 1)
    out = layer(x).numpy()
    assert out.shape == (11, 7)
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    np.testing.assert_allclose(out, np.sin(12.5 * (x @ kernel) + bias), rtol=0, atol=1e-15)
    assert layer.kernel.dtype == "float64"
    # kappa is a setting, not a weight: only W and b train.
    assert len(layer.trainable_weights) == 2
    # eq. 2.8: kappa_hat = kappa * sqrt(2 / (fan_in + fan_out)).
    assert layer.kappa_hat == pytest.approx(12.5 * math.sqrt(2.0 / 8.0), rel=1e-15)


def test_scaled_first_layer_xavier_normal_statistics():
    layer = msnn.ScaledFirstLayer(400, kappa=1.0, activation="tanh", seed=0)
    layer.build((None, 400))
    std = float(np.std(layer.kernel.numpy()))
    # Keras' GlorotNormal truncates at 2 sigma and rescales so that the std is sqrt(Var) (eq. 2.8).
    assert std == pytest.approx(math.sqrt(xavier_variance(400, 400)), rel=0.03)
    assert float(np.max(np.abs(layer.kernel.numpy()))) <= 2.0 * std / 0.87962566103423978 * 1.0001


@pytest.mark.parametrize("kwargs, word", [
    (dict(units=0), "units"), (dict(units=-3), "units"), (dict(units=4, kappa=0.0), "kappa"),
    (dict(units=4, kappa=-1.0), "kappa"), (dict(units=4, kappa=float("nan")), "kappa"),
    (dict(units=4, activation="relu"), "activation"), (dict(units=4, bias_initializer="ones"), "bias_initializer"),
])
def test_scaled_first_layer_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.ScaledFirstLayer(**kwargs)


def test_layer_config_round_trip():
    layer = msnn.ScaledFirstLayer(5, kappa=3.0, activation="sin", bias_initializer="phase", seed=9, name="first")
    clone = msnn.ScaledFirstLayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    scaling = msnn.InputScaling([-1.0, 2.0], [1.0, 4.0])
    assert msnn.InputScaling.from_config(scaling.get_config()).get_config() == scaling.get_config()
    # Registered: a generic Keras deserialisation finds the class.
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, msnn.ScaledFirstLayer) and restored.kappa == 3.0


def test_build_stage_network_layout():
    net = msnn.build_stage_network(2, width=20, depth=3, kappa=40.0, first_activation="sin", seed=1)
    # 2-20-20-20-1: (2*20+20) + 2*(20*20+20) + (20+1)
    assert net.count_params() == 60 + 840 + 21
    assert net(np.zeros((5, 2))).shape == (5, 1)
    assert all(w.dtype == "float64" for w in net.weights)
    first = net.layers[0]
    assert isinstance(first, msnn.ScaledFirstLayer) and first.kappa == 40.0 and first.activation == "sin"
    assert [layer.activation.__name__ for layer in net.layers[1:3]] == ["tanh", "tanh"]


def test_build_stage_network_is_seeded():
    a = msnn.build_stage_network(1, seed=5)
    b = msnn.build_stage_network(1, seed=5)
    x = np.linspace(-1, 1, 9)[:, None]
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


@pytest.mark.parametrize("kwargs, word", [
    (dict(input_dim=0), "input_dim"), (dict(input_dim=1, width=0), "width"), (dict(input_dim=1, depth=-1), "depth"),
    (dict(input_dim=1, kappa=0.0), "kappa"), (dict(input_dim=1, first_activation="relu"), "first_activation"),
    (dict(input_dim=1, bias_initializer="ones"), "bias_initializer"),
])
def test_build_stage_network_rejects_bad_sizes(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.build_stage_network(**kwargs)


def test_build_stage_network_with_first_layer_frequencies():
    frequencies = np.array([[1.5], [-4.0], [7.25]])
    net = msnn.build_stage_network(1, width=3, kappa=2.0, first_activation="sin", bias_initializer="phase",
                                   seed=0, first_layer_frequencies=frequencies)
    first = net.layers[0]
    x = np.linspace(-1, 1, 21)[:, None]
    expected = np.sin(2 * np.pi * x @ frequencies.T + first.bias.numpy())
    np.testing.assert_allclose(first(x).numpy(), expected, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="first_layer_frequencies"):
        msnn.build_stage_network(1, width=4, first_layer_frequencies=frequencies)


def test_glorot_biases_in_every_layer():
    """``bias_initializer="glorot"`` (the reference PINN script): every bias ~ N(0, 2/(fan_in+fan_out))
    truncated at 2 sigma; the default keeps the hidden biases at zero."""
    width = 400
    net = msnn.build_stage_network(1, width=width, depth=3, kappa=5.0, first_activation="sin", bias_initializer="glorot", seed=2)
    sigmas = [math.sqrt(xavier_variance(1, width)), math.sqrt(xavier_variance(width, width)), math.sqrt(xavier_variance(width, width))]
    biases = [layer.get_weights()[1] for layer in net.layers]
    # Std of N(0, s^2) truncated at 2s is 0.8796 s; 400 samples: 8% tolerance (> 4 standard errors).
    for bias, sigma in zip(biases[:3], sigmas):
        assert np.max(np.abs(bias)) <= 2.0 * sigma * (1 + 1e-12)
        assert float(np.std(bias)) == pytest.approx(0.87962566103423978 * sigma, rel=0.08)
    assert abs(float(biases[3][0])) <= 2.0 * math.sqrt(xavier_variance(width, 1))
    plain = msnn.build_stage_network(1, width=8, kappa=5.0, first_activation="sin", seed=2)
    assert all(not np.any(layer.get_weights()[1]) for layer in plain.layers)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(net.layers[0]))
    assert restored.bias_initializer == "glorot"
