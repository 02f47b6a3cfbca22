"""Fig. 5: four-stage regression of eq. (2.2) to near float64 machine precision.

Recomputes: (a) the first stage's fit; (b) each stage's training loss over iterations; (c) the RMS
error over iterations with a fit of ``eps ~ exp(-sqrt(n)/c)`` and, inset, a single network trained
with Adam for as many iterations (``~ 1/n``); (d) each stage's residue ``e_n(x)`` and its spectrum;
(e) ``f_d`` against ``eps`` with the power-law exponent of eq. (2.11) (paper: alpha ~ 1/6).

Run: ``python reproductions/fig05_multistage_regression.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig05_multistage_regression"



def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    quick = args.quick
    num_points, num_stages = (800, 2) if quick else (5000, 4)
    settings = dict(adam_steps=200, lbfgs_iterations=300) if quick else {}
    single_steps = 600 if quick else 40000
    x = np.linspace(-1.0, 1.0, num_points)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 8000)[:, None]
    y, y_eval = common.smooth_target(x), common.smooth_target(x_eval)

    regressor = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", seed=args.seed, verbose=args.verbose, **settings)
    history = regressor.fit(x, y, num_stages=num_stages, validation_data=(x_eval, y_eval))
    model = regressor.model
    scale = model.output_scale[0]
    stages = common.stage_metrics(history, model, x_eval, y_eval)
    accepted = [s for s in stages if s["accepted"]]
    iterations, rms_curve = common.iteration_curve(history, scale)
    c_fit, amplitude_fit = common.fit_exp_root(iterations, rms_curve, root=2.0)

    # The single-stage comparison: the stage-0 network alone, Adam at a constant rate for as long.
    single = msnn.MultiStageRegressor(stage_solver="adam_lbfgs", width=20, adam_steps=single_steps, lbfgs_iterations=0, decay_rate=1.0,
                                      learning_rate=1e-3, seed=args.seed, verbose=0)
    single_history = single.fit(x, y, num_stages=1)
    single_iterations, single_curve = common.iteration_curve(single_history, single.model.output_scale[0])
    late = single_iterations > single_iterations[-1] / 10
    single_slope = float(np.polyfit(np.log(single_iterations[late]), np.log(np.maximum(single_curve[late], 1e-300)), 1)[0])

    # Residues e_n after n stages, their spectra, and (eps, f_d) for eq. (2.11).
    residues, spectra, eps, fd = [], [], [], []
    for k in range(1, len(accepted) + 1):
        residue = (y_eval - model.predict(x_eval, num_stages=k))[:, 0]
        residues.append(residue)
        freqs, amplitude = msnn.amplitude_spectra(x_eval, residue)[0]
        spectra.append((freqs, amplitude))
        eps.append(msnn.rms(residue))
        fd.append(msnn.dominant_frequency(x_eval, residue))
    alpha = common.fit_power_law(eps, fd)

    plt = common.pyplot()
    fig = plt.figure(figsize=(18, 9))
    grid = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(grid[0, 0])
    ax.plot(x_eval[:, 0], y_eval[:, 0], "b-", lw=2, label="target (2.2)")
    ax.plot(x_eval[:, 0], model.predict(x_eval, num_stages=1)[:, 0], "r--", lw=1.5, label="stage 1 network $u_0$")
    ax.set(xlabel="x", ylabel="u", title="(a) first-stage fit")
    ax.legend()
    ax = fig.add_subplot(grid[0, 1])
    offset = 0
    for report in history.stages:
        if not report.accepted:
            continue
        n = offset + np.arange(1, report.adam_losses.size + 1)
        line, = ax.semilogy(n, report.adam_losses, lw=1, label=f"stage {report.stage + 1}")
        if report.lbfgs_losses.size:
            ax.semilogy(offset + report.adam_losses.size + report.lbfgs_iterations_history, report.lbfgs_losses, lw=1.5,
                        color=line.get_color())
        offset += report.iterations
    ax.set(xlabel="iterations (Adam, then L-BFGS)", ylabel="loss of the stage (normalised residue)", title="(b) training loss")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[0, 2])
    ax.semilogy(iterations, rms_curve, "k-", lw=1, label="multi-stage (from the loss)")
    ax.semilogy([s["cumulative_iterations"] for s in accepted], [s["rms_error"] for s in accepted], "ko",
                label="evaluation RMS at stage end")
    if np.isfinite(c_fit):
        n = np.linspace(1, iterations[-1], 200)
        ax.semilogy(n, amplitude_fit * np.exp(-np.sqrt(n) / c_fit), "r--", label=f"fit: exp(-sqrt(n)/{c_fit:.0f})")
    ax.set(xlabel="iterations (all stages)", ylabel="RMS error $\\epsilon$", title="(c) error over iterations")
    ax.legend(fontsize=8, loc="lower left")
    inset = ax.inset_axes([0.55, 0.55, 0.42, 0.4])
    inset.loglog(single_iterations, single_curve, "m-", lw=1)
    inset.set_title(f"single stage: slope {single_slope:.2f}", fontsize=8)
    inset.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[0, 3])
    ax.loglog(eps, fd, "ko-", label="residue after each stage")
    if np.isfinite(alpha) and len(eps) > 1:
        e = np.array([min(eps), max(eps)])
        f0 = np.exp(np.mean(np.log(fd) + alpha * np.log(eps)))
        ax.loglog(e, f0 * e ** (-alpha), "r--", label=f"fit: alpha = {alpha:.3f} (paper 1/6)")
    ax.set(xlabel="RMS of residue $\\epsilon$", ylabel="dominant frequency $f_d$", title="(e) eq. (2.11)")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, 0:2])
    for k, residue in enumerate(residues, start=1):
        ax.plot(x_eval[:, 0], residue / eps[k - 1], lw=0.8, label=f"$e_{k}/\\epsilon_{k}$, $\\epsilon_{k}$={eps[k - 1]:.1e}")
    ax.set(xlabel="x", ylabel="normalised residue", title="(d) residue after each stage")
    ax.legend(fontsize=8, loc="upper right")
    ax = fig.add_subplot(grid[1, 2:4])
    for k, (freqs, amplitude) in enumerate(spectra, start=1):
        ax.semilogy(freqs, np.maximum(amplitude / amplitude.max(), 1e-12), lw=0.8, label=f"$e_{k}$, $f_d$={fd[k - 1]:.1f}")
    ax.set(xlabel="frequency (cycles per unit x)", ylabel="normalised amplitude", title="(d) spectra of the residues",
           xlim=(0, min(freqs[-1], 3.0 * max(fd))))
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = args.out / f"{NAME}.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)

    final = accepted[-1]
    common.write_metrics(args, {
        "final_rms_error": final["rms_error"],
        "final_max_error": final["max_error"],
        "stages": stages,
        "exp_sqrt_fit_c": c_fit,
        "alpha": alpha,
        "residue_rms": eps,
        "residue_dominant_frequency": fd,
        "single_stage_final_rms": float(single_curve[-1]),
        "single_stage_loglog_slope": single_slope,
        "single_stage_iterations": int(single_iterations[-1]),
        "num_points": num_points,
        "paper": {"final_rms_error": "near 1e-16 (Fig. 5d)", "c": 25, "alpha": 1 / 6},
    })
    print(f"{NAME}: final RMS {final['rms_error']:.3e}, max {final['max_error']:.3e}, alpha {alpha:.3f}, "
          f"c {c_fit:.1f}, single-stage slope {single_slope:.2f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
