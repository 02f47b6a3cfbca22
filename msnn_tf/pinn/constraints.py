"""Constraints on derivatives of the equation residual (paper, section 4, eqs. 4.2 and 4.4, App. D).

A :class:`ResidualDerivative` asks ``d^n r / dy^n = 0`` at its own points, e.g. the smoothness
constraint ``L_s = mean |d^3 r / dy^3|^2`` at ``|y| < 0.1`` (eq. 4.4) that selects the smooth
self-similar Burgers profile and with it the unknown ``lambda``.

The derivative is the *total* derivative of ``r(x, u(x), d u(x), ..., p)`` along ``x``. It depends
only on the derivatives ``D^alpha u`` at the point up to order ``n`` plus the residual's own order,
so :func:`residual_derivative` evaluates the residual on the Taylor polynomial of ``u`` at each point
(built from those derivatives, which the stages give exactly by automatic differentiation) and
differentiates that ``n`` times by nested ``tf.GradientTape``\\ s: exact, cheap (the polynomial,
not the networks, is differentiated ``n`` times) and valid for any residual written with
TensorFlow ops and any key (``"yyy"``, ``"xxt"``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import tensorflow as tf

from msnn_tf.derivatives import Partials, parse_derivative
from msnn_tf.pinn.domains import Box
from msnn_tf.validation import non_negative_finite, per_stage, per_stage_values, positive_int

__all__ = ["ResidualDerivative", "residual_derivative", "taylor_indices"]


class ResidualDerivative:
    """The constraint ``D^key r = 0`` on a region, as the loss ``L_s = mean_j |D^key r(x_j)|^2``.

    Args:
        key: Derivative of the residual, e.g. ``"yyy"`` (``d^3 r / dy^3``, eq. 4.4) in the domain's
            axis names, or a tuple / multi-index as :func:`msnn_tf.derivatives.parse_derivative` reads.
            Several constraints may stand side by side (each is weighed by its own loss): Fig. 14
            pairs ``"yyy"`` with ``"y"``, because trained networks can meet ``d^3 r = 0`` at a wrong
            lambda by leaving a residual linear in ``y`` near 0, which only ``dr/dy`` sees (the third
            stage ended 3.8e-13 off with both, 3.2e-12 with ``"yyy"`` alone).
        region: A box inside the problem's domain (e.g. ``pinn.Interval(-0.1, 0.1)``) where its points
            lie, or a sequence of boxes, one per stage (the last repeats). Near 0 a smooth odd profile
            of eq. (4.1) at a wrong lambda leaves ``a_3 (2 lambda - 1) y^3`` in the residual, so a wide
            region gives the first stage a strong pull towards the right lambda (from 0.4: 2.2e-8 off on
            ``|y| < 0.5``, 3.2e-7 on ``|y| < 0.1``); measured from the same first two stages, the third
            ended closer on ``|y| < 0.1`` (3.2e-12 against 7.5e-12 off; a second stage on it did not
            gain), hence Fig. 14's three regions ``|y| < 0.5, 0.5, 0.1``.
        num_points: Points of the constraint (Latin hypercube in the stage's region, drawn afresh per
            stage), or a sequence of counts, one per stage (the last repeats).
        weight: ``"auto"``, a positive ``gamma_s`` of eq. (4.2), or a sequence of those, one per stage
            (the last entry repeats, as in the per-stage settings), e.g. ``(1e-6, "auto")``: a hand-set
            weight at stage 0 and the automatic rule after it. ``"auto"``: at stage ``k >= 1``,
            ``gamma_s = gamma ||r||^2 / L_s`` of the model so far (the term starts as large as the
            equation term; the rule of eq. 3.40 for gPINN applied to this derivative); at stage 0,
            ``gamma prod_i (2 pi f_i)^(-2 n_i)`` at one period over the domain (see
            :class:`~msnn_tf.pinn.objective.PINNObjective`, which sets it). That stage-0 rule suits
            ``d^3 r / dy^3`` of eq. (4.4) (``0.066 gamma``); a higher derivative wants a smaller stage-0
            weight: for ``d^5 r / dy^5`` it gives ``0.011 gamma``, under which a first network at the
            exact lambda = 1/4 of eq. (4.1) fits to a residual of 1e-3 RMS, against 6e-7 at
            ``gamma_s = 1e-4`` and 1e-7 at ``1e-6`` (measured; see ``tests/test_inverse.py``). A weight
            of 0 switches the constraint off at that stage (no term in the loss, not in ``L_s``), e.g.
            ``(0, 0, "auto")``: it joins at the third stage.

    Raises:
        ValueError: naming the argument, on a non-box region, a non-positive ``num_points``, a negative
            or non-finite weight (per stage: ``region[1]``, ``num_points[1]``, ``weight[1]``), an empty sequence.
    """

    def __init__(self, key, region, num_points: int = 64, weight="auto"):
        self.key = key
        self.region = per_stage_values("region", region, _box)
        self.num_points = per_stage_values("num_points", num_points, positive_int)
        self.weight = per_stage_values("weight", weight, _weight)

    def weight_at(self, stage: int):
        """The weight at stage ``stage``: ``"auto"`` or a ``gamma_s`` (the last per-stage entry repeats)."""
        return per_stage("weight", self.weight, stage)

    @property
    def regions(self) -> tuple:
        """The regions of every stage given (one box for a single region)."""
        return self.region if isinstance(self.region, tuple) else (self.region,)

    def region_at(self, stage: int) -> Box:
        """The region at stage ``stage`` (the last per-stage entry repeats)."""
        return per_stage("region", self.region, stage)

    def num_points_at(self, stage: int) -> int:
        """The number of points at stage ``stage`` (the last per-stage entry repeats)."""
        return per_stage("num_points", self.num_points, stage)

    def order(self, domain) -> tuple[int, ...]:
        """The multi-index of :attr:`key` in ``domain``'s axes (raises a ``ValueError`` naming a bad key)."""
        return parse_derivative(self.key, domain.dim, domain.axis_names)

    def check(self, domain) -> None:
        """Raises a ``ValueError`` if the key does not parse or the region is not inside ``domain``."""
        self.order(domain)
        span = domain.upper - domain.lower
        for region in self.regions:
            if region.dim != domain.dim:
                raise ValueError(f"the constraint region must have {domain.dim} axes like the domain, got {region.dim}")
            if np.any(region.lower < domain.lower - 1e-12 * span) or np.any(region.upper > domain.upper + 1e-12 * span):
                raise ValueError(f"the constraint region [{region.lower.tolist()}, {region.upper.tolist()}] must lie "
                                 f"inside the domain [{domain.lower.tolist()}, {domain.upper.tolist()}]")

    def points(self, seed: int | None = None, stage: int = 0) -> np.ndarray:
        """The constraint's points at stage ``stage``, ``(num_points, d)`` (Latin hypercube in the region)."""
        return self.region_at(stage).sample(self.num_points_at(stage), "latin_hypercube", seed=seed)

    def __repr__(self):
        def box(b):
            return f"[{b.lower.tolist()}, {b.upper.tolist()}]"
        region = ", ".join(map(box, self.regions))
        region = f"({region})" if isinstance(self.region, tuple) else region
        return f"ResidualDerivative({self.key!r}, region={region}, num_points={self.num_points!r}, weight={self.weight!r})"


def _box(name, value) -> Box:
    if not isinstance(value, Box):
        raise ValueError(f"`{name}` must be a pinn.Box (e.g. pinn.Interval(-0.1, 0.1)), got {value!r}")
    return value


def _weight(name, value):
    """``"auto"``, 0 (off at that stage) or a positive finite ``gamma_s`` (``ValueError`` naming ``name``
    otherwise)."""
    if isinstance(value, str) and value == "auto":
        return value
    return non_negative_finite(name, value)


def taylor_indices(term_keys, order) -> list[tuple[int, ...]]:
    """Multi-indices ``gamma + beta`` (``gamma <= order`` per axis, ``beta`` a residual term): the
    derivatives of ``u`` that ``D^order r`` reads."""
    boxes = itertools.product(*[range(o + 1) for o in order])
    return sorted({tuple(g + b for g, b in zip(gamma, beta)) for gamma in boxes for beta in term_keys})


def residual_derivative(problem, x, jets, order, parameters=None) -> tf.Tensor:
    """``D^order r`` at the rows of ``x``, ``(N, k)``, from the derivatives of ``u`` there.

    Args:
        problem: The :class:`~msnn_tf.pinn.Problem`.
        x: Points ``(N, d)``.
        jets: ``{multi-index: (N, m) tensor}`` of ``D^alpha u(x)``, at least for every index of
            :func:`taylor_indices` (the residual's terms plus ``order``).
        order: Multi-index of the derivative of the residual.
        parameters: The unknown parameters' values (floats or tensors), as the residual reads them.
    """
    x = tf.convert_to_tensor(x, tf.float64)
    d, names = problem.domain.dim, problem.domain.axis_names
    term_keys = sorted({(0,) * d} | set(problem.orders))

    def monomial(delta, exponent):
        value = None
        for axis, power in enumerate(exponent):
            for _ in range(power):
                factor = delta[:, axis:axis + 1]
                value = factor if value is None else value * factor
        scale = 1.0 / math.prod(math.factorial(p) for p in exponent)
        return None if value is None else (value if scale == 1.0 else scale * value)

    def residual_at(z):
        delta = z - x  # zero, but carries the derivatives along z
        values = {}
        for beta in term_keys:
            total = None
            for alpha, coefficient in jets.items():
                if all(a >= b for a, b in zip(alpha, beta)):
                    power = monomial(delta, tuple(a - b for a, b in zip(alpha, beta)))
                    term = coefficient if power is None else coefficient * power
                    total = term if total is None else total + term
            values[beta] = total
        return problem.residual_values(z, Partials(values, d, names), parameters)

    def differentiate(function, axis):
        def derivative(z):
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(z)
                value = function(z)
                components = [value[:, j] for j in range(int(value.shape[1]))]  # sliced on the tape
            columns = [tape.gradient(c, z, unconnected_gradients=tf.UnconnectedGradients.ZERO)[:, axis] for c in components]
            del tape
            return tf.stack(columns, axis=1)
        return derivative

    function = residual_at
    for axis, count in enumerate(order):
        for _ in range(count):
            function = differentiate(function, axis)
    return function(tf.identity(x))
