"""The loss of one PINN stage over the new network's flat weights (eqs. 3.1, 3.38, 3.41-3.42).

The stage trains ``u_k = u_{k-1} + eps_k v`` with every earlier stage frozen: their values and
derivatives at the collocation points (``frozen``) and at the condition points (``frozen_data``)
are computed once per stage, so a step costs the same at every stage.
"""

from __future__ import annotations

import tensorflow as tf

from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.optimizers import FlatParameters
from msnn_tf.pinn.analysis import derivative_requests
from msnn_tf.pinn.losses import combined_loss, data_loss, equation_loss, gradient_loss

__all__ = ["stage_loss"]


def stage_loss(analyzer, network, points, frozen, frozen_data, keys, epsilon, gamma, gamma_g, loss_scale):
    """``(value_and_gradients, flat, parts)`` of a stage's loss over ``network``'s flat weights.

    Args:
        analyzer: The :class:`~msnn_tf.pinn.analysis.ResidualAnalyzer` (problem, model, residual keys).
        network: The new stage network.
        points: ``(x_c, w_c, x_d, y_d, w_d)``: collocation points and weights (``tf.Variable``\\ s that
            resampling may reassign) and condition points, values and weights (``(N, 1)`` weights).
        frozen: The frozen stages' partials at ``x_c`` per key (``tf.Variable``\\ s).
        frozen_data: The frozen stages' values at ``x_d``.
        keys: Derivative multi-indices the loss needs (one order more with gPINN).
        epsilon: The stage's prefactor.
        gamma: Equation weight of eq. (3.1); ``gamma_g`` gradient weight of eq. (3.38) (0: no gPINN term).
        gamma_g: See ``gamma``.
        loss_scale: The loss is divided by this (both terms O(1) at the stage start).

    Returns:
        ``value_and_gradients(position) -> (loss, gradient)``, the network's
        :class:`~msnn_tf.optimizers.FlatParameters` and ``parts(position) -> (L_d, L_e)``.
    """
    problem = analyzer.problem
    x_c, w_c, x_d, y_d, w_d = points
    flat = FlatParameters(network.trainable_variables)
    non_trainable = [tf.convert_to_tensor(v) for v in network.non_trainable_variables]
    scaling = analyzer.model.input_scaling
    eps = tf.constant(epsilon, tf.float64)
    d, names = problem.domain.dim, problem.domain.axis_names
    residual_keys = analyzer.residual_keys()

    def losses(position):
        x_c_now = tf.convert_to_tensor(x_c)
        w_c_now = tf.convert_to_tensor(w_c)
        frozen_now = {k: tf.convert_to_tensor(v) for k, v in frozen.items()}

        def u_new(x):
            output, _ = network.stateless_call(flat.unpack(position), non_trainable, scaling(x))
            return output

        new = partial_derivatives(u_new, x_c_now, derivative_requests(keys))
        values = {k: frozen_now[k] + eps * new.values[k] for k in keys}
        partials = Partials(values, d, names)
        if gamma_g > 0:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x_c_now)
                for key in residual_keys:
                    tape.watch(values[key])
                residual = problem.residual_values(x_c_now, partials)
            gradient = gradient_loss(analyzer.residual_gradient(tape, x_c_now, residual, partials), w_c_now)
        else:
            residual = problem.residual_values(x_c_now, partials)
            gradient = tf.constant(0.0, tf.float64)
        u_data = frozen_data + eps * u_new(x_d)
        return data_loss(u_data, y_d, w_d), equation_loss(residual, w_c_now), gradient

    def value_and_gradients(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            data, equation, gradient = losses(position)
            loss = combined_loss(data, equation, gamma, gradient, gamma_g) / loss_scale
        return loss, tape.gradient(loss, position)

    def parts(position):
        data, equation, _ = losses(position)
        return data, equation

    return value_and_gradients, flat, parts
