"""PINN losses: eq. (3.1) ``(1 - gamma) L_d + gamma L_e`` and gPINN eq. (3.38) ``+ gamma gamma_g L_g``.

All functions take already-computed tensors, so that a trainer can compute the frozen stages'
contributions once and add only the newest stage's values inside the compiled loop.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["data_loss", "equation_loss", "gradient_loss", "pinn_loss"]


def data_loss(u_at_data, data_values) -> tf.Tensor:
    """``L_d = mean (u(x_i) - u_i)^2`` over condition points and components (eq. 3.2)."""
    return tf.reduce_mean(tf.square(u_at_data - data_values))


def equation_loss(residual) -> tf.Tensor:
    """``L_e = mean r(x_j, u(x_j))^2`` over collocation points and residual components (eq. 3.2)."""
    return tf.reduce_mean(tf.square(residual))


def gradient_loss(residual_gradient) -> tf.Tensor:
    """``L_g = mean_j |grad_x r(x_j)|^2`` (eq. 3.38): ``residual_gradient`` is ``(N, d)`` per component, summed over axes."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(residual_gradient), axis=-1))


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
    loss = (1.0 - gamma) * data_loss(u_at_data, data_values) + gamma * equation_loss(residual)
    if residual_gradient is not None:
        loss = loss + gamma * gamma_g * gradient_loss(residual_gradient)
    return loss
