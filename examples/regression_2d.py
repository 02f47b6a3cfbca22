"""2-D regression of a callable target: stage 0 trained, later stages solved by least squares.

Run: ``python examples/regression_2d.py [--quick]``.
"""

import argparse

import numpy as np

import msnn_tf as msnn


def target(x):
    return np.sin(x[:, :1] + 0.5) * np.cos(0.7 * x[:, 1:]) + 0.3 * x[:, :1] * x[:, 1:]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations, narrow solved stages")
    args = parser.parse_args(argv)
    settings = dict(adam_steps=300, lbfgs_iterations=300, least_squares_width=400) if args.quick else {}
    regressor = msnn.MultiStageRegressor(verbose=0 if args.quick else 1, **settings)
    history = regressor.fit(target, domain=([-1.0, -1.0], [1.0, 1.0]), num_points=40 if args.quick else 64,
                            num_stages=2 if args.quick else 3)
    print(history.table())
    rng = np.random.default_rng(1)
    x = rng.uniform(-1.0, 1.0, (4000, 2))
    errors = regressor.evaluate(x, target(x))
    print(f"off-grid error: RMS {errors['rms']:.2e}, max {errors['max']:.2e}")
    return errors


if __name__ == "__main__":
    main()
