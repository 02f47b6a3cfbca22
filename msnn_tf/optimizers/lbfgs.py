"""L-BFGS through ``tfp.optimizer.lbfgs_minimize``, compiled, in resumable blocks.

TFP's defaults (``max_iterations=50``, ``tolerance=1e-8``) stop far above machine precision, so the
defaults here switch every tolerance off and let the run end when the line search can make no
further progress (TFP reports that as ``failed``) or at ``max_iterations``. Each block of
iterations is one XLA-compiled call that resumes from the previous block's results, so progress is
shown without leaving compiled code more than once per block.
"""

from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from msnn_tf.optimizers.flat import as_position
from msnn_tf.optimizers.progress import block_gain_stalled, check_min_block_gain

__all__ = ["LbfgsResults", "lbfgs_minimize"]


class LbfgsResults(NamedTuple):
    """Outcome of :func:`lbfgs_minimize` (immutable).

    Attributes:
        position: Final position, a vector of the initial position's dtype (the best one: L-BFGS is monotone).
        objective_value: Objective at ``position``.
        num_iterations: L-BFGS iterations taken.
        num_objective_evaluations: Objective-and-gradient evaluations, line searches included.
        converged: Gradient norm fell below ``tolerance``.
        stalled: The line search could make no further progress (TFP's ``failed``): for a smooth loss
            in float64 this is the normal end of a run to machine precision.
        failed: The objective became non-finite.
        iterations: Iteration count after each block.
        losses: Objective after each block.
        times: Seconds since the start after each block.
        message: Why the run stopped.
        wall_time: Seconds spent, compilation included.
        evaluations: Objective evaluations after each block (with ``times``: the cost of a block
            without compilation, which happens in the first two blocks).
    """

    position: tf.Tensor
    objective_value: float
    num_iterations: int
    num_objective_evaluations: int
    converged: bool
    stalled: bool
    failed: bool
    iterations: np.ndarray
    losses: np.ndarray
    times: np.ndarray
    message: str
    wall_time: float
    evaluations: np.ndarray


def lbfgs_minimize(
    value_and_gradients_function: Callable,
    initial_position,
    max_iterations: int = 20000,
    num_correction_pairs: int = 50,
    tolerance: float = 0.0,
    f_relative_tolerance: float = 0.0,
    x_tolerance: float = 0.0,
    max_line_search_iterations: int = 50,
    block_size: int = 500,
    jit_compile: bool = True,
    callback: Callable | None = None,
    time_limit: float | None = None,
    min_block_gain: float | None = None,
    single_program: bool = False,
) -> LbfgsResults:
    """Minimises a function of a flat float vector with L-BFGS (TFP), compiled.

    Args:
        value_and_gradients_function: Maps a position vector to ``(objective, gradient)``; traceable
            by ``tf.function`` (and XLA when ``jit_compile``).
        initial_position: Starting vector (float64, or a float32 tensor to optimise in float32).
        max_iterations: Upper bound on iterations (0 returns the start).
        num_correction_pairs: Memory of the inverse-Hessian estimate.
        tolerance: Stop when the gradient's sup-norm is below this (0: never).
        f_relative_tolerance: Stop when the relative objective change is below this (0: never).
        x_tolerance: Stop when the position change is below this (0: never).
        max_line_search_iterations: Per line search.
        block_size: Iterations per compiled call; ``callback`` runs after each.
        jit_compile: Compile with XLA (3-6x faster than plain ``tf.function`` on CPU).
        callback: ``callback(iteration, objective_value, elapsed_seconds)`` after each block; returning
            ``True`` stops the run there (e.g. a user's ``stop_training``).
        time_limit: Stop after the first block that ends past this many seconds (``None``: no limit).
        min_block_gain: Stop after a full block that lowered the objective by less than this factor
            (``None``: never): the run has stopped paying for its iterations (see
            :func:`msnn_tf.optimizers.block_gain_stalled`). Must exceed 1.
        single_program: Compile one program only: the initial state (one objective evaluation) is
            computed outside XLA and every block, the first included, resumes from the previous
            results. The default compiles the first block separately from the later ones, which costs
            a second XLA compilation of the loop (2-12 s, measured on a 1-D regression and a gPINN
            loss) but is what the recorded reproductions ran: the initial gradient rounds differently
            outside the compiled loop, and the trajectory after it differs at round-off.

    Raises:
        ValueError: on a negative ``max_iterations`` or non-positive sizes.
    """
    import tensorflow_probability as tfp

    if isinstance(max_iterations, bool) or int(max_iterations) != max_iterations or max_iterations < 0:
        raise ValueError(f"`max_iterations` must be a non-negative integer, got {max_iterations!r}")
    for name, value in (("num_correction_pairs", num_correction_pairs), ("block_size", block_size),
                        ("max_line_search_iterations", max_line_search_iterations)):
        if isinstance(value, bool) or int(value) != value or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    check_min_block_gain(min_block_gain)
    start = time.perf_counter()
    position = as_position(initial_position)
    if max_iterations == 0:
        value, _ = value_and_gradients_function(position)
        value = float(value)
        return LbfgsResults(position, value, 0, 1, False, False, not math.isfinite(value),
                            np.zeros(0, int), np.zeros(0), np.zeros(0), "no iterations requested", 0.0, np.zeros(0, int))
    options = dict(
        num_correction_pairs=int(num_correction_pairs),
        tolerance=float(tolerance),
        f_relative_tolerance=float(f_relative_tolerance),
        x_tolerance=float(x_tolerance),
        max_line_search_iterations=int(max_line_search_iterations),
    )

    @tf.function(jit_compile=jit_compile, autograph=False)
    def first_block(position, limit):
        return tfp.optimizer.lbfgs_minimize(
            value_and_gradients_function, initial_position=position, max_iterations=limit, **options)

    @tf.function(jit_compile=jit_compile, autograph=False)
    def next_block(previous, limit):
        return tfp.optimizer.lbfgs_minimize(
            value_and_gradients_function, initial_position=None, previous_optimizer_results=previous,
            max_iterations=limit, **options)

    results = None
    if single_program:  # the initial state outside XLA: one program (next_block) for every block
        results = tfp.optimizer.lbfgs_minimize(value_and_gradients_function, initial_position=position,
                                               max_iterations=0, **options)
    initial_value = None if results is None else float(results.objective_value)
    iterations, losses, times, evaluations = [], [], [], []
    timed_out = stopped = stalled_gain = False
    while True:
        limit = tf.constant(min(int(max_iterations), (len(iterations) + 1) * int(block_size)), tf.int32)
        results = first_block(position, limit) if results is None else next_block(results, limit)
        iteration = int(results.num_iterations)
        value = float(results.objective_value)
        iterations.append(iteration)
        evaluations.append(int(results.num_objective_evaluations))
        losses.append(value)
        times.append(time.perf_counter() - start)
        if callback is not None:
            stopped = callback(iteration, value, times[-1]) is True
        timed_out = time_limit is not None and times[-1] >= time_limit
        full_block = iteration - (iterations[-2] if len(iterations) > 1 else 0) == int(block_size)
        previous = losses[-2] if len(losses) > 1 else initial_value
        stalled_gain = (min_block_gain is not None and full_block and previous is not None
                        and block_gain_stalled(previous, value, min_block_gain))
        if (stalled_gain or stopped or timed_out or not math.isfinite(value) or bool(results.converged) or bool(results.failed)
                or iteration >= max_iterations or (len(iterations) > 1 and iteration == iterations[-2])):
            break
    value = float(results.objective_value)
    non_finite = not math.isfinite(value)
    converged = bool(results.converged)
    stalled = bool(results.failed) and not non_finite
    final_position = results.position
    if non_finite:
        final_position = position
        message = "non-finite objective; returned the initial position"
    elif converged:
        message = f"gradient below tolerance after {iteration} iterations"
    elif stalled:
        message = f"line search made no further progress after {iteration} iterations"
    elif stopped and iteration < max_iterations:
        message = f"stopped by the callback after {iteration} iterations"
    elif stalled_gain and iteration < max_iterations:
        message = (f"stopped after {iteration} iterations: the last {int(block_size)} lowered the objective by less "
                   f"than a factor {min_block_gain:g} ({previous:.3e} -> {value:.3e})")
    elif timed_out and iteration < max_iterations:
        message = f"time_limit={time_limit} s reached after {iteration} iterations"
    else:
        message = f"reached max_iterations={max_iterations}"
    return LbfgsResults(
        final_position, value, iteration, int(results.num_objective_evaluations), converged, stalled, non_finite,
        np.asarray(iterations), np.asarray(losses), np.asarray(times), message, time.perf_counter() - start,
        np.asarray(evaluations))
