"""Output transforms of stage networks: symmetry and sums of networks (paper, section 4, App. D).

Both are Keras models wrapping stage networks, with explicit, registered ``get_config``, so a
:class:`~msnn_tf.StagedModel` holding them saves to ``.keras`` and exports like any other:

* :class:`SymmetricNetwork`: ``y [NN(y) + NN(-y)]`` (odd) or ``NN(y) + NN(-y)`` (even) in the
  scaled input ``y`` of a symmetric 1-D domain (App. D imposes the odd self-similar Burgers profile
  so). Applied to every stage, the stage sum keeps the symmetry exactly.
* :class:`NetworkSum`: ``sum_i c_i NN_i(y)``, the several networks of one stage with their own
  prefactors relative to the stage's (eq. 4.8: ``eps_2 U_2 + eps_lambda U_lambda`` is the stage
  ``eps_2 [U_2 + (eps_lambda / eps_2) U_lambda]``).
"""

from __future__ import annotations

import math

import keras
import numpy as np

__all__ = ["NetworkSum", "SYMMETRIES", "SymmetricNetwork", "core_networks", "dense_layers"]

#: Symmetries accepted by :class:`SymmetricNetwork` (and ``pinn.Problem(symmetry=...)``).
SYMMETRIES = ("odd", "even")


def _weight_dtype(network) -> str:
    """The dtype of a network's weights (a Sequential's own policy may say float32 over float64 layers)."""
    weights = getattr(network, "weights", None)
    return str(keras.backend.standardize_dtype(weights[0].dtype)) if weights else "float64"


@keras.saving.register_keras_serializable(package="msnn_tf")
class SymmetricNetwork(keras.Model):
    """``y [NN(y) + NN(-y)]`` (``"odd"``) or ``NN(y) + NN(-y)`` (``"even"``) of a 1-D network.

    Every odd smooth function is ``y`` times an even one, and ``NN(y) + NN(-y)`` is the even part of
    ``NN`` (times 2): the form of App. D, ``U = y [NN_u(y) + NN_u(-y)]``.

    Args:
        network: A network mapping ``(N, 1)`` to ``(N, m)`` (e.g. from :func:`msnn_tf.build_stage_network`).
        symmetry: ``"odd"`` or ``"even"``.
        **kwargs: Forwarded to :class:`keras.Model` (``dtype`` follows the network's).

    Raises:
        ValueError: on another symmetry, or a network with more than one input.
    """

    def __init__(self, network, symmetry: str = "odd", **kwargs):
        if symmetry not in SYMMETRIES:
            raise ValueError(f"`symmetry` must be one of {SYMMETRIES}, got {symmetry!r}")
        if not isinstance(network, keras.Model):
            raise ValueError(f"`network` must be a keras.Model, got {type(network).__name__}")
        kwargs.setdefault("dtype", _weight_dtype(network))
        super().__init__(**kwargs)
        self.network = network
        self.symmetry = symmetry
        probe = network(np.zeros((1, 1), dtype=np.dtype(self.compute_dtype)))
        self.output_dim = int(probe.shape[-1])
        self.built = True

    def build(self, input_shape):
        self.built = True  # the wrapped network is built when it is passed in

    def call(self, inputs):
        # Two calls, not one on [x; -x]: a row's result may depend on its place in a batch (by a
        # rounding unit), and NN(x) + NN(-x) is then exactly symmetric only as two separate calls.
        even = self.network(inputs) + self.network(-inputs)
        return inputs * even if self.symmetry == "odd" else even

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"network": keras.saving.serialize_keras_object(self.network), "symmetry": self.symmetry})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"], custom_objects=custom_objects)
        return cls(**config)


@keras.saving.register_keras_serializable(package="msnn_tf")
class NetworkSum(keras.Model):
    """``sum_i c_i NN_i(x)``: several networks of one stage (eq. 4.8), each with a fixed coefficient.

    Args:
        networks: Networks mapping ``(N, d)`` to the same ``(N, m)``.
        coefficients: Their prefactors relative to the stage's (positive, finite; the first is
            usually 1).
        **kwargs: Forwarded to :class:`keras.Model`.

    Raises:
        ValueError: on no networks, a coefficient count that differs, or a non-positive coefficient.
    """

    def __init__(self, networks, coefficients, **kwargs):
        networks = list(networks)
        coefficients = [float(c) for c in coefficients]
        if not networks:
            raise ValueError("`networks` must hold at least one network, got none")
        if len(coefficients) != len(networks):
            raise ValueError(f"`coefficients` must have one entry per network ({len(networks)}), got {len(coefficients)}")
        for c in coefficients:
            if not (math.isfinite(c) and c > 0):
                raise ValueError(f"`coefficients` must be positive and finite, got {coefficients!r}")
        kwargs.setdefault("dtype", _weight_dtype(networks[0]))
        super().__init__(**kwargs)
        self.networks = networks
        self.coefficients = coefficients
        self.built = all(network.built for network in networks)

    def build(self, input_shape):
        self.built = True  # the networks are built when they are passed in

    def call(self, inputs):
        total = None
        for network, coefficient in zip(self.networks, self.coefficients):
            value = network(inputs) if coefficient == 1.0 else coefficient * network(inputs)
            total = value if total is None else total + value
        return total

    def compute_output_shape(self, input_shape):
        return self.networks[0].compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"networks": [keras.saving.serialize_keras_object(n) for n in self.networks],
                       "coefficients": list(self.coefficients)})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["networks"] = [keras.saving.deserialize_keras_object(n, custom_objects=custom_objects)
                              for n in config["networks"]]
        return cls(**config)


def core_networks(network) -> list:
    """The plain stage networks inside ``network`` (itself when it is not a transform), in order."""
    if isinstance(network, SymmetricNetwork):
        return core_networks(network.network)
    if isinstance(network, NetworkSum):
        return [core for member in network.networks for core in core_networks(member)]
    return [network]


def dense_layers(network) -> list:
    """Every layer with ``units`` inside ``network`` (through transforms), in order."""
    return [layer for core in core_networks(network) for layer in core.layers if hasattr(layer, "units")]
