import numpy as np
import pytest
import tensorflow as tf

from msnn_tf import pinn


def ode_problem(**kwargs):
    """Eq. (3.3): u' = u + x on [-1, 1], u(0) = 0, exact e^x - x - 1."""
    return pinn.Problem(
        domain=pinn.Interval(-1.0, 1.0),
        residual=lambda x, u, d: d["x"] - (u + x),
        derivatives=["x"],
        conditions=[pinn.PointValues([[0.0]], [[0.0]])],
        exact=lambda x: np.exp(x) - x - 1.0,
        **kwargs,
    )


def exact_tf(x):
    return tf.exp(x) - x - 1.0


def test_exact_solution_has_zero_residual_and_loss():
    problem = ode_problem()
    x = tf.constant(problem.domain.sample(64, seed=0))
    r = problem.residual_values(x, problem.partials(exact_tf, x))
    assert r.shape == (64, 1) and float(tf.reduce_max(tf.abs(r))) < 1e-15  # round-off only
    x_d, u_d = problem.condition_data()
    loss = pinn.pinn_loss(exact_tf(tf.constant(x_d)), u_d, r, gamma=0.3)
    assert float(loss) < 1e-30


def test_perturbed_solution_gives_the_analytic_losses():
    """u = exact + a sin(kx): r = a (k cos kx - sin kx), grad r = a (-k^2 sin kx - k cos kx)."""
    problem = ode_problem()
    a, k = 1e-3, 7.0
    x_np = np.linspace(-1, 1, 201)[:, None]
    x = tf.constant(x_np)

    def u(x):
        return exact_tf(x) + a * tf.sin(k * x)

    partials = problem.partials(u, x)
    r = problem.residual_values(x, partials)
    expected_r = a * (k * np.cos(k * x_np) - np.sin(k * x_np))
    np.testing.assert_allclose(r.numpy(), expected_r, rtol=1e-10, atol=1e-16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        r_in = problem.residual_values(x, problem.partials(u, x))
    gradient = tape.gradient(r_in, x)
    expected_g = a * (-k**2 * np.sin(k * x_np) - k * np.cos(k * x_np))
    np.testing.assert_allclose(gradient.numpy(), expected_g, rtol=1e-10, atol=1e-16)
    gamma, gamma_g = 0.2, 1.0 / (2 * np.pi * 1.1) ** 2
    x_d, u_d = problem.condition_data()
    loss = pinn.pinn_loss(u(tf.constant(x_d)), u_d, r, gamma, residual_gradient=gradient, gamma_g=gamma_g)
    expected = gamma * (np.mean(expected_r**2) + gamma_g * np.mean(expected_g**2))  # u(0) = 0 exactly
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_heat_problem_with_boundary_and_initial_conditions():
    """u_t = u_xx / 2 + (1 - x^2 + t)... here exact t (1 - x^2): residual of eq. (3.44) vanishes."""
    domain = pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0)
    problem = pinn.Problem(
        domain=domain,
        residual=lambda x, u, d: d["t"] - 0.5 * d["xx"] - (1.0 - x[:, :1] ** 2 + x[:, 1:]),
        derivatives=["t", "xx"],
        conditions=[pinn.DirichletBoundary(lambda x: np.zeros(len(x)), points_per_face=20, faces=[(0, 0), (0, 1)]),
                    pinn.InitialCondition(lambda x: np.zeros(len(x)), num_points=30)],
    )
    assert problem.highest_orders == (2, 0)
    x_d, u_d = problem.condition_data(seed=0)
    assert x_d.shape == (70, 2) and u_d.shape == (70, 1)

    def exact(x):
        return x[:, 1:] * (1.0 - x[:, :1] ** 2)

    x = tf.constant(domain.sample(50, seed=1))
    r = problem.residual_values(x, problem.partials(exact, x))
    assert float(tf.reduce_max(tf.abs(r))) < 1e-14
    np.testing.assert_allclose(exact(tf.constant(x_d)).numpy(), u_d, atol=1e-15)


def test_check_reports_bad_residuals_and_solutions():
    bad_shape = pinn.Problem(pinn.Interval(0.0, 1.0), lambda x, u, d: tf.reshape(d["x"], (-1, 2, 1)), ["x"],
                             [pinn.PointValues([[0.0]], [[0.0]])])
    with pytest.raises(ValueError, match="residual must return shape"):
        bad_shape.check(exact_tf)
    non_finite = pinn.Problem(pinn.Interval(0.0, 1.0), lambda x, u, d: d["x"] / (x - x), ["x"],
                              [pinn.PointValues([[0.0]], [[0.0]])])
    with pytest.raises(ValueError, match="non-finite"):
        non_finite.check(exact_tf)
    # A condition of the wrong width fails when the problem is built, naming the condition.
    with pytest.raises(ValueError, match=r"`PointValues.values` must have shape \(1, 2\), got shape \(1, 1\)"):
        ode_problem(output_dim=2)
    two_outputs = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - (u + x), ["x"],
                               [pinn.PointValues([[0.0]], [[0.0, 0.0]])], output_dim=2)
    with pytest.raises(ValueError, match="solution must have shape"):
        two_outputs.check(exact_tf)
    ode_problem().check(exact_tf)  # a correct problem passes


@pytest.mark.parametrize("kwargs, word", [
    (dict(derivatives=["y"]), "unknown axis"), (dict(conditions=[]), "at least one condition"),
    (dict(residual=3), "callable"), (dict(domain=(0, 1)), "pinn.Box"), (dict(conditions=[3]), "a condition must be"),
])
def test_problem_rejects_bad_definitions(kwargs, word):
    arguments = dict(domain=pinn.Interval(-1.0, 1.0), residual=lambda x, u, d: d["x"], derivatives=["x"],
                     conditions=[pinn.PointValues([[0.0]], [[0.0]])])
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=word):
        pinn.Problem(**arguments)


def test_conditions_outside_the_domain_or_malformed_are_named():
    domain = pinn.Interval(0.0, 1.0)
    with pytest.raises(ValueError, match=r"PointValues.points.*outside"):
        pinn.PointValues([[2.0]], [[0.0]]).sample(domain, 1)
    with pytest.raises(ValueError, match=r"PointValues.values.*shape"):
        pinn.PointValues([[0.5]], [[0.0, 1.0]]).sample(domain, 1)
    with pytest.raises(ValueError, match="finite"):
        pinn.DirichletBoundary(lambda x: np.full(len(x), np.nan)).sample(domain, 1)
    with pytest.raises(ValueError, match="SpaceTimeBox"):
        pinn.InitialCondition(lambda x: np.zeros(len(x))).sample(domain, 1)


def test_open_faces_are_the_faces_without_a_condition():
    zero = lambda x: np.zeros(len(x))  # noqa: E731
    heat = pinn.Problem(pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0), lambda x, u, d: d["t"] - d["xx"], ["t", "xx"],
                        [pinn.DirichletBoundary(zero, faces=[(0, 0), (0, 1)]), pinn.InitialCondition(zero)])
    assert heat.open_faces() == [(1, 1)]  # only the final time
    assert ode_problem().open_faces() == [(0, 0), (0, 1)]  # u(0) = 0 is inside: both ends open
    left = pinn.Problem(pinn.Interval(-1.0, 1.0), lambda x, u, d: d["x"] - u, ["x"], [pinn.PointValues([[-1.0]], [[1.0]])])
    assert left.open_faces() == [(0, 1)]
    square = pinn.Problem(pinn.Rectangle([0, 0], [1, 1]), lambda x, u, d: d["xx"] + d["yy"], ["xx", "yy"],
                          [pinn.DirichletBoundary(zero)])
    assert square.open_faces() == []
    # Conditions sampled on a grown box: the Dirichlet faces run up to the new final time.
    grown = heat.domain.expanded(heat.open_faces(), 0.1)
    x_d, _ = heat.condition_data(seed=0, domain=grown)
    assert x_d[:, 1].max() > 1.0 and x_d[:, 1].max() <= 1.1
