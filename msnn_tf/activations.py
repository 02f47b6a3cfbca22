"""Sine and cosine for float64 first layers that XLA vectorises on CPU.

XLA lowers float64 ``sin``/``cos`` on CPU to scalar library calls: measured here on a (2000, 20)
tensor, ``tf.sin`` costs 3x ``tf.tanh`` inside ``tf.function(jit_compile=True)``. A PINN stage
differentiates its ``sin`` first layer up to four times (gPINN of a first-order equation), so that
cost made a sin-layer step 1.7-2.5x a tanh-layer step (``tools/bench_pinn.py``), and the step
time of stage ``k >= 1`` looked like it grew with ``k``.

:func:`sin` and :func:`cos` here are written with elementwise TensorFlow ops that XLA vectorises:
Cody-Waite reduction by ``pi/2`` with a three-part constant, then the fdlibm minimax kernels
``__kernel_sin``/``__kernel_cos`` on ``[-pi/4, pi/4]``. Their error against ``numpy.sin`` is at most
one unit in the last place of 1 (2.2e-16 absolute) for ``|z| <= 1e5`` (tested), growing slowly
beyond (``k * p1`` stays exact for ``|z| < 2^20 * pi / 2``). Each is the other's derivative by
:func:`tf.custom_gradient`, so nested ``GradientTape``\\ s of any order stay exact and every order
reuses the same reduction and kernels (XLA eliminates the common subexpressions).

Only float64 takes this path; other dtypes use ``tf.sin``/``tf.cos`` unchanged.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["sin", "cos"]

# pi/2 split into three parts (fdlibm's pio2_1, pio2_1t..): k * _PIO2_1 is exact for |k| < 2^20.
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050650619224932e-11
_PIO2_3 = 2.02226624879595063154e-21
_TWO_OVER_PI = 6.36619772367581382433e-01
# fdlibm __kernel_sin / __kernel_cos coefficients (minimax on [-pi/4, pi/4]).
_S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)


def _horner(r2, coefficients):
    total = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        total = c + r2 * total
    return total


def _quadrant_kernels(z):
    """``(q, sin r, cos r)`` with ``z = k pi/2 + r``, ``|r| <= pi/4`` and ``q = k mod 4``."""
    k = tf.round(z * _TWO_OVER_PI)
    r = ((z - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    r2 = r * r
    s = r + r * r2 * _horner(r2, _S)
    c = 1.0 - 0.5 * r2 + r2 * r2 * _horner(r2, _C)
    q = k - 4.0 * tf.floor(k * 0.25)
    return q, s, c


def _by_quadrant(q, a, b):
    """``a, b, -a, -b`` for quadrants 0, 1, 2, 3."""
    return tf.where(q < 0.5, a, tf.where(q < 1.5, b, tf.where(q < 2.5, -a, -b)))


def _sin64(z):
    q, s, c = _quadrant_kernels(z)
    return _by_quadrant(q, s, c)


def _cos64(z):
    q, s, c = _quadrant_kernels(z)
    return _by_quadrant(q, c, -s)


@tf.custom_gradient
def _sin_with_gradient(z):
    def gradient(upstream):
        return upstream * _cos_with_gradient(z)

    return _sin64(z), gradient


@tf.custom_gradient
def _cos_with_gradient(z):
    def gradient(upstream):
        return -upstream * _sin_with_gradient(z)

    return _cos64(z), gradient


def sin(z):
    """``sin(z)``; float64 through the vectorisable kernels above, other dtypes through ``tf.sin``."""
    z = tf.convert_to_tensor(z)
    return _sin_with_gradient(z) if z.dtype == tf.float64 else tf.sin(z)


def cos(z):
    """``cos(z)``; float64 through the vectorisable kernels above, other dtypes through ``tf.cos``."""
    z = tf.convert_to_tensor(z)
    return _cos_with_gradient(z) if z.dtype == tf.float64 else tf.cos(z)
