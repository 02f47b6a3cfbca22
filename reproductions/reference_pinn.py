"""The reference repository's JAX PINN (u' = u + x, three gPINN stages), mirrored with msnn_tf.

Two runs side by side, errors against ``e^x - x - 1`` on 8000 points of [-1, 1]:

* ``hand-set``: the reference's settings (``../shared/reference-implementation.md``): widths 20,
  inputs scaled from [-1, 1], collocation points on [-1.01, 1.01] (``open_margin=0.005``; 201, 402,
  804 Latin-hypercube points plus the two ends),
  loss ``MSE(u(0)) + w0 (MSE(r) + w1 MSE(r'))`` with (w0, w1) = (0.3, 0.2), (0.02, 0.001),
  (0.001, 2e-6), i.e. gamma = w0 / (1 + w0) and gamma_g = w1; epsilon fixed at 1e-7 and 1e-12;
  kappa = 3 (zero crossings of the residual on 2501 points of [-1, 1]) + 1; Adam 5000 / 20000 / 60000 steps
  (learning rate 1e-3), then L-BFGS 6666 / 13333 / none; the collocation points are redrawn every
  100 Adam steps (``resample_every=100``) and L-BFGS runs on the last draw; Adam halves its
  learning rate when the mean loss over the last 2500 steps is not below the previous 2500 steps'
  by more than its spread (``plateau_window=2500``); every layer's biases start from the truncated
  normal of its Glorot standard deviation (``bias_initializer="glorot"``), as in the reference PINN
  script (the reference regression script starts them at zero).
* ``automatic``: ``MultiStagePINN(problem, gradient_enhanced=True, stage_solver="adam_lbfgs")``: the paper's
  trained stages with every other setting at its default (the library's default solver solves stages >= 1).

The reference script reached 1.06e-15 RMS (max 2.2e-15) after three stages in 23 minutes here.

Run: ``python reproductions/reference_pinn.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "reference_pinn"



def zero_crossings(values) -> int:
    signs = np.sign(values)
    signs = signs[signs != 0]
    return int(np.sum(signs[1:] != signs[:-1]))


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    x = np.linspace(-1.0, 1.0, 8000)[:, None]
    exact = np.exp(x) - x - 1.0
    if args.quick:
        adam, lbfgs, points, num_stages = [200, 200, 200], [200, 200, 0], [51, 101, 201], 2
    else:
        adam, lbfgs, points, num_stages = [5000, 20000, 60000], [6666, 13333, 0], [201, 402, 804], 3
    w0, w1 = [0.3, 0.02, 0.001], [0.2, 0.001, 2e-6]
    hand = msnn.MultiStagePINN(
        common.ode_problem(-1.0, 1.0), stage_solver="adam_lbfgs", open_margin=0.005, width=20, num_collocation=points, max_collocation=max(points),
        points_safety=1e-9, adam_steps=adam, lbfgs_iterations=lbfgs, learning_rate=1e-3, decay_rate=1.0,
        gradient_enhanced=True, epsilon=[1e-7, 1e-12], gamma=[w / (1 + w) for w in w0], gamma_g=w1,
        resample_every=100, plateau_window=50 if args.quick else 2500, bias_initializer="glorot", seed=args.seed,
        verbose=args.verbose)
    start = time.perf_counter()
    kappas = []
    for stage in range(num_stages):
        if stage > 0:
            grid = np.linspace(-1.0, 1.0, 2501)[:, None]
            kappas.append(3 * zero_crossings(hand.residual(grid)[:, 0]) + 1)
            hand.kappa = list(kappas)
        hand.fit(num_stages=1)
    hand_time = time.perf_counter() - start
    start = time.perf_counter()
    auto = msnn.MultiStagePINN(common.ode_problem(-1.0, 1.0), stage_solver="adam_lbfgs", gradient_enhanced=True, seed=args.seed, verbose=args.verbose,
                               **(dict(adam_steps=200, lbfgs_iterations=200) if args.quick else {}))
    auto.fit(num_stages=num_stages)
    auto_time = time.perf_counter() - start

    results = {}
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    for label, solver, wall, style in (("hand-set", hand, hand_time, "r"), ("automatic", auto, auto_time, "b")):
        errors = [msnn.rms(exact - solver.predict(x, num_stages=k)) for k in range(1, solver.model.num_stages + 1)]
        final = exact - solver.predict(x)
        results[label] = {"rms_error": msnn.rms(final), "max_error": float(np.max(np.abs(final))), "wall_time_s": wall,
                          "rms_after_stage": errors,
                          "stages": [common.pinn_stage_summary(s) | {"rms_error": e, "iterations": s.adam_steps + s.lbfgs_iterations}
                                     for s, e in zip(solver.history.stages, errors)]}
        axes[0].semilogy(range(1, len(errors) + 1), errors, style + "o-", label=f"{label}: {errors[-1]:.1e} in {wall:.0f} s")
        axes[1].plot(x[:, 0], final[:, 0], style + "-", lw=0.6, label=label)
    axes[0].axhline(1.06e-15, color="k", ls=":", label="reference script: 1.06e-15 (23 min)")
    axes[0].set(xlabel="stages", ylabel="RMS error vs e^x - x - 1", title="(a) error after each stage")
    axes[0].legend(fontsize=8)
    axes[1].set(xlabel="x", ylabel="final error", title="(b) final error")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": results["hand-set"]["rms_error"], "final_max_error": results["hand-set"]["max_error"],
        "stages": results["hand-set"]["stages"], "runs": results, "hand_set_kappa": kappas,
        "paper": {"reference_script_rms": 1.06e-15, "reference_script_max": 2.2e-15, "reference_wall_time_s": 1380},
    })
    print(f"{NAME}: hand-set RMS {results['hand-set']['rms_error']:.2e} ({hand_time:.0f} s, kappa {kappas}); automatic "
          f"RMS {results['automatic']['rms_error']:.2e} ({auto_time:.0f} s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
