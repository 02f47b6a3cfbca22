"""A least-squares PINN stage: the residual linearised at the current solution, solved for the output
layer of a one-layer ``sin`` network.

``r(u + eps v) ~ r(u) + eps sum_m beta_m d^m v`` with ``beta_m = dr/du^(m)`` pointwise (eq. 3.17): for
``v = sum_i c_i sin(kappa (h W_i) + b_i) + c_0`` the stage loss of eq. (3.1) is quadratic in the
coefficients ``c``, so one linear least-squares solve minimises it (exact for equations linear in
``u``; one Gauss-Newton step otherwise, its error second order in ``eps``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.derivatives import Partials
from msnn_tf.engine import LeastSquaresCandidate
from msnn_tf.least_squares import feature_network

__all__ = ["LinearizedStage"]


class LinearizedStage:
    """The rows of a least-squares stage; :meth:`solve` is the candidate solve of
    :func:`~msnn_tf.engine.select_least_squares`.

    Args:
        analyzer: The :class:`~msnn_tf.pinn.analysis.ResidualAnalyzer`.
        plan: The stage's :class:`~msnn_tf.engine.StagePlan` (epsilon, gamma in ``extras``, f_d, width, seed).
        collocation: ``(x_c, w_c)`` as arrays (weights ``(N, 1)``).
        conditions: ``(x_d, y_d, w_d)`` as arrays.
        frozen_values: The frozen stages' partials at ``x_c`` per key.
        frozen_data: The frozen stages' values at ``x_d``.
    """

    def __init__(self, analyzer, plan, collocation, conditions, frozen_values, frozen_data):
        problem, model = analyzer.problem, analyzer.model
        self.plan = plan
        self.d = problem.domain.dim
        self.x_c, w_c = (np.asarray(v) for v in collocation)
        self.w_c = w_c[:, 0]
        x_d, self.y_d, w_d = (np.asarray(v) for v in conditions)
        self.w_d = w_d[:, 0]
        self.u_d = np.asarray(frozen_data)[:, 0]
        self.term_keys = analyzer.residual_keys()
        values = {k: tf.convert_to_tensor(v) for k, v in frozen_values.items()}
        with tf.GradientTape(persistent=True) as tape:
            for key in self.term_keys:
                tape.watch(values[key])
            residual = problem.residual_values(tf.constant(self.x_c), Partials(values, self.d, problem.domain.axis_names))
        self.betas = {k: tape.gradient(residual, values[k], unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
                      for k in self.term_keys}
        del tape
        self.r_prev = residual.numpy()[:, 0]
        lower, upper = np.asarray(model.lower), np.asarray(model.upper)
        self.slope = 2.0 / (upper - lower)  # d h / d x of the model's input scaling
        self.h_c, self.h_d = (model.scale_inputs(p).numpy() for p in (self.x_c, x_d))
        self.frequency = float(np.max(np.asarray(plan.dominant_frequency) / self.slope))

    def solve(self, factor: float, fit: np.ndarray) -> LeastSquaresCandidate:
        """Solves the candidate of ``kappa_hat = factor pi f_d`` on the collocation points in ``fit`` (and
        every condition point); its score is the weighted equation residual on the other points."""
        plan, d, width = self.plan, self.d, self.plan.width
        epsilon, gamma = plan.epsilon, plan.extras["gamma"]
        row_c = np.sqrt(gamma * self.w_c / fit.sum())  # the means of eq. (3.1) over the points solved on
        row_d = np.sqrt((1.0 - gamma) * self.w_d / len(self.h_d))
        network = feature_network(d, width, self.frequency, factor, plan.seed, f"stage_{plan.stage}")
        layer = network.layers[0]
        kappa, kernel, bias = layer.kappa, layer.kernel.numpy(), layer.bias.numpy()
        z_c = kappa * (self.h_c @ kernel) + bias
        a_c = np.zeros((len(self.x_c), width + 1))
        for key in self.term_keys:
            order = int(sum(key))
            scale = np.prod([(kappa * self.slope[j] * kernel[j]) ** key[j] for j in range(d)], axis=0)
            a_c[:, :width] += self.betas[key][:, None] * scale * np.sin(z_c + order * math.pi / 2.0)
            if order == 0:
                a_c[:, width] += self.betas[key]
        a_d = np.concatenate([np.sin(kappa * (self.h_d @ kernel) + bias), np.ones((len(self.h_d), 1))], axis=1)
        matrix = epsilon * np.concatenate([row_c[fit, None] * a_c[fit], row_d[:, None] * a_d])
        rhs = -np.concatenate([row_c[fit] * self.r_prev[fit], row_d * (self.u_d - self.y_d[:, 0])])
        heading = f"least squares, {width} sin features, kappa_hat {layer.kappa_hat:.2f}"
        if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(rhs))):
            return LeastSquaresCandidate(network, math.nan, True, f"{heading}: non-finite rows")
        coefficients = scipy.linalg.lstsq(matrix, rhs, lapack_driver="gelsy")[0]
        after = self.r_prev + epsilon * (a_c @ coefficients)
        score = spectral.rms(row_c[~fit] * after[~fit]) if not fit.all() else spectral.rms(row_c * after)
        network.layers[-1].kernel.assign(coefficients[:width, None])
        network.layers[-1].bias.assign(coefficients[width:])
        message = (f"{heading}: equation residual RMS {spectral.rms(after):.3e}"
                   + ("" if fit.all() else f" (held-out {score:.3e})"))
        return LeastSquaresCandidate(network, score, False, message)
