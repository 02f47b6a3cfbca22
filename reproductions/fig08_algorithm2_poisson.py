"""Fig. 8 / Algorithm 2: magnitude of the solution of the Poisson equation (3.20) from its source.

``u_xx + u_yy = -sin(6 pi x) sin(6 pi y)`` on [-1, 1]^2, zero boundary; exact (3.21)
``u = sin(6 pi x) sin(6 pi y) / (2 (6 pi)^2)``, amplitude 1.41e-3. Recomputes Algorithm 2 (eqs.
3.22-3.28) with msnn_tf.pinn.solution_magnitude, once iterated to R = 1 and once with the paper's
stopping rule (first R inside (0.1, 10), eta = 0.5), and plots the source, the exact solution, the
guess ``alpha s`` and R over the iterations. Then the four trained cases of Fig. 8(b-c): one PINN
stage with a sin first layer and (eps_0, kappa_hat_0) each either regular (eps_0 = 1, kappa = 1,
i.e. kappa_hat = sqrt(Var) = 0.3) or set by section 3.1 (eps_0 from Algorithm 2, kappa_hat_0 =
1.5 pi f_d from eq. 2.9), gamma from eq. 3.32 for its eps_0 (``gamma="auto"``), 4000 Latin-hypercube
collocation points, 6000 Adam steps.

Run: ``python reproductions/fig08_algorithm2_poisson.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tensorflow as tf  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402
from msnn_tf import pinn  # noqa: E402

NAME = "fig08_algorithm2_poisson"
EXACT_AMPLITUDE = common.POISSON_AMPLITUDE
source = common.poisson_source


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    n = 61 if args.quick else 241
    problem = common.poisson_problem()
    to_one = pinn.solution_magnitude(problem, source, num_points=n)
    paper_rule = pinn.solution_magnitude(problem, source, num_points=n, learning_rate=0.5, target=None)
    points = common.square_grid(n)
    s = source(tf.constant(points)).numpy().reshape(n, n)
    exact = -s * EXACT_AMPLITUDE

    start = time.perf_counter()
    settings, f_d = common.poisson_first_stage(problem)
    collocation, steps = (300, 100) if args.quick else (4000, 6000)
    cases = {}
    for eps_label, epsilon in (("eps_0 = 1", 1.0), ("eps_0 Algorithm 2", settings["first_stage_epsilon"])):
        for kappa_label, kappa in (("kappa regular", 1.0), ("kappa eq. 2.9", settings["first_stage_kappa"])):
            solver = msnn.MultiStagePINN(problem, stage_solver="adam_lbfgs", first_stage_epsilon=epsilon, first_stage_activation="sin",
                                         first_stage_kappa=kappa, num_collocation=collocation, max_collocation=collocation,
                                         adam_steps=steps, lbfgs_iterations=0, learning_rate=1e-3,
                                         decay_steps=max(steps / 3, 1), grid_points=121, seed=args.seed, verbose=args.verbose)
            report = solver.fit(num_stages=1).stages[0]
            error = (exact.reshape(-1, 1) - solver.predict(points)).reshape(n, n)
            cases[f"{eps_label}, {kappa_label}"] = {"epsilon_0": epsilon, "kappa": kappa, "kappa_hat": report.kappa_hat,
                                                    "gamma": report.gamma, "rms_error": report.true_rms,
                                                    "relative_rms_error": report.true_rms / msnn.rms(exact), "error": error}
            print(f"{eps_label}, {kappa_label}: RMS error {report.true_rms:.2e}", flush=True)
    train_time = time.perf_counter() - start

    plt = common.pyplot()
    fig = plt.figure(figsize=(22, 9.6))
    axes = [fig.add_subplot(2, 4, i + 1) for i in range(4)]
    for ax, values, title in ((axes[0], s, "source s(x, y)"), (axes[1], exact, "exact solution (3.21)"),
                              (axes[2], to_one.alpha * s, f"guess alpha s, alpha = {to_one.alpha:.3e}")):
        common.square_map(fig, ax, values, title)
    axes[3].semilogy(range(len(to_one.ratios)), to_one.ratios, "ko-", label="iterate to R = 1 (eta = 1)")
    axes[3].semilogy(range(len(paper_rule.ratios)), paper_rule.ratios, "rs--", label="paper rule (eta = 0.5)")
    axes[3].axhspan(0.1, 10, color="g", alpha=0.15, label="criterion (3.26)")
    axes[3].set(xlabel="iteration", ylabel="R(alpha)", title="Algorithm 2")
    axes[3].legend(fontsize=8)
    for i, (label, case) in enumerate(cases.items()):
        ax = fig.add_subplot(2, 4, 5 + i)
        common.square_map(fig, ax, case["error"], f"error: {label}\nkappa_hat {case['kappa_hat']:.1f}, "
                                                  f"gamma {case['gamma']:.0e}, relative RMS {case['relative_rms_error']:.1e}")
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": abs(to_one.epsilon_max - EXACT_AMPLITUDE) / EXACT_AMPLITUDE,
        "final_max_error": abs(paper_rule.epsilon_max - EXACT_AMPLITUDE) / EXACT_AMPLITUDE,
        "note": "final_rms_error / final_max_error: relative error of the amplitude estimate, iterated to R = 1 / paper rule",
        "epsilon_amplitude": to_one.epsilon_max, "epsilon_rms": to_one.epsilon, "alpha": to_one.alpha,
        "paper_rule_epsilon_amplitude": paper_rule.epsilon_max, "paper_rule_ratio": paper_rule.ratio,
        "exact_amplitude": EXACT_AMPLITUDE, "stages": [], "training_wall_time_s": train_time,
        "trained_cases": {k: {kk: vv for kk, vv in v.items() if kk != "error"} for k, v in cases.items()},
        "collocation_points": collocation, "adam_steps": steps,
        "paper": {"algorithm_2_epsilon": 1.41e-3, "exact": 1.43e-3},
    })
    print(f"{NAME}: Algorithm 2 amplitude {to_one.epsilon_max:.4e} (RMS {to_one.epsilon:.3e}); paper rule "
          f"{paper_rule.epsilon_max:.3e} (R = {paper_rule.ratio:.2f}); exact amplitude {EXACT_AMPLITUDE:.4e} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
