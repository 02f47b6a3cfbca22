"""Residual analysis of a PINN stage (section 3.2): the residual of the current model on a uniform
grid, its RMS and dominant frequencies (eqs. 3.16, 3.18), ``beta_m = dr/du^(m)`` per derivative term
(eq. 3.14), the error estimate of eq. (3.19) and the gPINN weight of eq. (3.40).

Derivatives of the stages come from nested ``GradientTape``\ s (:func:`msnn_tf.partial_derivatives`),
in blocks of rows so that wide stages fit in memory.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.layers import ScaledFirstLayer
from msnn_tf.least_squares import feature_derivative_factors
from msnn_tf.transforms import dense_layers

__all__ = ["Analysis", "ResidualAnalyzer", "derivative_requests", "uniform_grid"]


def derivative_requests(indices):
    """Multi-indices (order per axis) as derivative requests for :func:`partial_derivatives`."""
    return [dict(enumerate(index)) for index in indices]


@dataclasses.dataclass(frozen=True)
class Analysis:
    """What :meth:`ResidualAnalyzer.analyse` found.

    Attributes:
        residual_rms: RMS of the equation residual ``eps_r`` on the grid.
        frequencies: Dominant frequency per input axis (cycles per unit, at least one period).
        beta_rms: RMS of ``beta_m`` per residual term, in the order of ``residual_keys()``.
        estimate: The error estimate (eq. 3.19 over every term, or its per-frequency version if larger).
        gamma_g: ``||r||^2 / ||grad r||^2`` (eq. 3.40).
        error_values: The residual with each Fourier component divided by its eq. (3.19) factor.
        sensitivities: Per unknown parameter (section 4), ``(RMS of dr/dlambda, its dominant frequency,
            the error a unit change of lambda drives: eq. 3.19 applied to dr/dlambda)``.
        term_scale: ``sum_m RMS(beta_m d^m u)``: the size of the residual's terms, whose rounding sets the
            level below which the residual cannot fall.
    """

    residual_rms: float
    frequencies: np.ndarray
    beta_rms: tuple[float, ...]
    estimate: float
    gamma_g: float
    error_values: np.ndarray
    sensitivities: dict = dataclasses.field(default_factory=dict)
    term_scale: float = 0.0


class ResidualAnalyzer:
    """The residual of a problem's current model on a uniform grid of ``grid_points`` per axis.

    Args:
        problem: The :class:`~msnn_tf.pinn.Problem`.
        model: The :class:`~msnn_tf.StagedModel` being trained.
        grid_points: Points per axis of the analysis grid.
    """

    def __init__(self, problem, model, grid_points: int):
        self.problem = problem
        self.model = model
        self.grid_points = grid_points
        self.grid = uniform_grid(problem.domain, grid_points)
        self._grid_tensor = tf.constant(self.grid)
        # Partials of each (frozen) stage network on the grid, unscaled: ``{id: (network, keys, partials)}``.
        # The network itself is held, so its id cannot be reused while the entry lives.
        self._grid_cache: dict[int, tuple] = {}

    def residual_keys(self, plus_one: bool = False):
        """Multi-indices of ``u`` and every derivative the residual reads (``plus_one``: and one order more per axis, for gPINN)."""
        keys = {tuple(0 for _ in range(self.problem.domain.dim))} | set(self.problem.orders)
        if plus_one:
            for index in list(keys):
                for axis in range(len(index)):
                    keys.add(tuple(o + (1 if a == axis else 0) for a, o in enumerate(index)))
        return sorted(keys)

    def parameters(self) -> dict[str, float]:
        """The unknown parameters' values of the current model (the problem's initial values before
        a stage set them)."""
        return {**self.problem.parameters, **self.model.parameters}

    def _feature_partials(self, network, x, keys) -> dict | None:
        """The partials of a one-layer ``sin`` network (a least-squares stage's, ``sum_i c_i sin(z_i) + c_0``
        with ``z = kappa (h W) + b``) at ``x`` in closed form: ``d^k`` multiplies feature ``i`` by
        ``prod_j (kappa s_j W_ji)^(k_j)`` (``s_j`` the input scaling's slope) and shifts it by ``|k| pi / 2``.
        ``None`` for any other network. Same numbers as nested tapes to round-off, without their
        intermediates: on ``advection_diffusion_2d`` (2500 features, 161^2 grid, third derivatives) the
        analysis took 28 s by tapes."""
        layers = getattr(network, "layers", [])
        if not (len(layers) == 2 and isinstance(layers[0], ScaledFirstLayer) and layers[0].activation == "sin"
                and isinstance(layers[1], keras.layers.Dense) and layers[1].activation is keras.activations.linear
                and layers[1].units == 1 and np.dtype(layers[1].kernel.dtype) == np.float64):
            return None
        first, output = layers
        kernel, bias = first.kernel.numpy(), first.bias.numpy()
        coefficients, offset = output.kernel.numpy()[:, 0], float(output.bias.numpy()[0])
        lower, upper = np.asarray(self.model.lower), np.asarray(self.model.upper)
        slope = 2.0 / (upper - lower)
        h = self.model.scale_inputs(x).numpy()
        weighted = {key: coefficients * feature_derivative_factors(first.kappa, kernel, slope, key) for key in keys}
        rows = max(1, 2_000_000 // kernel.shape[1])
        values = {key: np.empty(len(h)) for key in keys}
        for lo in range(0, len(h), rows):
            z = first.kappa * (h[lo:lo + rows] @ kernel) + bias
            sine, cosine = np.sin(z), np.cos(z)
            for key in keys:  # d^k sin = sin, cos, -sin, -cos by |k| mod 4
                order = int(sum(key)) % 4
                part = (sine if order % 2 == 0 else cosine) @ weighted[key]
                values[key][lo:lo + rows] = -part if order >= 2 else part
        zero = tuple(0 for _ in keys[0]) if keys else None
        if zero in values:
            values[zero] += offset
        return {key: tf.constant(v[:, None]) for key, v in values.items()}

    def stage_function(self, network):
        scaling = self.model.input_scaling
        return lambda x: network(scaling(x))

    def model_partials(self, x, keys, num_stages=None) -> Partials:
        """Partials of ``sum_j eps_j u_j`` (first ``num_stages`` stages) at ``x`` for ``keys``."""
        count = self.model.num_stages if num_stages is None else num_stages
        total = None
        on_grid = x is self._grid_tensor
        networks = self.model.stage_networks[:count]
        if on_grid:  # forget the stages the model no longer holds (a discarded stage)
            self._grid_cache = {i: entry for i, entry in self._grid_cache.items()
                                if any(entry[0] is n for n in self.model.stage_networks)}
        revision = self.model.output_revision
        for network, epsilon in zip(networks, self.model.epsilons[:count]):
            cached = self._grid_cache.get(id(network)) if on_grid else None
            if cached is not None and cached[0] is network and cached[1] == tuple(keys) and cached[3] == revision:
                values = cached[2]
            elif (values := self._feature_partials(network, x, list(keys))) is not None:
                if on_grid:
                    self._grid_cache[id(network)] = (network, tuple(keys), values, revision)
            else:
                # In blocks of rows: nested tapes keep every intermediate, (rows x width) numbers each,
                # which for a least-squares stage (1000 units) on a 161^2 grid would take tens of GB.
                rows = max(256, 2_000_000 // max(layer.units for layer in dense_layers(network)))
                blocks = [partial_derivatives(self.stage_function(network), x[lo:lo + rows], derivative_requests(keys))
                          for lo in range(0, int(x.shape[0]), rows)]
                values = {k: tf.concat([b.values[k] for b in blocks], axis=0) for k in keys}
                if on_grid:  # a frozen stage's partials on the grid change only with the model's output revision
                    self._grid_cache[id(network)] = (network, tuple(keys), values, revision)
            partials = Partials(values, self.problem.domain.dim).scaled(tf.constant(epsilon, tf.float64))
            total = partials if total is None else total + partials
        if total is None:
            # One tensor per key: a shared one would merge the keys' gradients (beta_m) on a tape.
            total = Partials({k: tf.zeros((x.shape[0], self.problem.output_dim), tf.float64) for k in keys},
                             self.problem.domain.dim)
        return Partials(total.values, self.problem.domain.dim, self.problem.domain.axis_names)

    def analyse(self, num_stages=None) -> "Analysis":
        """The residual of the current model (first ``num_stages`` stages) on the uniform grid: its RMS,
        per-axis f_d (input units), beta RMS per residual term, the eq. (3.19) estimate, gamma_g of eq.
        (3.40) and the residual with each Fourier component divided by its eq. (3.19) factor."""
        x = self._grid_tensor
        keys = self.residual_keys(plus_one=True)
        partials = self.model_partials(x, keys, num_stages)
        problem = self.problem
        term_keys = self.residual_keys()
        parameters = self.parameters()
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            for key in keys:
                tape.watch(partials.values[key])
            residual = problem.residual_values(x, partials, parameters)
        r = residual.numpy()
        value = r[:, 0] if r.shape[1] == 1 else np.sqrt(np.sum(r**2, axis=1))
        eps_r = spectral.rms(r)
        frequencies = spectral.dominant_frequencies(self.grid, value) if eps_r > 0 else np.zeros(problem.domain.dim)
        span = problem.domain.upper - problem.domain.lower
        frequencies = np.maximum(frequencies, 1.0 / span)  # at least one period over the domain
        # Eq. (3.19) with every derivative term of the residual, not only the highest: the sum of
        # RMS(beta_m) prod_i (2 pi f_i)^m_i over all m picks the dominant term by itself, which is what
        # Appendix C (eq. C.6) asks for when a small coefficient multiplies the highest derivative
        # (singular perturbation); for other equations the highest term dominates and this is eq. (3.19).
        betas, denominator, term_scale = [], 0.0, 0.0
        for key in term_keys:
            beta = tape.gradient(residual, partials.values[key], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            beta_rms = spectral.rms(beta.numpy())
            betas.append(beta_rms)
            term_scale += spectral.rms(beta.numpy() * partials.values[key].numpy())
            denominator += beta_rms * float(np.prod((2.0 * math.pi * frequencies) ** np.asarray(key)))
        estimate = eps_r / denominator if denominator > 0 else eps_r
        # Eq. (3.19) divides the whole residual by its dominant frequency's factor; a residual with
        # a broad spectrum also drives low-frequency error that this misses. Dividing every spectral
        # component by its own factor sum_m RMS(beta_m) prod_i (2 pi f_i)^m_i (floored at 1, the scale
        # of a normalised equation's terms) estimates the error spectrum itself.
        error_values = self.filtered_error(value, term_keys, betas)
        estimate = max(estimate, spectral.rms(error_values))
        gradient = self.residual_gradient(tape, x, residual, partials).numpy()
        del tape
        gradient_rms = spectral.rms(np.sqrt(np.sum(gradient**2, axis=1)))
        gamma_g = (eps_r / gradient_rms) ** 2 if gradient_rms > 0 else 1.0
        sensitivities = {}
        for name in parameters:
            # dr/dlambda per point by forward-mode differentiation (lambda is one scalar for all points).
            primal = tf.constant(parameters[name], tf.float64)
            with tf.autodiff.ForwardAccumulator(primal, tf.constant(1.0, tf.float64)) as accumulator:
                value_p = problem.residual_values(x, partials, {**parameters, name: primal})
            sensitivity = accumulator.jvp(value_p, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()
            sensitivities[name] = self._parameter_error(sensitivity, term_keys, betas, span)
        return Analysis(float(eps_r), frequencies, tuple(betas), float(estimate), float(gamma_g), error_values,
                        sensitivities, float(term_scale))

    def _parameter_error(self, sensitivity, term_keys, betas, span):
        """``(RMS, f, RMS / sum_m RMS(beta_m) prod_i (2 pi f_i)^m_i)`` of ``dr/dlambda`` (eq. 3.19 for
        the source ``r_lambda`` of eq. 4.7)."""
        rms = spectral.rms(sensitivity)
        if rms == 0:
            return (0.0, 0.0, 0.0)
        value = sensitivity[:, 0] if sensitivity.shape[1] == 1 else np.sqrt(np.sum(sensitivity**2, axis=1))
        frequencies = np.maximum(spectral.dominant_frequencies(self.grid, value), 1.0 / span)
        denominator = sum(beta * float(np.prod((2.0 * math.pi * frequencies) ** np.asarray(key)))
                          for key, beta in zip(term_keys, betas))
        return (float(rms), float(np.max(frequencies)), float(rms / denominator) if denominator > 0 else float(rms))

    def filtered_error(self, values, term_keys, betas) -> np.ndarray:
        """The residual on the uniform grid with each Fourier component divided by its eq. (3.19) factor."""
        domain = self.problem.domain
        shape = (self.grid_points,) * domain.dim
        grid = np.asarray(values, dtype=np.float64).reshape(shape)
        spacings = (domain.upper - domain.lower) / (self.grid_points - 1)
        spectrum = np.fft.fftn(grid)
        axes = np.meshgrid(*[np.abs(np.fft.fftfreq(n, d=h)) for n, h in zip(shape, spacings)], indexing="ij")
        factor = np.zeros(shape)
        for key, beta in zip(term_keys, betas):
            term = np.full(shape, beta)
            for axis, order in enumerate(key):
                term = term * (2.0 * math.pi * axes[axis]) ** order
            factor = factor + term
        return np.real(np.fft.ifftn(spectrum / np.maximum(factor, 1.0))).reshape(-1)

    def residual_gradient(self, tape, x, residual, partials):
        """``grad_x r`` by the chain rule through the derivatives the residual reads: ``(N, d)``."""
        d = self.problem.domain.dim
        explicit = tape.gradient(residual, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        columns = [explicit[:, i] for i in range(d)]
        for key in self.residual_keys():
            through = tape.gradient(residual, partials.values[key], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            for i in range(d):
                higher = tuple(o + (1 if a == i else 0) for a, o in enumerate(key))
                columns[i] = columns[i] + tf.reduce_sum(through * partials.values[higher], axis=1)
        return tf.stack(columns, axis=1)


def uniform_grid(domain, per_axis: int) -> np.ndarray:
    """A uniform grid of ``per_axis`` points per axis over a box, ``(per_axis^d, d)``."""
    axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(domain.lower, domain.upper)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, domain.dim)
