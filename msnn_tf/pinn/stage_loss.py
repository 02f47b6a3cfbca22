"""The loss of one PINN stage over the new network's flat weights (eqs. 3.1, 3.38, 3.41-3.42, 4.2).

The stage trains ``u_k = u_{k-1} + eps_k v`` with every earlier stage frozen: their values and
derivatives at the collocation points (``frozen``), the condition points (``frozen_data``) and the
constraint points are computed once per stage, so a step costs the same at every stage. Unknown
parameters of the equation (section 4) train in the same flat vector:
``lambda = lambda_prev + eps_lambda delta`` with ``lambda_prev`` frozen and ``delta`` trained
(eqs. 4.6-4.8).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.optimizers import FlatParameters
from msnn_tf.pinn.analysis import derivative_requests
from msnn_tf.pinn.constraints import residual_derivative
from msnn_tf.pinn.losses import combined_loss, data_loss, equation_loss, gradient_loss

__all__ = ["ConstraintPoints", "StageParameters", "stage_loss"]


@dataclasses.dataclass
class StageParameters:
    """The unknown parameters of a stage: ``value = base + scale * delta`` (eq. 4.6).

    Attributes:
        base: ``{name: lambda_prev}``, frozen.
        scale: ``{name: eps_lambda}``.
        variables: ``{name: tf.Variable}`` holding ``delta`` (starts at 0), trained with the network.
    """

    base: dict
    scale: dict
    variables: dict

    def values(self, deltas) -> dict:
        """``{name: base + scale * delta}`` for ``deltas`` in the order of :attr:`variables`."""
        return {name: tf.constant(self.base[name], tf.float64) + tf.constant(self.scale[name], tf.float64) * delta
                for name, delta in zip(self.variables, deltas)}

    def current(self) -> dict:
        """``{name: float}`` with the variables' current ``delta``."""
        return {name: float(self.base[name] + self.scale[name] * float(v.numpy())) for name, v in self.variables.items()}


@dataclasses.dataclass
class ConstraintPoints:
    """A :class:`~msnn_tf.pinn.ResidualDerivative` at a stage: the derivative's multi-index, its points,
    the frozen stages' derivatives there (``{multi-index: tensor}``) and its weight: a hand-set
    ``gamma_s`` (``weight``) or, for ``"auto"``, ``gamma_s / gamma`` (``relative_weight``)."""

    order: tuple
    points: tf.Tensor
    frozen: dict
    relative_weight: float = 1.0
    weight: float | None = None

    def gamma_s(self, gamma: float) -> float:
        """``gamma_s`` of eq. (4.2) for the equation weight ``gamma``."""
        return self.weight if self.weight is not None else gamma * self.relative_weight


def stage_loss(analyzer, network, points, frozen, frozen_data, keys, epsilon, gamma, gamma_g, loss_scale,
               parameters: StageParameters | None = None, constraints=()):
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
        parameters: The unknown parameters (:class:`StageParameters`), trained with the network.
        constraints: :class:`ConstraintPoints`: ``+ gamma_s L_s`` per constraint (eq. 4.2).

    Returns:
        ``value_and_gradients(position) -> (loss, gradient)``, the
        :class:`~msnn_tf.optimizers.FlatParameters` (network weights, then the parameters' ``delta``)
        and ``parts(position) -> (L_d, L_e)``, followed with constraints by each constraint's
        unweighted mean square ``L_s``.
    """
    problem = analyzer.problem
    x_c, w_c, x_d, y_d, w_d = points
    num_weights = len(network.trainable_variables)
    extra = [] if parameters is None else list(parameters.variables.values())
    flat = FlatParameters(list(network.trainable_variables) + extra)
    non_trainable = [tf.convert_to_tensor(v) for v in network.non_trainable_variables]
    scaling = analyzer.model.input_scaling
    eps = tf.constant(epsilon, tf.float64)
    d, names = problem.domain.dim, problem.domain.axis_names
    residual_keys = analyzer.residual_keys()
    constraints = list(constraints)

    def losses(position):
        values_p = None if parameters is None else parameters.values(flat.unpack(position)[num_weights:])
        x_c_now = tf.convert_to_tensor(x_c)
        w_c_now = tf.convert_to_tensor(w_c)
        frozen_now = {k: tf.convert_to_tensor(v) for k, v in frozen.items()}

        def u_new(x):
            # Unpacked at each call, as before parameters existed: the compiled graph (and its rounding)
            # of a problem without parameters stays the one the golden runs recorded.
            output, _ = network.stateless_call(flat.unpack(position)[:num_weights], non_trainable, scaling(x))
            return output

        new = partial_derivatives(u_new, x_c_now, derivative_requests(keys))
        values = {k: frozen_now[k] + eps * new.values[k] for k in keys}
        partials = Partials(values, d, names)
        if gamma_g > 0:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x_c_now)
                for key in residual_keys:
                    tape.watch(values[key])
                residual = problem.residual_values(x_c_now, partials, values_p)
            gradient = gradient_loss(analyzer.residual_gradient(tape, x_c_now, residual, partials), w_c_now)
        else:
            residual = problem.residual_values(x_c_now, partials, values_p)
            gradient = tf.constant(0.0, tf.float64)
        u_data = frozen_data + eps * u_new(x_d)
        constraint_terms = []
        for constraint in constraints:
            jets_new = partial_derivatives(u_new, constraint.points, derivative_requests(list(constraint.frozen)))
            jets = {k: constraint.frozen[k] + eps * jets_new.values[k] for k in constraint.frozen}
            value = residual_derivative(problem, constraint.points, jets, constraint.order, values_p)
            constraint_terms.append(tf.reduce_mean(tf.square(value)))
        return data_loss(u_data, y_d, w_d), equation_loss(residual, w_c_now), gradient, constraint_terms

    def value_and_gradients(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            data, equation, gradient, constraint_terms = losses(position)
            loss = combined_loss(data, equation, gamma, gradient, gamma_g)
            for constraint, term in zip(constraints, constraint_terms):
                loss = loss + constraint.gamma_s(gamma) * term
            loss = loss / loss_scale
        return loss, tape.gradient(loss, position)

    def parts(position):
        data, equation, _, constraint_terms = losses(position)
        return (data, equation, *constraint_terms)

    return value_and_gradients, flat, parts
