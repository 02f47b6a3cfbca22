"""Fig. 3: settings for high-frequency data (eq. 2.6, m = 30, 300 points).

Recomputes the fits and loss curves of four single networks (3x20): (i) sin first layer with regular
scale (kappa = 1); (ii) tanh first layer with modified scale factor kappa_hat = 35 (eq. 2.8); (iii) sin
first layer with kappa_hat = 35; (iv) a Fourier-feature network (fixed random features
``[cos(2 pi B x), sin(2 pi B x)]`` feeding a tanh network). Paper: (i) and (ii) fail, (iii) and (iv)
fit to the same accuracy.

Run: ``python reproductions/fig03_sin_and_kappa.py [--quick] [--out DIR] [--seed S]``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402
import msnn_tf as msnn  # noqa: E402

NAME = "fig03_sin_and_kappa"
KAPPA_HAT = 35.0
WIDTH = 20


def fourier_feature_network(seed: int, sigma: float):
    """3x20 network whose first layer is frozen: units i < 10 give cos(2 pi b_i x), the rest sin(2 pi b_i x)."""
    rng = np.random.default_rng(seed)
    b = rng.normal(scale=sigma, size=WIDTH // 2)
    network = msnn.build_stage_network(1, width=WIDTH, depth=3, first_activation="sin", seed=seed,
                                       first_layer_frequencies=np.concatenate([b, b])[:, None])
    first = network.layers[0]
    first.bias.assign(np.concatenate([np.full(WIDTH // 2, math.pi / 2), np.zeros(WIDTH // 2)]))
    first.trainable = False
    return network


def main(argv=None) -> int:
    args = common.parse_args(argv, NAME, __doc__.splitlines()[0])
    adam_steps, lbfgs_iterations = (200, 200) if args.quick else (5000, 5000)
    x = np.linspace(-1.0, 1.0, 300)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 3000)[:, None]
    y, y_eval = common.chirp(x, 30), common.chirp(x_eval, 30)
    f_d = msnn.dominant_frequency(x, y)
    kappa = KAPPA_HAT / math.sqrt(2.0 / (1 + WIDTH))  # eq. (2.8) with Xavier Var = 2 / (fan_in + units)
    cases = {
        "sin, kappa_hat regular": dict(activation="sin", kappa=1.0),
        f"tanh, kappa_hat = {KAPPA_HAT:.0f}": dict(activation="tanh", kappa=kappa),
        f"sin, kappa_hat = {KAPPA_HAT:.0f}": dict(activation="sin", kappa=kappa),
    }
    results = {}
    for label, setting in cases.items():
        network = msnn.build_stage_network(1, width=WIDTH, depth=3, kappa=setting["kappa"],
                                           first_activation=setting["activation"], seed=args.seed)
        curve = common.train_network(network, x, y, adam_steps, lbfgs_iterations)
        results[label] = (network(x_eval).numpy()[:, 0], curve)
    network = fourier_feature_network(args.seed, sigma=f_d)
    curve = common.train_network(network, x, y, adam_steps, lbfgs_iterations)
    results["Fourier-feature network"] = (network(x_eval).numpy()[:, 0], curve)
    errors = {label: msnn.rms(y_eval[:, 0] - fit) for label, (fit, _) in results.items()}

    plt = common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(22, 4.6))
    for label, (fit, _) in list(results.items())[:2]:
        axes[0].plot(x_eval[:, 0], fit, lw=1.2, label=f"{label} (RMS {errors[label]:.1e})")
    axes[0].plot(x[:, 0], y[:, 0], "k.", ms=2, label="data, m = 30")
    axes[0].set(xlabel="x", ylabel="u", title="(a) sin alone, or kappa alone")
    axes[0].legend(fontsize=8)
    for label, (_, (n, losses)) in results.items():
        axes[1].semilogy(n, losses, lw=1, label=label)
    axes[1].set(xlabel="iterations (Adam, then L-BFGS)", ylabel="MSE loss", title="(b) training loss")
    axes[1].legend(fontsize=8)
    for axis, label in ((axes[2], f"sin, kappa_hat = {KAPPA_HAT:.0f}"), (axes[3], "Fourier-feature network")):
        axis.plot(x[:, 0], y[:, 0], "k.", ms=3, label="data")
        axis.plot(x_eval[:, 0], results[label][0], "r-", lw=1, label=f"{label}\nRMS error {errors[label]:.1e}")
        axis.set(xlabel="x", ylabel="u")
        axis.legend(fontsize=8, loc="lower left")
    axes[2].set_title(f"(c) sin + kappa_hat = {KAPPA_HAT:.0f}")
    axes[3].set_title("(d) Fourier-feature network")
    fig.tight_layout()
    fig.savefig(args.out / f"{NAME}.png", dpi=110)
    plt.close(fig)
    best = f"sin, kappa_hat = {KAPPA_HAT:.0f}"
    common.write_metrics(args, {
        "final_rms_error": errors[best],
        "final_max_error": float(np.max(np.abs(y_eval[:, 0] - results[best][0]))),
        "rms_error": errors, "dominant_frequency": f_d, "kappa_hat": KAPPA_HAT, "stages": [],
        "paper": {"result": "sin alone and kappa alone fail; sin + kappa_hat 35 matches the Fourier-feature network"},
    })
    print(f"{NAME}: " + ", ".join(f"{k}: {v:.1e}" for k, v in errors.items()) + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
