"""When an optimizer has stopped paying for its iterations (issue: time to machine precision).

A block of steps is worth its time while it lowers the objective by a clear factor. The rule is
written once and used by both optimizers (:func:`~msnn_tf.adam_minimize`,
:func:`~msnn_tf.lbfgs_minimize`, argument ``min_block_gain``) at their block ends.
"""

from __future__ import annotations

import math

__all__ = ["block_gain_stalled", "check_min_block_gain"]


def check_min_block_gain(value) -> None:
    """``ValueError`` naming ``min_block_gain`` unless ``value`` is ``None`` or a finite number above 1."""
    if value is not None and not (math.isfinite(float(value)) and value > 1):
        raise ValueError(f"`min_block_gain` must be a finite number above 1, got {value!r}")


def block_gain_stalled(before: float, after: float, min_gain: float) -> bool:
    """Whether a block that took the objective from ``before`` to ``after`` lowered it by less than
    the factor ``min_gain`` (``before < min_gain * after``).

    Objectives at or below 0 (an exact fit) count as stalled: nothing is left to gain. A non-finite
    ``after`` is not judged here (the optimizers stop on it by their own rule).

    Example: with ``min_gain = 2`` an L-BFGS run whose blocks of 500 iterations take a regression
    loss 5.5e-10 -> 1.4e-10 -> 9.3e-11 continues after the first (3.9x) and stops after the second
    (1.5x).
    """
    if not math.isfinite(after):
        return False
    if after <= 0.0:
        return True
    return before < min_gain * after
