"""Fig. 9: the equation weight gamma of a PINN for the Poisson equation (3.20), eq. (3.32) and Algorithm 3.

``u_xx + u_yy = -sin(6 pi x) sin(6 pi y)`` on [-1, 1]^2, zero boundary, exact (3.21). One PINN
stage with the settings of section 3.1 (eps_0 by Algorithm 2, a sin first layer with kappa from
eq. 2.9) trained with Adam for a sweep of gamma. For every gamma the first ``N_0 = 500`` steps give
Algorithm 3's convergence ratio ``R_c = C_d / C_e`` (eqs. 3.33-3.36) and the whole run gives the
RMS error against the exact solution (lower panel of Fig. 9c). Then Algorithm 3 itself (from
gamma = 0.5, eta = 0.5, N_0 = 500) picks gamma (paper: ~1e-4; eq. 3.32 gives ~2e-6), and the
stage is trained with it. Recomputes panels (a) error maps for gamma = 0.5, eq. (3.32) and
Algorithm 3, (b) L_d and L_e over the steps for those, (c) R_c and error vs gamma. One seed (the
paper: five).

Run: ``python reproductions/fig09_equation_weight.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig09_equation_weight"


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    quick = args.quick
    points = 300 if quick else 4000
    steps = 100 if quick else 6000
    pretrain_steps = 50 if quick else 500
    problem = common.poisson_problem()
    first_stage, f_d = common.poisson_first_stage(problem)
    epsilon_0 = first_stage["first_stage_epsilon"]
    gamma_eq_3_32 = epsilon_0**2 / (epsilon_0**2 + 1.0 / 4.0)  # L_d ~ eps_0^2, L_e ~ RMS(s)^2 = 1/4 (eqs. 3.29-3.32)
    sweep_gammas = [0.5, 1e-4] if quick else [0.5, 1e-1, 1e-2, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, gamma_eq_3_32, 3e-7]
    common_settings = dict(num_collocation=points, max_collocation=points, adam_steps=steps, lbfgs_iterations=0,
                           learning_rate=1e-3, decay_rate=0.5, decay_steps=max(steps / 3, 1), seed=args.seed,
                           verbose=args.verbose, record_loss_parts=True, grid_points=121, **first_stage)
    start = time.perf_counter()

    def run(**kwargs):
        solver = msnn.MultiStagePINN(problem, stage_solver="adam_lbfgs", pretrain_steps=pretrain_steps, **common_settings, **kwargs)
        report = solver.fit(num_stages=1).stages[0]
        return solver, report

    sweep, kept = [], {}
    for gamma in sweep_gammas:
        # One round of Algorithm 3 measures R_c of this gamma (first N_0 steps), then the stage trains with it.
        solver, report = run(gamma="pretrain", pretrain_initial_gamma=gamma, pretrain_max_rounds=1)
        _, c_d, c_e, ratio = report.gamma_rounds[0]
        sweep.append({"gamma": gamma, "rms_error": report.true_rms, "max_error": report.true_max, "R_c": ratio,
                      "C_d": c_d, "C_e": c_e, "data_loss": report.data_loss, "equation_loss": report.equation_loss})
        if gamma in (0.5, gamma_eq_3_32):
            kept["gamma = 0.5" if gamma == 0.5 else f"eq. 3.32 ({gamma:.1e})"] = (solver, report)
        print(f"gamma {gamma:.2e}: R_c {ratio:.2e}, RMS error {report.true_rms:.2e}", flush=True)
    solver, report = run(gamma="pretrain", pretrain_initial_gamma=0.5, pretrain_max_rounds=2 if quick else 12)
    gamma_alg3 = report.gamma
    kept[f"Algorithm 3 ({gamma_alg3:.1e})"] = (solver, report)
    wall = time.perf_counter() - start
    print(f"Algorithm 3: gamma {gamma_alg3:.2e} after {len(report.gamma_rounds)} round(s), RMS error {report.true_rms:.2e}")

    n = 121
    plt = common.pyplot()
    fig = plt.figure(figsize=(22, 9))
    for i, (label, (run_solver, run_report)) in enumerate(kept.items()):
        ax = fig.add_subplot(2, 5, 1 + i)
        error = common.square_error(run_solver, n)
        common.square_map(fig, ax, error, f"(a) error, {label}\nRMS {msnn.rms(error):.1e}")
        ax = fig.add_subplot(2, 5, 6 + i)
        parts = run_report.loss_parts
        steps_axis = np.arange(1, len(parts) + 1)
        ax.loglog(steps_axis, parts[:, 0] / parts[0, 0] if parts[0, 0] > 0 else parts[:, 0], label="L_d / L_d(0)")
        ax.loglog(steps_axis, parts[:, 1] / parts[0, 1], label="L_e / L_e(0)")
        ax.set(title=f"(b) losses, {label}", xlabel="Adam step", ylabel="relative loss")
        ax.legend(fontsize=8)
    gammas = np.array([row["gamma"] for row in sweep])
    order = np.argsort(gammas)
    ax = fig.add_subplot(2, 5, 4)
    ax.loglog(gammas[order], [sweep[i]["R_c"] for i in order], "ko-")
    ax.axhspan(0.1, 10, color="g", alpha=0.15, label="criterion (3.36)")
    ax.axvline(gamma_alg3, color="r", ls="--", label="Algorithm 3")
    ax.axvline(gamma_eq_3_32, color="b", ls=":", label="eq. 3.32")
    ax.set(title="(c) R_c = C_d / C_e (first N_0 steps)", xlabel="gamma")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(2, 5, 9)
    ax.loglog(gammas[order], [sweep[i]["rms_error"] for i in order], "ro-")
    ax.axvline(gamma_alg3, color="r", ls="--")
    ax.axvline(gamma_eq_3_32, color="b", ls=":")
    ax.set(title="(c) RMS error after training", xlabel="gamma", ylabel="RMS error")
    ax = fig.add_subplot(2, 5, 5)
    ax.axis("off")
    ax.text(0, 0.5, f"eps_0 (Algorithm 2, RMS) = {epsilon_0:.2e}\nf_d = {f_d:.2f}, kappa = {first_stage['first_stage_kappa']:.1f}\n"
                    f"N_c = {points}, {steps} Adam steps\neq. 3.32: gamma = {gamma_eq_3_32:.1e}\nAlgorithm 3: gamma = {gamma_alg3:.1e}",
            fontsize=11)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=100)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": report.true_rms, "final_max_error": report.true_max, "wall_time_s": wall,
        "gamma_algorithm_3": gamma_alg3, "algorithm_3_rounds": [list(r) for r in report.gamma_rounds],
        "algorithm_3_converged": bool(0.1 < report.gamma_rounds[-1][3] < 10),
        "gamma_eq_3_32": gamma_eq_3_32, "epsilon_0": epsilon_0, "collocation_points": points, "adam_steps": steps,
        "sweep": sweep, "stages": [common.pinn_stage_summary(report) | {"rms_error": report.true_rms}],
        "paper": {"gamma_algorithm_3": 1e-4, "gamma_eq_3_32": 2e-6, "optimal_R_c": [0.1, 5]},
    })
    print(f"{NAME}: Algorithm 3 gamma {gamma_alg3:.2e} (paper ~1e-4), eq. 3.32 {gamma_eq_3_32:.1e}; "
          f"error {report.true_rms:.2e}; {wall:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
