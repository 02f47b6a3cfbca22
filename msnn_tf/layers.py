"""Keras layers of a stage network: input scaling and the scaled first layer.

The first hidden layer of every stage is ``act(kappa * (x @ W) + b)`` (paper, section 2.2.2).
``kappa`` multiplies the matrix product only, never the bias, exactly as the authors' reference
code does. With Xavier-normal weights of variance ``Var = 2 / (fan_in + fan_out)`` the *modified*
scale factor of eq. (2.8) is ``kappa_hat = kappa * sqrt(Var)``; eq. (2.9) asks for
``kappa_hat > pi * f_d`` where ``f_d`` is the dominant frequency of the data being fitted.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from msnn_tf import activations

__all__ = ["InputScaling", "ScaledFirstLayer", "FIRST_ACTIVATIONS", "BIAS_INITIALIZERS", "glorot_bias_initializer",
           "xavier_variance"]

#: Activations accepted by :class:`ScaledFirstLayer`.
FIRST_ACTIVATIONS = ("sin", "tanh")

#: Bias initialisations accepted by :class:`ScaledFirstLayer` and ``build_stage_network``.
BIAS_INITIALIZERS = ("zeros", "phase", "glorot")


def xavier_variance(fan_in: int, fan_out: int) -> float:
    """Variance ``2 / (fan_in + fan_out)`` of Xavier (Glorot) normal initialisation (eq. 2.8)."""
    if fan_in <= 0 or fan_out <= 0:
        raise ValueError(f"fan_in and fan_out must be positive, got fan_in={fan_in}, fan_out={fan_out}")
    return 2.0 / (fan_in + fan_out)


def glorot_bias_initializer(fan_in: int, fan_out: int, seed: int | None = None) -> keras.initializers.Initializer:
    """Biases drawn like the reference PINN script's: ``N(0, 2 / (fan_in + fan_out))`` truncated at
    two standard deviations (the standard deviation before truncation is the Glorot one)."""
    return keras.initializers.TruncatedNormal(mean=0.0, stddev=math.sqrt(xavier_variance(fan_in, fan_out)), seed=seed)


def _as_bounds(name: str, value) -> list[float]:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    return [float(v) for v in array]


@keras.saving.register_keras_serializable(package="msnn_tf")
class InputScaling(keras.layers.Layer):
    """Maps inputs from the box ``[lower, upper]`` to ``[-1, 1]`` per axis.

    ``H = 2 (X - lower) / (upper - lower) - 1``, the normalisation of Algorithm 1, step 1.

    Args:
        lower: Lower bound per input axis (a scalar or a sequence of length ``d``).
        upper: Upper bound per input axis; every entry must exceed the matching ``lower``.
        **kwargs: Forwarded to :class:`keras.layers.Layer` (``dtype`` defaults to float64).

    Raises:
        ValueError: if the bounds are empty, non-finite, of different lengths or not increasing.
    """

    def __init__(self, lower, upper, **kwargs):
        kwargs.setdefault("dtype", "float64")
        super().__init__(**kwargs)
        self.lower = _as_bounds("lower", lower)
        self.upper = _as_bounds("upper", upper)
        if len(self.lower) != len(self.upper):
            raise ValueError(
                f"`lower` and `upper` must have the same length, got {len(self.lower)} and {len(self.upper)}"
            )
        for lo, hi in zip(self.lower, self.upper):
            if not hi > lo:
                raise ValueError(f"`upper` must exceed `lower` on every axis, got lower={self.lower}, upper={self.upper}")

    def call(self, inputs):
        lower = ops.convert_to_tensor(np.asarray(self.lower), dtype=self.compute_dtype)
        upper = ops.convert_to_tensor(np.asarray(self.upper), dtype=self.compute_dtype)
        return 2.0 * (inputs - lower) / (upper - lower) - 1.0

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"lower": list(self.lower), "upper": list(self.upper)})
        return config


@keras.saving.register_keras_serializable(package="msnn_tf")
class ScaledFirstLayer(keras.layers.Layer):
    """First hidden layer ``act(kappa * (x @ W) + b)`` of a stage network (section 2.2.2).

    ``kappa`` is a fixed setting, not a trainable weight. A float64 ``sin`` runs through
    :func:`msnn_tf.activations.sin` (as exact as ``tf.sin``, and vectorised by XLA on CPU). ``W`` starts Xavier-normal (truncated,
    standard deviation ``sqrt(2 / (fan_in + units))``), so the modified scale factor of eq. (2.8) is
    ``kappa_hat = kappa * sqrt(Var)``; see :attr:`kappa_hat`.

    Args:
        units: Number of hidden units, a positive integer.
        kappa: Scale factor multiplying ``x @ W``; must be positive and finite.
        activation: ``"sin"`` (higher stages) or ``"tanh"`` (first stage).
        bias_initializer: ``"zeros"`` (the reference regression script), ``"phase"``: uniform in
            ``[-pi, pi]``, which gives a ``sin`` layer features of every phase, or ``"glorot"``: normal
            with the Glorot standard deviation ``sqrt(2 / (fan_in + units))``, truncated at two
            standard deviations (the reference PINN script initialises every bias so).
        seed: Integer seed of the initialisers, or ``None``.
        **kwargs: Forwarded to :class:`keras.layers.Layer` (``dtype`` defaults to float64).

    Raises:
        ValueError: on a non-positive ``units`` or ``kappa``, or an unknown activation/bias option.
    """

    def __init__(self, units, kappa=1.0, activation="sin", bias_initializer="zeros", seed=None, **kwargs):
        kwargs.setdefault("dtype", "float64")
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"`units` must be a positive integer, got {units!r}")
        kappa_value = float(kappa)
        if not math.isfinite(kappa_value) or kappa_value <= 0:
            raise ValueError(f"`kappa` must be positive and finite, got {kappa!r}")
        if activation not in FIRST_ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {FIRST_ACTIVATIONS}, got {activation!r}")
        if bias_initializer not in BIAS_INITIALIZERS:
            raise ValueError(f"`bias_initializer` must be one of {BIAS_INITIALIZERS}, got {bias_initializer!r}")
        self.units = int(units)
        self.kappa = kappa_value
        self.activation = activation
        self.bias_initializer = bias_initializer
        self.seed = None if seed is None else int(seed)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel",
            shape=(fan_in, self.units),
            initializer=keras.initializers.GlorotNormal(seed=self.seed),
            dtype=self.variable_dtype,
        )
        bias_seed = None if self.seed is None else self.seed + 7919
        if self.bias_initializer == "phase":
            bias_init = keras.initializers.RandomUniform(-math.pi, math.pi, seed=bias_seed)
        elif self.bias_initializer == "glorot":
            bias_init = glorot_bias_initializer(fan_in, self.units, seed=bias_seed)
        else:
            bias_init = keras.initializers.Zeros()
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=bias_init, dtype=self.variable_dtype)

    @property
    def kappa_hat(self) -> float:
        """Modified scale factor ``kappa * sqrt(Var)`` of eq. (2.8); needs a built layer."""
        fan_in = int(self.kernel.shape[0])
        return self.kappa * math.sqrt(xavier_variance(fan_in, self.units))

    def call(self, inputs):
        z = self.kappa * ops.matmul(inputs, self.kernel) + self.bias
        return activations.sin(z) if self.activation == "sin" else ops.tanh(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kappa": self.kappa,
                "activation": self.activation,
                "bias_initializer": self.bias_initializer,
                "seed": self.seed,
            }
        )
        return config
