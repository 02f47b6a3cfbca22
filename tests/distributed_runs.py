"""Single-device and MirroredStrategy runs side by side, on two logical CPU devices.

Run by ``tests/test_distribute.py`` in a subprocess (logical devices must be configured before
TensorFlow initialises its devices, which the test process has done long before); prints one JSON
object with the measured differences.
"""

import json
import sys
import warnings

import numpy as np
import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import msnn_tf as msnn  # noqa: E402
from msnn_tf import pinn  # noqa: E402
from msnn_tf.networks import build_stage_network  # noqa: E402
from msnn_tf.regression.objective import mse_objective  # noqa: E402


def target(x):
    return np.sin(2 * x + 1) + 0.2 * np.exp(1.3 * x)


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def loss_differences(strategy):
    """The regression loss and gradient at three positions, single device vs replicas (5 rows not
    divisible by 2 in the shard sizes: 1001 points, weighted)."""
    x = np.linspace(-1, 1, 1001)[:, None]
    network = build_stage_network(1, width=16, depth=3, kappa=2.0, first_activation="sin", bias_initializer="phase",
                                  seed=3, name="s", dtype="float64")
    weights = 1.0 + x**2
    single, flat = mse_objective(network, x, target(x), weights)
    spread, _ = mse_objective(network, x, target(x), weights, strategy=strategy)
    rng = np.random.default_rng(0)
    loss_error = gradient_error = 0.0
    for k in range(3):
        position = flat.pack() + (0.0 if k == 0 else 0.1 * rng.standard_normal(flat.pack().shape))
        (l1, g1), (l2, g2) = single(position), spread(tf.constant(position))
        loss_error = max(loss_error, relative(l2, l1))
        gradient_error = max(gradient_error, relative(g2, g1))
    return loss_error, gradient_error


def regression(strategy):
    x = np.linspace(-1, 1, 800)[:, None]
    x_test = np.random.default_rng(5).uniform(-1, 1, (2000, 1))
    regressor = msnn.MultiStageRegressor(adam_steps=300, lbfgs_iterations=600, verbose=0, strategy=strategy)
    history = regressor.fit(x, target(x), num_stages=3)
    return regressor.predict(x_test), history, float(np.sqrt(np.mean((regressor.predict(x_test) - target(x_test)) ** 2)))


def ode_problem():
    """u' = u + x on [-1, 1], u(0) = 0 (eq. 3.3)."""
    return pinn.Problem(domain=pinn.Interval(-1.0, 1.0), residual=lambda x, u, d: d["x"] - (u + x), derivatives=["x"],
                        conditions=[pinn.PointValues([[0.0]], [[0.0]])], exact=lambda x: np.exp(x) - x - 1.0)


def pinn_loss_differences(strategy):
    """The PINN stage loss (gPINN term on, 257 collocation points: uneven shards) at two positions."""
    errors = []
    for solver in (msnn.MultiStagePINN(ode_problem(), gradient_enhanced=True, num_collocation=257, verbose=0),
                   msnn.MultiStagePINN(ode_problem(), gradient_enhanced=True, num_collocation=257, verbose=0,
                                       strategy=strategy)):
        plan = solver.objective.plan_stage(0)
        value_and_gradients, flat, _ = solver.objective.work.make_loss(plan.extras["gamma"], solver.objective.work.network)
        start = flat.pack()
        errors.append([value_and_gradients(start + shift) for shift in (0.0, 0.05)])
    (single, spread) = errors
    return (max(relative(b[0], a[0]) for a, b in zip(single, spread)),
            max(relative(b[1], a[1]) for a, b in zip(single, spread)))


def pinn_run(strategy):
    solver = msnn.MultiStagePINN(ode_problem(), adam_steps=300, lbfgs_iterations=300, stage_solver="least_squares",
                                 least_squares_width=300, verbose=0, strategy=strategy)
    history = solver.fit(num_stages=2)
    x = np.linspace(-1, 1, 301)[:, None]
    return solver.predict(x), history, solver.evaluate(x)["rms"]


def main():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync}
    out["loss_error"], out["gradient_error"] = loss_differences(strategy)
    out["pinn_loss_error"], out["pinn_gradient_error"] = pinn_loss_differences(strategy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (p1, h1, e1), (p2, h2, e2) = regression(None), regression(strategy)
    out.update(regression_prediction_difference=float(np.max(np.abs(p1 - p2))), regression_error=[e1, e2],
               regression_stages=[len(h1.stages), len(h2.stages)],
               regression_solvers=[[("least squares" if s.adam_steps == 0 else "trained") for s in h.stages]
                                   for h in (h1, h2)],
               regression_stage0_loss=[h1.stages[0].final_loss, h2.stages[0].final_loss])
    (q1, g1, f1), (q2, g2, f2) = pinn_run(None), pinn_run(strategy)
    out.update(pinn_prediction_difference=float(np.max(np.abs(q1 - q2))), pinn_error=[f1, f2],
               pinn_stages=[len(g1.stages), len(g2.stages)])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
