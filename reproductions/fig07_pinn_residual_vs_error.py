"""Fig. 7: the PINN residual and the prediction error share their dominant frequency; eq. (3.9).

ODE (3.3) ``u' = u + x`` on [-1, 1] with ``u(0) = 0`` (exact ``e^x - x - 1``), one stage (3x20 tanh).
Recomputes: (a) the exact solution and the network ``u_0``; (b) the equation residual ``r_1`` and the
error ``e_1 = u_g - u_0``; (c) their spectra, with f_d of each; and the ratio of eq. (3.9),
``eps_1 = eps_r / (2 pi f_d)``, against the measured RMS of ``e_1``.

Run: ``python reproductions/fig07_pinn_residual_vs_error.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig07_pinn_residual_vs_error"



def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    adam_steps, lbfgs_iterations = (200, 100) if args.quick else (3000, 3000)
    problem = common.ode_problem()
    solver = msnn.MultiStagePINN(problem, stage_solver="adam_lbfgs", adam_steps=adam_steps, lbfgs_iterations=lbfgs_iterations, seed=args.seed,
                                 verbose=args.verbose)
    history = solver.fit(num_stages=1)
    x = np.linspace(-1.0, 1.0, 4001)[:, None]
    exact = problem.exact(x)
    error = (exact - solver.predict(x))[:, 0]
    residual = solver.residual(x)[:, 0]
    f_error = msnn.dominant_frequency(x, error)
    f_residual = msnn.dominant_frequency(x, residual)
    eps_r, eps_e = msnn.rms(residual), msnn.rms(error)
    predicted = eps_r / (2 * math.pi * f_residual)

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    axes[0].plot(x[:, 0], exact[:, 0], "b-", lw=2, label="exact $e^x - x - 1$")
    axes[0].plot(x[:, 0], solver.predict(x)[:, 0], "r--", label="PINN $u_0$")
    axes[0].set(xlabel="x", ylabel="u", title="(a) solution of (3.3)")
    axes[0].legend()
    axes[1].plot(x[:, 0], residual, "k-", label=f"residual $r_1$, RMS {eps_r:.1e}")
    axes[1].plot(x[:, 0], error, "r-", label=f"error $e_1$, RMS {eps_e:.1e}")
    axes[1].set(xlabel="x", ylabel="value", title=f"(b) eq. (3.9): eps_r/(2 pi f_d) = {predicted:.1e}")
    axes[1].legend(fontsize=8)
    for values, label, style in ((residual, "residual", "k-"), (error, "error", "r-")):
        freqs, amplitude = msnn.amplitude_spectra(x, values)[0]
        axes[2].semilogy(freqs, amplitude / amplitude.max(), style, lw=1,
                         label=f"{label}: f_d = {msnn.dominant_frequency(x, values):.2f}")
    axes[2].set(xlabel="frequency (cycles per unit x)", ylabel="normalised amplitude", xlim=(0, 10),
                title="(c) spectra")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    common.write_metrics(args, {
        "final_rms_error": eps_e, "final_max_error": float(np.max(np.abs(error))),
        "residual_rms": eps_r, "dominant_frequency_residual": f_residual, "dominant_frequency_error": f_error,
        "eq_3_9_estimate": predicted, "estimate_over_true": predicted / eps_e,
        "stages": [common.pinn_stage_summary(s) | {"rms_error": s.true_rms, "max_error": s.true_max, "iterations": s.adam_steps + s.lbfgs_iterations}
                   for s in history.stages],
        "paper": {"dominant_frequency": 1.5, "ratio": "eps_1 ~ eps_r / (2 pi f_d), about 10x below the residual"},
    })
    print(f"{NAME}: error RMS {eps_e:.2e}, residual RMS {eps_r:.2e}, f_d residual {f_residual:.2f} / error {f_error:.2f}, "
          f"eq. 3.9 estimate {predicted:.2e} ({predicted / eps_e:.2f}x the true) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
