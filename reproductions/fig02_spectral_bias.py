"""Fig. 2: spectral bias. Regular tanh networks fit eq. (2.6) for m = 3, partly for m = 15, not for m = 30.

Recomputes: (a) fits of a 3x20 tanh network (regular initialisation, Adam then L-BFGS) to 300 points of
``(1 - x^2/2) cos(m (x + 0.5 x^3))`` for m = 3, 15, 30; (b) the amplitude spectrum for m = 30 and its
dominant frequency (paper: f_d ~ 5.5); (c) the derivative du/dx for m = 30, of magnitude O(2 pi f_d);
(e) single tanh units ``tanh(w x)`` for w = 1, 2 pi f_d against the m = 30 data.

Run: ``python reproductions/fig02_spectral_bias.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig02_spectral_bias"
MS = (3, 15, 30)


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    adam_steps, lbfgs_iterations = (200, 200) if args.quick else (5000, 5000)
    x = np.linspace(-1.0, 1.0, 300)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 3000)[:, None]
    fits, errors = {}, {}
    for m in MS:
        regressor = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", width=20, depth=3, adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations,
                                             learning_rate=1e-3, decay_rate=1.0, seed=args.seed, verbose=args.verbose)
        regressor.fit(x, common.chirp(x, m), num_stages=1)
        fits[m] = regressor.predict(x_eval)[:, 0]
        errors[m] = msnn.rms(common.chirp(x_eval, m)[:, 0] - fits[m]) / msnn.rms(common.chirp(x_eval, m))
    y30 = common.chirp(x, 30)
    freqs, amplitude = msnn.amplitude_spectra(x, y30)[0]
    f_d = msnn.dominant_frequency(x, y30)
    derivative = common.chirp_derivative(x_eval[:, 0], 30)

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(24, 4.4))
    for m, color in zip(MS, ("tab:blue", "tab:orange", "tab:green")):
        axes[0].plot(x[:, 0], common.chirp(x, m)[:, 0] + 2.5 * MS.index(m), ".", color=color, ms=2)
        axes[0].plot(x_eval[:, 0], fits[m] + 2.5 * MS.index(m), "-", color=color, lw=1,
                     label=f"m = {m}: relative RMS error {errors[m]:.1e}")
    axes[0].set(xlabel="x", ylabel="u (offset by 2.5 per m)", title="(a) regular 3x20 tanh network fits")
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].plot(freqs, amplitude / amplitude.max(), "k-")
    axes[1].axvline(f_d, color="r", ls="--", label=f"f_d = {f_d:.2f} (paper 5.5)")
    axes[1].set(xlabel="frequency (cycles per unit x)", ylabel="normalised amplitude", xlim=(0, 25),
                title="(b) spectrum, m = 30")
    axes[1].legend()
    axes[2].plot(x_eval[:, 0], derivative, "k-", label="du/dx, m = 30")
    axes[2].axhline(2 * math.pi * f_d, color="r", ls="--", label="$\\pm 2\\pi f_d$")
    axes[2].axhline(-2 * math.pi * f_d, color="r", ls="--")
    axes[2].set(xlabel="x", ylabel="du/dx", title="(c) derivative scales as 2 pi f_d")
    axes[2].legend(fontsize=8)
    axes[3].axis("off")
    axes[3].text(0.05, 0.5, "(d) one hidden layer (2.7):\n\n$u(x) = \\sum_i w_i^{(1)} \\tanh(w_i^{(0)} x + b_i^{(0)}) + b_0$\n\n"
                 "Xavier: $w^{(0)} \\sim O(\\sqrt{Var})$,\nbut the data need $O(2\\pi f_d)$", fontsize=11, va="center")
    axes[4].plot(x_eval[:, 0], common.chirp(x_eval, 30)[:, 0], "k-", lw=1, label="u, m = 30")
    for w in (1.0, 2 * math.pi * f_d):
        axes[4].plot(x_eval[:, 0], np.tanh(w * x_eval[:, 0]), lw=1.5, label=f"tanh({w:.1f} x)")
    axes[4].set(xlabel="x", ylabel="unit output", title="(e) single units vs the data", xlim=(-0.5, 0.5))
    axes[4].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": errors[30], "final_max_error": float(np.max(np.abs(common.chirp(x_eval, 30)[:, 0] - fits[30]))),
        "relative_rms_error": {str(m): errors[m] for m in MS}, "dominant_frequency_m30": f_d,
        "stages": [], "paper": {"dominant_frequency_m30": 5.5, "fits": "m=3 good, m=15 partial, m=30 fails"},
    })
    print(f"{NAME}: relative RMS error m=3 {errors[3]:.1e}, m=15 {errors[15]:.1e}, m=30 {errors[30]:.1e}; "
          f"f_d(m=30) = {f_d:.2f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
