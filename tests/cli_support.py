"""Helpers shared by the command-line tests (``test_cli_runs.py``, ``test_hostile_input.py``)."""

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def target(x):
    return np.sin(2.0 * x + 1.0) + 0.2 * np.exp(1.3 * x)


def write_csv(path, x, y, names=("x", "u")):
    np.savetxt(path, np.c_[x, y], delimiter=",", header=",".join(names), comments="", fmt="%.17g")
    return path


def fit_command(data, out, *extra):
    """Two stages, the second trained (Adam + L-BFGS), so that a kill can land inside it."""
    return [sys.executable, "-m", "msnn_tf.cli", "fit", str(data), "--out", str(out), "--quick", "--num-stages", "2",
            "--stage-solver", "adam_lbfgs", "--verbose", "0", *extra]
