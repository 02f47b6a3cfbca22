"""Fig. 1: a single network plateaus; two stages in float32 reach the float32 round-off (~1e-7).

Target (2.2) ``sin(2x + 1) + 0.2 exp(1.3x)``, 300 uniform points on [-1, 1], 3x20 tanh networks.
Recomputes: (a) the single-stage fit and its error; (b) the second stage's fit of the residue
``e_1``; (c) the two-stage error ``e_2``; (d) loss curves of a single network trained with Adam and
with L-BFGS, and of the two-stage training, with the weight counts (two 3x20 networks against one
3x30 network).

Run: ``python reproductions/fig01_single_vs_two_stage.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig01_single_vs_two_stage"



def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    adam_steps, lbfgs_iterations = (300, 300) if args.quick else (5000, 5000)
    x = np.linspace(-1.0, 1.0, 300)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 2000)[:, None]
    y, y_eval = common.smooth_target(x), common.smooth_target(x_eval)
    common_settings = dict(depth=3, seed=args.seed, verbose=args.verbose, dtype="float32", learning_rate=1e-3,
                           decay_rate=1.0)

    # Single stage, 3x30 (more weights than two 3x20 stages): Adam only, and L-BFGS only.
    runs = {}
    for label, steps, iterations in (("single, Adam", 2 * adam_steps, 0), ("single, L-BFGS", 0, 2 * lbfgs_iterations)):
        regressor = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", width=30, adam_steps=steps, lbfgs_iterations=iterations, **common_settings)
        history = regressor.fit(x, y, num_stages=1)
        runs[label] = (regressor, history)
    two = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", width=20, adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations, **common_settings)
    two_history = two.fit(x, y, num_stages=2)
    runs["two-stage"] = (two, two_history)

    metrics = {}
    for label, (regressor, history) in runs.items():
        error = (y_eval - regressor.predict(x_eval).astype(np.float64))
        metrics[label] = {
            "rms_error": msnn.rms(error), "max_error": float(np.max(np.abs(error))),
            "weights": int(sum(n.count_params() for n in regressor.model.stage_networks)),
            "stages": common.stage_metrics(history, regressor.model, x_eval, y_eval),
        }

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6))
    u0 = two.predict(x_eval, num_stages=1).astype(np.float64)
    ax = axes[0]
    ax.plot(x_eval[:, 0], y_eval[:, 0], "b-", lw=2, label="target (2.2)")
    ax.plot(x_eval[:, 0], u0[:, 0], "r--", label="stage 1 network $u_0$ (3x20)")
    ax.set(xlabel="x", ylabel="u", title="(a) single network fit")
    ax.legend(loc="upper left")
    inset = ax.inset_axes([0.55, 0.1, 0.42, 0.35])
    inset.plot(x_eval[:, 0], (y_eval - u0)[:, 0], "k-", lw=0.8)
    inset.set_title("$e_1 = u_g - u_0$", fontsize=8)
    inset.tick_params(labelsize=7)
    ax = axes[1]
    eps1 = two_history.stages[1].epsilon * two.model.output_scale[0]
    u1 = two.predict(x_eval).astype(np.float64) - u0
    ax.plot(x_eval[:, 0], (y_eval - u0)[:, 0] / eps1, "b-", lw=2, label="$e_1/\\epsilon_1$")
    ax.plot(x_eval[:, 0], u1[:, 0] / eps1, "r--", label="stage 2 network $u_1$")
    ax.set(xlabel="x", ylabel="normalised residue", title=f"(b) second stage, $\\epsilon_1$ = {eps1:.2e}")
    ax.legend()
    ax = axes[2]
    e2 = (y_eval - two.predict(x_eval).astype(np.float64))[:, 0]
    ax.plot(x_eval[:, 0], e2, "k-", lw=0.8)
    ax.axhline(np.finfo(np.float32).eps, color="r", ls=":", label="float32 machine epsilon")
    ax.axhline(-np.finfo(np.float32).eps, color="r", ls=":")
    ax.set(xlabel="x", ylabel="$e_2 = u_g - u_0 - \\epsilon_1 u_1$", title=f"(c) two-stage error, RMS {msnn.rms(e2):.1e} (float32)")
    ax.legend(fontsize=8)
    ax = axes[3]
    for label, color in (("single, Adam", "pink"), ("single, L-BFGS", "red"), ("two-stage", "black")):
        regressor, history = runs[label]
        n, curve = common.iteration_curve(history, regressor.model.output_scale[0])
        ax.semilogy(n, curve**2, "o-", ms=3, color=color, lw=1.2, label=f"{label} ({metrics[label]['weights']} weights)")
    ax.set(xlabel="iterations", ylabel="MSE loss (data units)", title="(d) loss convergence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)

    result = metrics["two-stage"]
    common.write_metrics(args, {
        "final_rms_error": result["rms_error"],
        "final_max_error": result["max_error"],
        "stages": result["stages"],
        "single_adam_rms_error": metrics["single, Adam"]["rms_error"],
        "single_lbfgs_rms_error": metrics["single, L-BFGS"]["rms_error"],
        "weights": {k: v["weights"] for k, v in metrics.items()},
        "dtype": "float32",
        "paper": {"final_rms_error": "~1e-7 (float32 limit)", "single_stage_error": "~1e-4"},
    })
    print(f"{NAME}: two-stage float32 RMS {result['rms_error']:.2e} ({result['weights']} weights); single 3x30 "
          f"Adam {metrics['single, Adam']['rms_error']:.2e}, L-BFGS {metrics['single, L-BFGS']['rms_error']:.2e} "
          f"({metrics['single, Adam']['weights']} weights) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
