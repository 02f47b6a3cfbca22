"""A combined forward-inverse problem: the self-similar Burgers profile and its unknown exponent lambda
(paper, section 4, eq. 4.1), with the smoothness constraint of eq. (4.4) and the odd ansatz.

Stage 0 is trained from lambda = 0.4; the later stages are solved (linearised least squares with a
column for the correction of lambda, beyond the paper), which reaches lambda = 1/2 to round-off.

Run: ``python examples/inverse_burgers.py [--quick]``.
"""

import argparse

import msnn_tf as msnn
from msnn_tf import pinn


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short stage 0 and narrow solved stages")
    args = parser.parse_args(argv)
    problem = pinn.Problem(
        domain=pinn.Interval(-2.0, 2.0, axis_name="y"),
        residual=lambda y, U, d, p: -p["lam"] * U + ((1 + p["lam"]) * y + U) * d["y"],
        derivatives=["y"],
        conditions=[pinn.PointValues([[-2.0]], [[1.0]])],
        parameters={"lam": 0.4},
        constraints=[pinn.ResidualDerivative("yyy", pinn.Interval(-0.1, 0.1), num_points=64)],
        symmetry="odd",
        exact=lambda y: pinn.burgers.self_similar_profile(y[:, 0], 0.5)[:, None])
    settings = (dict(adam_steps=(800, 0), lbfgs_iterations=(300, 0), num_collocation=(256, 800),
                     least_squares_width=200) if args.quick else {})
    solver = msnn.MultiStagePINN(problem, gradient_enhanced=True, stage_solver="least_squares",
                                 verbose=0 if args.quick else 1, **settings)
    solver.fit(num_stages=3)
    lam = solver.parameters["lam"]
    errors = {**solver.evaluate(), "lambda_error": abs(lam - 0.5)}
    print(f"lambda {lam:.16f} (error {errors['lambda_error']:.1e}); U error RMS {errors['rms']:.2e}")
    return errors


if __name__ == "__main__":
    main()
