"""A forward PINN to machine precision: a first-order ODE with an oscillating coefficient.

Solves ``u'(x) - 5 cos(5x) u(x) = 0`` on [0, 2] with ``u(0) = 1`` (exact: ``exp(sin(5x))``) with the
defaults: a trained stage 0, then solved stages until the residual is at round-off.

Run: ``python examples/forward_pinn.py [--quick]``.
"""

import argparse

import numpy as np
import tensorflow as tf

import msnn_tf as msnn
from msnn_tf import pinn


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short stage 0")
    args = parser.parse_args(argv)
    problem = pinn.Problem(
        domain=pinn.Interval(0.0, 2.0),
        residual=lambda x, u, d: d["x"] - 5.0 * tf.cos(5.0 * x) * u,
        derivatives=["x"],
        conditions=[pinn.PointValues([[0.0]], [[1.0]])],
        exact=lambda x: np.exp(np.sin(5.0 * x)))
    settings = dict(adam_steps=500, lbfgs_iterations=300) if args.quick else {}
    # 1024 collocation points: the solved stages get up to 256 features (a quarter of the points)
    solver = msnn.MultiStagePINN(problem, num_collocation=1024, verbose=0 if args.quick else 1, **settings)
    history = solver.fit(num_stages=3)
    print(history.table())
    errors = solver.evaluate()
    print(f"error against exp(sin(5x)): RMS {errors['rms']:.2e}, max {errors['max']:.2e}")
    return errors


if __name__ == "__main__":
    main()
