"""Fig. 10: L-BFGS vs Adam on fixed points (GD) vs Adam with resampled points (SGD), against N_c.

The Poisson equation (3.20) with the stage-0 settings of section 3.1 (eps_0 by Algorithm 2, a sin
first layer with kappa from eq. 2.9) and gamma from Algorithm 3 (found once, at the largest N_c).
For every number of collocation points N_c each optimiser trains one PINN stage for the same number
of iterations: L-BFGS alone, Adam on one fixed Latin-hypercube sample, and Adam drawing a fresh
sample every 100 steps (``MultiStagePINN(resample_every=100)``). The paper's critical number is
``N_crit = (3 pi x 6)^2 ~ 3100`` (eq. 2.10 per axis, six dominant periods per axis); below it fixed
points fail and resampling does not. Recomputes panels (a) error maps at a small N_c, (b) L_d and
L_e over the steps below N_crit, (c) RMS error vs N_c per optimiser. One seed (the paper: five).

Run: ``python reproductions/fig10_collocation_resampling.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig10_collocation_resampling"
N_CRIT = (3 * math.pi * 6) ** 2


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    quick = args.quick
    counts = [150, 600] if quick else [500, 1000, 2000, 3100, 5000]
    steps = 150 if quick else 4000
    problem = common.poisson_problem()
    first_stage, f_d = common.poisson_first_stage(problem)
    base = dict(adam_steps=steps, lbfgs_iterations=0, learning_rate=1e-3, decay_rate=0.5, decay_steps=max(steps / 3, 1),
                seed=args.seed, verbose=args.verbose, grid_points=121, **first_stage)
    start = time.perf_counter()
    search = msnn.MultiStagePINN(problem, stage_solver="adam_lbfgs", gamma="pretrain", pretrain_steps=100 if quick else 500,
                                 pretrain_max_rounds=3 if quick else 12, num_collocation=counts[-1],
                                 max_collocation=counts[-1], **(base | {"adam_steps": 0}))
    gamma = search.fit(num_stages=1).stages[0].gamma
    print(f"gamma from Algorithm 3: {gamma:.2e}", flush=True)
    methods = {
        "L-BFGS": dict(adam_steps=0, lbfgs_iterations=steps),
        "Adam (GD, fixed points)": dict(),
        "Adam (SGD, resampled every 100)": dict(resample_every=100),
    }
    results, kept = {m: [] for m in methods}, {}
    for count in counts:
        for method, settings in methods.items():
            solver = msnn.MultiStagePINN(problem, stage_solver="adam_lbfgs", gamma=gamma, num_collocation=count, max_collocation=count,
                                         record_loss_parts=settings.get("adam_steps", 1) > 0, **(base | settings))
            report = solver.fit(num_stages=1).stages[0]
            results[method].append({"num_collocation": count, "rms_error": report.true_rms, "max_error": report.true_max,
                                    "wall_time_s": report.wall_time})
            if count == counts[0]:
                kept[method] = (solver, report)
            print(f"N_c {count}: {method}: RMS error {report.true_rms:.2e} ({report.wall_time:.0f} s)", flush=True)
    wall = time.perf_counter() - start

    n = 121
    plt = common.pyplot()
    fig = plt.figure(figsize=(20, 9))
    for i, (method, (solver, report)) in enumerate(kept.items()):
        ax = fig.add_subplot(2, 4, 1 + i)
        error = common.square_error(solver, n)
        common.square_map(fig, ax, error, f"(a) {method}\nN_c = {counts[0]}: RMS error {msnn.rms(error):.1e}")
    ax = fig.add_subplot(2, 4, 5)
    for method, (solver, report) in kept.items():
        if report.loss_parts is not None:
            steps_axis = np.arange(1, len(report.loss_parts) + 1)
            ax.loglog(steps_axis, report.loss_parts[:, 0], label=f"L_d, {method}")
            ax.loglog(steps_axis, report.loss_parts[:, 1], ls="--", label=f"L_e, {method}")
        else:
            ax.loglog(report.loss_iterations, report.losses, "k:", label=f"normalised loss, {method}")
    ax.set(title=f"(b) losses at N_c = {counts[0]} (< N_crit)", xlabel="iteration")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(2, 4, 6)
    for method, rows in results.items():
        ax.loglog([r["num_collocation"] for r in rows], [r["rms_error"] for r in rows], "o-", label=method)
    ax.axvline(N_CRIT, color="k", ls=":", label=f"N_crit = {N_CRIT:.0f}")
    ax.set(title="(c) RMS error vs collocation points", xlabel="N_c", ylabel="RMS error")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=100)
    plt.close(fig)
    best = min((r for rows in results.values() for r in rows), key=lambda r: r["rms_error"])
    worst = max((r for rows in results.values() for r in rows), key=lambda r: r["rms_error"])
    common.write_metrics(args, {
        "final_rms_error": best["rms_error"], "final_max_error": worst["rms_error"], "wall_time_s": wall,
        "note": "final_rms_error: best RMS error over all runs; final_max_error: worst",
        "gamma": gamma, "n_crit": N_CRIT, "iterations": steps, "results": results, "stages": [],
        "paper": {"n_crit": 3100},
    })
    print(f"{NAME}: " + "; ".join(f"{m}: " + ", ".join(f"{r['num_collocation']}:{r['rms_error']:.1e}" for r in rows)
                                  for m, rows in results.items()) + f" ({wall:.0f} s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
