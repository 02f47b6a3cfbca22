"""Fig. 15 (Appendix A): a single network's error plateau does not move with size, data or optimizer.

Recomputes the RMS error of a tanh network fitted to eq. (2.2) (Adam then L-BFGS, regular
initialisation) against (a) units per layer, (b) layers, (c) training points, with error bars over
seeds (3 seeds here; the paper used 8), and (d) the loss of Adam alone against L-BFGS alone.

Run: ``python reproductions/fig15_single_network_plateau.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig15_single_network_plateau"



def run(width, depth, points, seed, adam_steps, lbfgs_iterations):
    x = np.linspace(-1.0, 1.0, points)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 4000)[:, None]
    regressor = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", width=width, depth=depth, adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations,
                                         learning_rate=1e-3, decay_rate=1.0, loss_weighting="uniform", seed=seed, verbose=0)
    history = regressor.fit(x, common.smooth_target(x), num_stages=1)
    return msnn.rms(common.smooth_target(x_eval) - regressor.predict(x_eval)), history, regressor


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    if args.quick:
        seeds, adam_steps, lbfgs_iterations = [args.seed], 100, 100
        sweeps = {"units": [10, 20], "layers": [2, 3], "points": [100, 300]}
    else:
        seeds, adam_steps, lbfgs_iterations = [args.seed + k for k in range(3)], 3000, 3000
        sweeps = {"units": [10, 20, 40, 80], "layers": [2, 3, 4, 6], "points": [100, 300, 1000, 3000]}
    results = {}
    for sweep, values in sweeps.items():
        results[sweep] = []
        for value in values:
            width, depth, points = 20, 3, 300
            if sweep == "units":
                width = value
            elif sweep == "layers":
                depth = value
            else:
                points = value
            errors = [run(width, depth, points, seed, adam_steps, lbfgs_iterations)[0] for seed in seeds]
            results[sweep].append({"value": value, "mean_rms": float(np.mean(errors)), "std_rms": float(np.std(errors)),
                                   "rms": errors})
    optimizers = {}
    for label, steps, iterations in (("Adam", 2 * adam_steps, 0), ("L-BFGS", 0, 2 * lbfgs_iterations)):
        error, history, regressor = run(20, 3, 300, args.seed, steps, iterations)
        optimizers[label] = (error, common.iteration_curve(history, regressor.model.output_scale[0]))

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(22, 4.6))
    for axis, (sweep, xlabel) in zip(axes[:3], (("units", "units per hidden layer"), ("layers", "hidden layers"),
                                                ("points", "training points"))):
        rows = results[sweep]
        axis.errorbar([r["value"] for r in rows], [r["mean_rms"] for r in rows], yerr=[r["std_rms"] for r in rows],
                      fmt="ko-", capsize=4)
        axis.set_yscale("log")
        axis.set_xscale("log" if sweep != "layers" else "linear")
        axis.set(xlabel=xlabel, ylabel=f"RMS error (mean +- std, {len(seeds)} seeds)")
    axes[0].set_title("(a) units")
    axes[1].set_title("(b) layers")
    axes[2].set_title("(c) data size")
    for label, (error, (n, curve)) in optimizers.items():
        axes[3].semilogy(n, curve**2, lw=1, label=f"{label} (final RMS {error:.1e})")
    axes[3].set(xlabel="iterations", ylabel="MSE loss", title="(d) Adam vs L-BFGS")
    axes[3].legend()
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    all_means = [r["mean_rms"] for rows in results.values() for r in rows]
    common.write_metrics(args, {
        "final_rms_error": float(min(all_means)), "final_max_error": float(max(all_means)), "sweeps": results,
        "optimizers": {k: v[0] for k, v in optimizers.items()}, "num_seeds": len(seeds), "stages": [],
        "note": "final_rms_error / final_max_error: smallest / largest mean plateau RMS over all sweeps",
        "paper": {"result": "plateau ~1e-4..1e-3 independent of units, layers, data size and optimizer (8 seeds)"},
    })
    print(f"{NAME}: plateau RMS between {min(all_means):.1e} and {max(all_means):.1e} over all sweeps; "
          + ", ".join(f"{k} {v[0]:.1e}" for k, v in optimizers.items()) + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
