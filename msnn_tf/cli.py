"""The ``msnn-tf`` command: ``msnn-tf demo`` runs a multi-stage regression and writes a plot."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

DEMO_TARGET = "sin(2x + 1) + 0.2 exp(1.3x)"


def _demo_target(x):
    import numpy as np

    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def demo(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="msnn-tf demo", description=f"Multi-stage regression of {DEMO_TARGET} on [-1, 1].")
    parser.add_argument("--out", default="msnn_demo_output", help="output folder (default: %(default)s)")
    parser.add_argument("--num-stages", type=int, default=4, help="stages to train (default: %(default)s)")
    parser.add_argument("--num-points", type=int, default=5000, help="uniform training points (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="few iterations, for a smoke test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    import msnn_tf as msnn
    from msnn_tf.plotting import plot_regression_summary

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x = np.linspace(-1.0, 1.0, args.num_points)[:, None]
    x_eval = np.linspace(-1.0, 1.0, 8000)[:, None]
    settings = dict(seed=args.seed, verbose=args.verbose)
    if args.quick:
        settings.update(adam_steps=300, lbfgs_iterations=300)
    regressor = msnn.MultiStageRegressor(**settings)
    start = time.perf_counter()
    history = regressor.fit(x, _demo_target(x), num_stages=args.num_stages, validation_data=(x_eval, _demo_target(x_eval)))
    wall = time.perf_counter() - start
    error = _demo_target(x_eval) - regressor.predict(x_eval)
    print()
    print(f"target {DEMO_TARGET}: {args.num_points} training points, 8000 evaluation points on [-1, 1]")
    print(history.table())
    print(f"final evaluation RMS {float(np.sqrt(np.mean(error ** 2))):.3e}, max {float(np.max(np.abs(error))):.3e}, "
          f"wall time {wall:.1f} s")
    png = plot_regression_summary(regressor.model, history, x_eval, _demo_target(x_eval), out / "demo.png",
                                  title=f"multi-stage regression of {DEMO_TARGET}")
    regressor.save(out / "demo_model.keras")
    with open(out / "demo_history.json", "w") as handle:
        json.dump(history.to_dict(), handle, indent=1)
    print(f"wrote {png}, {out / 'demo_model.keras'} and {out / 'demo_history.json'}")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: msnn-tf demo [--out DIR] [--num-stages N] [--quick]\n\n"
              "  demo   multi-stage regression of sin(2x+1) + 0.2 exp(1.3x): per-stage table and a PNG")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return demo(rest)
    print(f"msnn-tf: unknown command {command!r} (try 'msnn-tf --help')", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
