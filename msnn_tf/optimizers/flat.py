"""Flattening of a network's trainable variables into one vector, for the compiled optimizers."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["FlatParameters"]


class FlatParameters:
    """Packs a list of variables into one vector (of their dtype, float64 by default) and back.

    Both optimizers of this package work on a flat position vector, as
    ``tfp.optimizer.lbfgs_minimize`` does, so that a whole optimisation loop compiles into one XLA
    program with no variable assignment inside it.

    Args:
        variables: The variables (e.g. ``network.trainable_variables``), in a fixed order.
    """

    def __init__(self, variables):
        self.variables = list(variables)
        if not self.variables:
            raise ValueError("`variables` must not be empty: the network has no trainable weights")
        self.shapes = [tuple(int(d) for d in v.shape) for v in self.variables]
        self.sizes = [int(np.prod(s)) if s else 1 for s in self.shapes]
        self.size = int(sum(self.sizes))

    def pack(self) -> tf.Tensor:
        """The variables' current values as one vector of length :attr:`size`."""
        return tf.concat([tf.reshape(tf.convert_to_tensor(v), [-1]) for v in self.variables], axis=0)

    def unpack(self, position):
        """Splits a vector into tensors of the variables' shapes (usable inside ``tf.function``)."""
        parts = tf.split(position, self.sizes)
        return [tf.reshape(p, s) for p, s in zip(parts, self.shapes)]

    def assign(self, position) -> None:
        """Writes a vector back into the variables."""
        for variable, value in zip(self.variables, self.unpack(tf.cast(position, self.variables[0].dtype))):
            variable.assign(value)


def as_position(position) -> tf.Tensor:
    """``position`` as a tensor: float32 and float64 tensors keep their dtype, anything else is float64."""
    if isinstance(position, (tf.Tensor, tf.Variable)) and position.dtype in (tf.float32, tf.float64):
        return tf.convert_to_tensor(position)
    return tf.convert_to_tensor(np.asarray(position, dtype=np.float64))
