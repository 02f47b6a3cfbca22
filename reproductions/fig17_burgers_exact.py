"""Fig. 17: exact self-similar Burgers profiles (eq. D.6); smooth lambda = 1/2 against non-smooth 0.4.

Recomputes: (a) the profiles ``U(y)`` on [-2, 2] for ``lambda = 0.5`` (the first smooth solution) and
``lambda = 0.4`` (a non-smooth neighbour), ``U(-2) = 1`` so ``C = 1``; (b) their third derivatives near
the origin, where ``lambda = 0.4`` forms a cusp (``U''' ~ |y|^(1/2)``); (c) their fourth derivatives,
continuous for ``lambda = 0.5`` and unbounded with opposite signs on the two sides of 0 for 0.4. The
profiles come from :func:`msnn_tf.pinn.burgers.self_similar_profile` (the implicit form solved to
round-off), the derivatives from implicit differentiation; the metrics give the residual of eq. (D.5)
of the exact profiles (round-off) and the derivatives next to the origin. No training: ``--quick``
only uses coarser grids.

Run: ``python reproductions/fig17_burgers_exact.py [--quick] [--out DIR]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
from msnn_tf.pinn import burgers  # noqa: E402

NAME = "fig17_burgers_exact"
EXPONENTS = {0.5: ("b-", "smooth, lambda = 1/2"), 0.4: ("r--", "non-smooth, lambda = 0.4")}


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    y = np.linspace(-2.0, 2.0, 2001 if args.quick else 20001)
    near = np.linspace(-0.1, 0.1, 401 if args.quick else 4001)
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8))
    metrics = {"profiles": {}}
    for lam, (style, label) in EXPONENTS.items():
        u, du = burgers.self_similar_derivatives(y, lam, order=1)
        residual = burgers.self_similar_residual(y, u, du, lam)
        values = burgers.self_similar_derivatives(near, lam, order=4)
        side = burgers.self_similar_derivatives(np.array([-1e-6, 1e-6]), lam, order=4)
        axes[0].plot(y, u, style, lw=2, label=label)
        axes[1].plot(near, values[3], style, lw=1.5, label=label)
        axes[2].plot(near, np.clip(values[4], -200.0, 200.0), style, lw=1.5, label=label)
        metrics["profiles"][str(lam)] = {
            "residual_rms": float(np.sqrt(np.mean(residual**2))), "residual_max": float(np.max(np.abs(residual))),
            "oddness_max": float(np.max(np.abs(burgers.self_similar_profile(-y, lam) + u))),
            "u3_at_minus_and_plus_1e-6": side[3].tolist(), "u4_at_minus_and_plus_1e-6": side[4].tolist(),
        }
    axes[0].set(xlabel="y", ylabel="U", title="(a) exact profiles (D.6), U(-2) = 1")
    axes[1].set(xlabel="y", ylabel="U'''", title="(b) third derivative near 0")
    axes[2].set(xlabel="y", ylabel="U''''", title="(c) fourth derivative near 0 (clipped at +-200)")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    smooth = metrics["profiles"]["0.5"]
    common.write_metrics(args, dict(metrics, final_rms_error=smooth["residual_rms"], final_max_error=smooth["residual_max"],
                                    stages=[], paper={"smooth": "lambda = 1/(2 + 2i): smooth everywhere",
                                                      "non_smooth": "lambda = 0.4: U'''' discontinuous at 0"}))
    rough = metrics["profiles"]["0.4"]
    print(f"{NAME}: eq. (D.5) residual of the exact profiles: RMS {smooth['residual_rms']:.1e} (lambda 0.5), "
          f"{rough['residual_rms']:.1e} (0.4); U''''(+-1e-6): {smooth['u4_at_minus_and_plus_1e-6']} (0.5), "
          f"{rough['u4_at_minus_and_plus_1e-6']} (0.4) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
