"""Exact self-similar profiles of the inviscid Burgers equation (paper, section 4 and Appendix D).

The steady self-similar profile ``U(y)`` solves eq. (D.5),

    -lambda U + ((1 + lambda) y + U) U' = 0,

and is given implicitly by eq. (D.6): with ``p = 1 + 1/lambda``,

    y = -U - C U^p          for U >= 0  (y <= 0),
    y = -U + C (-U)^p       for U <  0  (y >  0),

an odd, decreasing function (``U(-2) = 1`` gives ``C = 1``). It is smooth at ``y = 0`` exactly when
``p`` is an odd integer, i.e. ``lambda = 1 / (2 + 2i)`` (1/2, 1/4, 1/6, ...); otherwise the fractional
power makes a derivative of order ``ceil(p)`` blow up there (``lambda = 0.4``, ``p = 3.5``: the fourth).

:func:`self_similar_profile` solves (D.6) for ``U`` by a safeguarded, vectorised Newton iteration
(the implicit map is convex on each side, so Newton from the bracket's upper end decreases
monotonically to the root) to a relative accuracy of about one rounding unit;
:func:`self_similar_derivatives` adds ``U'`` .. ``U''''`` by implicit differentiation (exact formulas
for the derivatives of an inverse function), which tests and Fig. 17 use.
"""

from __future__ import annotations

import numpy as np

from msnn_tf.validation import positive_finite

__all__ = ["self_similar_derivatives", "self_similar_profile", "self_similar_residual"]

_MAX_ITERATIONS = 200


def _check(y, lam, constant):
    lam = positive_finite("lam", lam)
    constant = positive_finite("constant", constant)
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        raise ValueError(f"`y` must not be empty, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"`y` must be finite, got {y[~np.isfinite(y)].ravel()[0]!r}")
    return y, lam, constant


def _positive_root(a: np.ndarray, p: float, constant: float) -> np.ndarray:
    """The root ``U >= 0`` of ``U + C U^p = a`` for ``a >= 0`` (vectorised)."""
    u = a.copy()  # U + C U^p >= U: the root lies in [0, a]; g is convex, so Newton from a decreases to it
    active = a > 0
    for _ in range(_MAX_ITERATIONS):
        if not active.any():
            break
        ua = u[active]
        g = ua + constant * ua**p - a[active]
        slope = 1.0 + p * constant * ua ** (p - 1.0)
        step = g / slope
        new = np.maximum(ua - step, 0.0)
        done = np.abs(new - ua) <= 4.0 * np.finfo(np.float64).eps * np.abs(new)
        u[active] = new
        index = np.flatnonzero(active)
        active[index[done | (new == 0.0)]] = False
    return u


def self_similar_profile(y, lam: float, constant: float = 1.0) -> np.ndarray:
    """``U(y)`` of eq. (D.6) for any ``lambda > 0``, elementwise, same shape as ``y``.

    Args:
        y: Points (any shape), finite.
        lam: The exponent ``lambda`` of eq. (D.5), positive.
        constant: ``C`` of eq. (D.6), positive (1 for ``U(-2) = 1``).

    Returns:
        float64 array: the odd profile, to about one rounding unit relative.

    Raises:
        ValueError: naming the argument, on an empty or non-finite ``y`` or a non-positive ``lam``/``constant``.
    """
    y, lam, constant = _check(y, lam, constant)
    p = 1.0 + 1.0 / lam
    magnitude = _positive_root(np.abs(y).ravel(), p, constant).reshape(y.shape)
    return -np.sign(y) * magnitude


def _implicit_derivatives(u: np.ndarray, p: float, constant: float, order: int) -> list[np.ndarray]:
    """``h^(k)(U)`` for ``k = 1..order`` of ``h(U) = -U - C U^p`` at ``U >= 0``; a term whose
    coefficient is zero stays zero at ``U = 0`` (no ``0 * inf``)."""
    out = []
    coefficient = -constant
    for k in range(1, order + 1):
        coefficient *= p - (k - 1)
        if coefficient == 0.0:
            term = np.zeros_like(u)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                term = coefficient * u ** (p - k)
        out.append(term - (1.0 if k == 1 else 0.0))
    return out


def self_similar_derivatives(y, lam: float, order: int = 4, constant: float = 1.0) -> list[np.ndarray]:
    """``[U, U', ..., U^(order)]`` of the profile of eq. (D.6) at ``y`` (``order`` at most 4).

    With ``y = h(U)``: ``U' = 1/h'``, ``U'' = -h''/h'^3``, ``U''' = (3 h''^2 - h' h''')/h'^5``,
    ``U'''' = (-15 h''^3 + 10 h' h'' h''' - h'^2 h'''')/h'^7``; for ``y > 0`` oddness gives
    ``U^(k)(y) = (-1)^(k+1) U^(k)(-y)``. A derivative that blows up at ``y = 0`` (non-smooth
    profiles) is ``inf`` there.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 4:
        raise ValueError(f"`order` must be an integer in [0, 4], got {order!r}")
    y, lam, constant = _check(y, lam, constant)
    p = 1.0 + 1.0 / lam
    u = self_similar_profile(-np.abs(y), lam, constant)  # the U >= 0 branch at -|y|
    values = [u]
    if order:
        h = _implicit_derivatives(u, p, constant, order)
        h1 = h[0]
        formulas = [
            lambda: 1.0 / h1,
            lambda: -h[1] / h1**3,
            lambda: (3.0 * h[1] ** 2 - h1 * h[2]) / h1**5,
            lambda: (-15.0 * h[1] ** 3 + 10.0 * h1 * h[1] * h[2] - h1**2 * h[3]) / h1**7,
        ]
        with np.errstate(invalid="ignore"):
            values += [formula() for formula in formulas[:order]]
    positive = y > 0
    # U(y) = -U(-y): the k-th derivative at y > 0 is (-1)^(k+1) times that at -y.
    return [np.where(positive, (-1.0) ** (k + 1) * value, value) for k, value in enumerate(values)]


def self_similar_residual(y, u, du, lam: float) -> np.ndarray:
    """The residual of eq. (D.5), ``-lambda U + ((1 + lambda) y + U) U'``."""
    return -lam * u + ((1.0 + lam) * np.asarray(y) + u) * du

