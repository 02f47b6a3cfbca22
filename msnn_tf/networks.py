"""Builder of one stage's network: the scaled first layer, tanh hidden layers, a linear output."""

from __future__ import annotations

import keras
import numpy as np

from msnn_tf.layers import BIAS_INITIALIZERS, FIRST_ACTIVATIONS, ScaledFirstLayer, glorot_bias_initializer
from msnn_tf.validation import check_float_dtype, positive_int

__all__ = ["build_stage_network"]


def build_stage_network(
    input_dim: int,
    width: int = 20,
    depth: int = 3,
    kappa: float = 1.0,
    first_activation: str = "tanh",
    output_dim: int = 1,
    bias_initializer: str = "zeros",
    seed: int | None = None,
    name: str | None = None,
    first_layer_frequencies=None,
    dtype: str = "float64",
) -> keras.Sequential:
    """Builds the network ``u_j(x; kappa)`` of one stage (paper, sections 2.2.2 and 2.3).

    Layout: ``input_dim -> width (first_activation, scaled by kappa) -> width (tanh) x (depth - 1)
    -> output_dim (linear)``, float64 unless ``dtype`` says otherwise, Xavier-normal weights. The network expects inputs that are
    already scaled to ``[-1, 1]`` (the :class:`~msnn_tf.StagedModel` does that once for all stages).

    Args:
        input_dim: Number of input coordinates ``d``.
        width: Units per hidden layer.
        depth: Number of hidden layers, the scaled first layer included (3 gives ``1-20-20-20-1``).
        kappa: Scale factor of the first layer (eq. 2.8-2.9).
        first_activation: ``"tanh"`` for the first stage, ``"sin"`` for higher stages.
        output_dim: Number of outputs.
        bias_initializer: Bias initialisation of the first layer (see :class:`ScaledFirstLayer`); the
            other layers' biases start at zero, except with ``"glorot"``, which draws every layer's
            biases from the truncated normal of that layer's Glorot standard deviation (as the
            reference PINN script does).
        seed: Seed of every initialiser; layer ``i`` uses ``seed + i``.
        name: Keras name of the model.
        first_layer_frequencies: Optional ``(width, d)`` array of frequency vectors (cycles per unit
            of the scaled input, e.g. from :func:`msnn_tf.spectral.sample_spectrum_frequencies`).
            The first layer's kernel then starts at ``W = 2 pi F^T / kappa`` so that unit ``i``
            computes ``act(2 pi f_i . x + b_i)``: a spectrum-informed start instead of Xavier-normal.
        dtype: ``"float64"`` (default) or ``"float32"`` (e.g. to show the float32 limit, Fig. 1).

    Returns:
        A built :class:`keras.Sequential` with weights of ``dtype``.

    Raises:
        ValueError: on non-positive sizes, a non-positive ``kappa`` or an unknown activation.

    Example:
        >>> net = build_stage_network(1, width=20, depth=3, kappa=40.0, first_activation="sin")
        >>> net.count_params()
        901
    """
    input_dim = positive_int("input_dim", input_dim)
    width = positive_int("width", width)
    depth = positive_int("depth", depth)
    output_dim = positive_int("output_dim", output_dim)
    if first_activation not in FIRST_ACTIVATIONS:
        raise ValueError(f"`first_activation` must be one of {FIRST_ACTIVATIONS}, got {first_activation!r}")
    if bias_initializer not in BIAS_INITIALIZERS:
        raise ValueError(f"`bias_initializer` must be one of {BIAS_INITIALIZERS}, got {bias_initializer!r}")
    dtype = check_float_dtype("dtype", dtype)

    def layer_seed(i):
        return None if seed is None else int(seed) + i

    def dense_bias(i, fan_in, fan_out):
        if bias_initializer != "glorot":
            return "zeros"
        return glorot_bias_initializer(fan_in, fan_out, seed=None if seed is None else layer_seed(i) + 7919)

    layers = [
        keras.Input(shape=(input_dim,), dtype=dtype),
        ScaledFirstLayer(
            width,
            kappa=kappa,
            activation=first_activation,
            bias_initializer=bias_initializer,
            seed=layer_seed(0),
            dtype=dtype,
        ),
    ]
    for i in range(1, depth):
        layers.append(
            keras.layers.Dense(
                width,
                activation="tanh",
                kernel_initializer=keras.initializers.GlorotNormal(seed=layer_seed(i)),
                bias_initializer=dense_bias(i, width, width),
                dtype=dtype,
            )
        )
    layers.append(
        keras.layers.Dense(
            output_dim,
            kernel_initializer=keras.initializers.GlorotNormal(seed=layer_seed(depth)),
            bias_initializer=dense_bias(depth, width, output_dim),
            dtype=dtype,
        )
    )
    network = keras.Sequential(layers, name=name)
    if first_layer_frequencies is not None:
        frequencies = np.asarray(first_layer_frequencies, dtype=np.float64)
        if frequencies.shape != (width, input_dim) or not np.all(np.isfinite(frequencies)):
            raise ValueError(
                f"`first_layer_frequencies` must be a finite array of shape ({width}, {input_dim}), got shape {frequencies.shape}"
            )
        network.layers[0].kernel.assign(2.0 * np.pi * frequencies.T / float(kappa))
    return network
