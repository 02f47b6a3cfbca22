"""Fig. 4: the modified scale factor kappa_hat (eq. 2.8) for eq. (2.6) with m = 30 and N_d = 300.

Recomputes, for a sweep of kappa_hat, a single 3x20 network with a sin first layer trained with Adam then
L-BFGS: (a) fits at a good and at an overfitting kappa_hat; (b) training loss curves; (c) training and
validation RMS error (dense grid) against kappa_hat, with the bounds pi f_d and N_d / 6 of eqs.
(2.9)-(2.10). Paper: the minimum lies in pi f_d < kappa_hat < N_d / 6; overfitting from kappa_hat ~ 60.

Run: ``python reproductions/fig04_kappa_sweep.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig04_kappa_sweep"
WIDTH = 20
NUM_POINTS = 300


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    if args.quick:
        kappa_hats, adam_steps, lbfgs_iterations = (5.0, 35.0, 300.0), 200, 200
    else:
        kappa_hats, adam_steps, lbfgs_iterations = (1.0, 3.0, 10.0, 20.0, 35.0, 50.0, 60.0, 100.0, 200.0, 300.0), 5000, 10000
    x = np.linspace(-1.0, 1.0, NUM_POINTS)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 6000)[:, None]
    y, y_eval = common.chirp(x, 30), common.chirp(x_eval, 30)
    f_d = msnn.dominant_frequency(x, y)
    rows, curves, fits = [], {}, {}
    for kappa_hat in kappa_hats:
        regressor = msnn.MultiStageRegressor(
            stage_solver="adam_lbfgs", width=WIDTH, depth=3, adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations, learning_rate=1e-3,
            decay_rate=1.0, first_stage_activation="sin", first_stage_kappa=kappa_hat / math.sqrt(2.0 / (1 + WIDTH)),
            loss_weighting="uniform", seed=args.seed, verbose=args.verbose)
        history = regressor.fit(x, y, num_stages=1)
        report = history.stages[0]
        prediction = regressor.predict(x_eval)
        rows.append({"kappa_hat": kappa_hat, "train_rms": report.train_rms,
                     "validation_rms": msnn.rms(y_eval - prediction),
                     "validation_max": float(np.max(np.abs(y_eval - prediction))), "iterations": report.iterations})
        curves[kappa_hat] = common.iteration_curve(history, regressor.model.output_scale[0])
        fits[kappa_hat] = prediction[:, 0]
    validation = np.array([r["validation_rms"] for r in rows])
    best = rows[int(np.argmin(validation))]
    overfit = [r for r in rows if r["kappa_hat"] >= 60 and r["validation_rms"] > 10 * best["validation_rms"]]

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    worst = max(kappa_hats)
    axes[0].plot(x[:, 0], y[:, 0], "k.", ms=3, label="data, N_d = 300")
    axes[0].plot(x_eval[:, 0], fits[best["kappa_hat"]], "b-", lw=1, label=f"kappa_hat = {best['kappa_hat']:.0f}")
    axes[0].plot(x_eval[:, 0], fits[worst], "r-", lw=0.6, label=f"kappa_hat = {worst:.0f} (overfits)")
    axes[0].set(xlabel="x", ylabel="u", title="(a) fits", ylim=(-2, 2))
    axes[0].legend(fontsize=8, loc="lower left")
    for kappa_hat, (n, curve) in curves.items():
        axes[1].semilogy(n, curve**2, lw=1, label=f"kappa_hat = {kappa_hat:g}")
    axes[1].set(xlabel="iterations (Adam, then L-BFGS)", ylabel="training MSE", title="(b) training loss")
    axes[1].legend(fontsize=7, ncol=2)
    k = np.array([r["kappa_hat"] for r in rows])
    axes[2].loglog(k, validation, "ko-", label="validation RMS (6000-point grid)")
    axes[2].loglog(k, [r["train_rms"] for r in rows], "bs--", label="training RMS")
    axes[2].axvline(math.pi * f_d, color="g", ls=":", label=f"pi f_d = {math.pi * f_d:.1f}")
    axes[2].axvline(NUM_POINTS / 6, color="r", ls=":", label=f"N_d / 6 = {NUM_POINTS / 6:.0f}")
    axes[2].set(xlabel="modified scale factor kappa_hat", ylabel="RMS error", title="(c) error vs kappa_hat")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": best["validation_rms"], "final_max_error": best["validation_max"],
        "best_kappa_hat": best["kappa_hat"], "sweep": rows, "dominant_frequency": f_d,
        "pi_f_d": math.pi * f_d, "n_d_over_6": NUM_POINTS / 6,
        "overfitting_kappa_hats": [r["kappa_hat"] for r in overfit], "stages": [],
        "paper": {"optimum": "pi f_d < kappa_hat < N_d/6", "overfitting": "kappa_hat >= 60"},
    })
    print(f"{NAME}: best kappa_hat {best['kappa_hat']:g} (validation RMS {best['validation_rms']:.2e}); "
          f"overfitting (validation > 10x best) at {[r['kappa_hat'] for r in overfit]} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
