"""PINN losses: eq. (3.1) ``(1 - gamma) L_d + gamma L_e`` and gPINN eq. (3.38) ``+ gamma gamma_g L_g``.

All functions take already-computed tensors, so that a trainer can compute the frozen stages'
contributions once and add only the newest stage's values inside the compiled loop.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["combined_loss", "data_loss", "equation_loss", "gradient_loss", "pinn_loss"]


def data_loss(u_at_data, data_values, weights=None) -> tf.Tensor:
    """``L_d = mean w_i (u(x_i) - u_i)^2`` over condition points and components (eq. 3.2; ``w_i`` optional
    point weights ``(N, 1)``)."""
    squared = tf.square(u_at_data - data_values)
    return tf.reduce_mean(squared if weights is None else weights * squared)


def equation_loss(residual, weights=None) -> tf.Tensor:
    """``L_e = mean w_j r(x_j, u(x_j))^2`` over collocation points and residual components (eq. 3.2)."""
    squared = tf.square(residual)
    return tf.reduce_mean(squared if weights is None else weights * squared)


def gradient_loss(residual_gradient, weights=None) -> tf.Tensor:
    """``L_g = mean_j w_j |grad_x r(x_j)|^2`` (eq. 3.38): ``residual_gradient`` is ``(N, d)`` per component, summed over axes."""
    squared = tf.reduce_sum(tf.square(residual_gradient), axis=-1)
    return tf.reduce_mean(squared if weights is None else weights[:, 0] * squared)


def combined_loss(data, equation, gamma, gradient=0.0, gamma_g=0.0):
    """``(1 - gamma) L_d + gamma (L_e + gamma_g L_g)`` from the parts (eqs. 3.1 and 3.38)."""
    return (1.0 - gamma) * data + gamma * (equation + gamma_g * gradient)


def pinn_loss(u_at_data, data_values, residual, gamma, residual_gradient=None, gamma_g=0.0) -> tf.Tensor:
    """``(1 - gamma) L_d + gamma (L_e + gamma_g L_g)`` (eqs. 3.1 and 3.38; ``L_g`` only with a gradient).

    Args:
        u_at_data: The solution at the condition points ``(N_d, m)``.
        data_values: Condition values ``(N_d, m)``.
        residual: Equation residual at the collocation points ``(N_e, k)``.
        gamma: Equation weight in (0, 1).
        residual_gradient: Optional ``(N_e, d)`` gradient of a scalar residual (gPINN).
        gamma_g: Weight of the gradient loss (eq. 3.40).
    """
    gradient = 0.0 if residual_gradient is None else gradient_loss(residual_gradient)
    return combined_loss(data_loss(u_at_data, data_values), equation_loss(residual), gamma, gradient, gamma_g)
