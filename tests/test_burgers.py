"""Exact self-similar Burgers profiles (eqs. D.5-D.6): the implicit form solved to round-off, the
ODE satisfied, oddness, derivatives against independent finite differences and series."""

import numpy as np
import pytest

from msnn_tf.pinn import burgers

Y = np.linspace(-2.0, 2.0, 4001)


@pytest.mark.parametrize("lam", [0.5, 0.25, 1.0 / 6.0, 0.4, 0.45, 1.0, 3.0])
def test_profile_solves_the_implicit_form_and_the_ode(lam):
    u, du = burgers.self_similar_derivatives(Y, lam, order=1)
    p = 1.0 + 1.0 / lam
    implicit = -u - np.sign(u) * np.abs(u) ** p  # eq. (D.6) with C = 1, both branches
    # Round-off: |y| <= 2 and every term is O(1), so a few units of 2.2e-16.
    np.testing.assert_allclose(implicit, Y, rtol=0, atol=1e-15)
    np.testing.assert_allclose(burgers.self_similar_residual(Y, u, du, lam), 0.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(burgers.self_similar_profile(-Y, lam), -u)  # odd, bit for bit
    assert u[0] == 1.0 and u[-1] == -1.0  # U(-2) = 1 with C = 1 (exactly: the root of U + U^p = 2 is 1)
    assert np.all(np.diff(u) < 0)  # decreasing


def test_relative_accuracy_near_zero_and_other_constants():
    """Near y = 0 the profile is ~ -y: relative accuracy, not only absolute (tolerance 4 ulp)."""
    y = -np.logspace(-300, 0, 200)
    u = burgers.self_similar_profile(y, 0.5)
    np.testing.assert_allclose(u + u**3, -y, rtol=4 * np.finfo(float).eps, atol=0)
    u = burgers.self_similar_profile(y, 0.3, constant=2.5)
    np.testing.assert_allclose(u + 2.5 * u ** (1 + 1 / 0.3), -y, rtol=4 * np.finfo(float).eps, atol=0)
    assert burgers.self_similar_profile(np.zeros((2, 3)), 0.5).shape == (2, 3)


@pytest.mark.parametrize("lam", [0.5, 0.4])
def test_derivatives_match_finite_differences(lam):
    """U' .. U'''' from implicit differentiation against central differences of the profile (orders
    8, 6, 6, 4 in h = 0.01; tolerances from the truncation and round-off of each; the fourth derivative
    of the non-smooth lambda = 0.4 profile grows like |y|^(-1/2) towards 0, so its truncation error at
    y = -0.2 is 1.3e-4: tolerance 1e-3 there)."""
    x = np.array([-1.7, -0.6, -0.2, 0.35, 1.2])
    h = 1e-2
    values = [burgers.self_similar_profile(x + k * h, lam) for k in range(-4, 5)]
    f = dict(zip(range(-4, 5), values))
    d1 = (f[-4] / 280 - 4 * f[-3] / 105 + f[-2] / 5 - 4 * f[-1] / 5 + 4 * f[1] / 5 - f[2] / 5 + 4 * f[3] / 105 - f[4] / 280) / h
    d2 = (f[-3] / 90 - 3 * f[-2] / 20 + 3 * f[-1] / 2 - 49 * f[0] / 18 + 3 * f[1] / 2 - 3 * f[2] / 20 + f[3] / 90) / h**2
    d3 = (-7 * f[-4] / 240 + 3 * f[-3] / 10 - 169 * f[-2] / 120 + 61 * f[-1] / 30 - 61 * f[1] / 30 + 169 * f[2] / 120
          - 3 * f[3] / 10 + 7 * f[4] / 240) / h**3
    d4 = (-f[-3] / 6 + 2 * f[-2] - 13 * f[-1] / 2 + 28 * f[0] / 3 - 13 * f[1] / 2 + 2 * f[2] - f[3] / 6) / h**4
    exact = burgers.self_similar_derivatives(x, lam, order=4)
    for numeric, analytic, tol in zip((d1, d2, d3, d4), exact[1:], (1e-10, 1e-8, 1e-7, 1e-3)):
        np.testing.assert_allclose(numeric, analytic, rtol=0, atol=tol)


def test_smooth_and_non_smooth_exponents_at_the_origin():
    """lambda = 1/2: y = -U - U^3, so U = -y + y^3 - 3y^5 + ...: U'(0) = -1, U'''(0) = 6, U''''(0) = 0.
    lambda = 0.4 (p = 3.5): U'''' ~ |y|^(-1/2) blows up at 0 (Fig. 17c); lambda = 1/4 is smooth there."""
    _, d1, d2, d3, d4 = burgers.self_similar_derivatives(np.array([0.0]), 0.5)
    assert (d1[0], d2[0], d3[0], d4[0]) == (-1.0, 0.0, 6.0, 0.0)
    d4_rough = burgers.self_similar_derivatives(np.array([-1e-8, 0.0]), 0.4)[4]
    assert abs(d4_rough[0]) > 1e3 and np.isinf(d4_rough[1])
    assert np.all(np.isfinite(burgers.self_similar_derivatives(np.linspace(-0.1, 0.1, 201), 0.25)[4]))


@pytest.mark.parametrize("kwargs, word", [
    (dict(y=[np.nan], lam=0.5), "y"), (dict(y=[], lam=0.5), "y"), (dict(y=[0.1], lam=0.0), "lam"),
    (dict(y=[0.1], lam=0.5, constant=-1.0), "constant"),
])
def test_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        burgers.self_similar_profile(**kwargs)
    with pytest.raises(ValueError, match="order"):
        burgers.self_similar_derivatives([0.1], 0.5, order=5)
