"""Adam over a flat parameter vector, run in compiled blocks of steps.

A block of steps is one ``tf.while_loop`` inside one ``tf.function`` (XLA-compiled by default), so a
Python round trip happens only between blocks, where progress is reported.
"""

from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from msnn_tf.optimizers.flat import as_position
from msnn_tf.optimizers.progress import block_gain_stalled, check_min_block_gain
from msnn_tf.validation import positive_int

__all__ = ["AdamResults", "adam_minimize"]


class AdamResults(NamedTuple):
    """Outcome of :func:`adam_minimize` (immutable).

    Attributes:
        position: The best position seen (lowest objective), of the initial position's dtype.
        objective_value: Objective at ``position``.
        num_steps: Adam steps taken.
        losses: Objective before each step, a float64 array of length ``num_steps``.
        times: Seconds since the start at the end of each block.
        block_steps: Step count at the end of each block.
        failed: ``True`` when a non-finite objective or gradient stopped the run.
        message: Why the run stopped.
        wall_time: Seconds spent, compilation included.
        records: ``record(position)`` before each step, ``(num_steps, k)`` (``None`` without ``record``).
        learning_rate_cuts: Steps after which a plateau cut the learning rate (``plateau_window``).
    """

    position: tf.Tensor
    objective_value: float
    num_steps: int
    losses: np.ndarray
    times: np.ndarray
    block_steps: np.ndarray
    failed: bool
    message: str
    wall_time: float
    records: np.ndarray | None = None
    learning_rate_cuts: tuple = ()


def _make_block(value_and_gradients_function, block_size, beta_1, beta_2, epsilon, jit_compile, dtype, record=None):
    beta_1 = tf.constant(beta_1, dtype)
    beta_2 = tf.constant(beta_2, dtype)
    epsilon = tf.constant(epsilon, dtype)

    @tf.function(jit_compile=jit_compile, reduce_retracing=True, autograph=False)
    def block(position, m, v, step, num_steps, learning_rate, decay_rate, decay_steps, best_value, best_position):
        losses = tf.TensorArray(dtype, size=block_size)
        # Static width of a record (the probe is traced for its shape only; XLA drops it).
        width = 0 if record is None else int(tf.reshape(record(position), [-1]).shape[0])
        records = tf.TensorArray(dtype, size=block_size, element_shape=(width,))

        def cond(i, position, m, v, step, best_value, best_position, losses, records, finite):
            return tf.logical_and(i < num_steps, finite)

        def body(i, position, m, v, step, best_value, best_position, losses, records, finite):
            value, gradient = value_and_gradients_function(position)
            if record is not None:
                records = records.write(i, tf.reshape(tf.cast(record(position), dtype), [-1]))
            ok = tf.logical_and(tf.math.is_finite(value), tf.reduce_all(tf.math.is_finite(gradient)))
            better = tf.logical_and(ok, value < best_value)
            best_value = tf.where(better, value, best_value)
            best_position = tf.where(better, position, best_position)
            t = step + 1.0
            lr = learning_rate * tf.pow(decay_rate, t / decay_steps)
            m_new = beta_1 * m + (1.0 - beta_1) * gradient
            v_new = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
            m_hat = m_new / (1.0 - tf.pow(beta_1, t))
            v_hat = v_new / (1.0 - tf.pow(beta_2, t))
            new_position = position - lr * m_hat / (tf.sqrt(v_hat) + epsilon)
            # A squared gradient that overflows is a blow-up too, even while the loss is finite.
            ok = tf.logical_and(ok, tf.reduce_all(tf.math.is_finite(v_new)))
            losses = losses.write(i, value)
            return (
                i + 1,
                tf.where(ok, new_position, position),
                tf.where(ok, m_new, m),
                tf.where(ok, v_new, v),
                tf.where(ok, t, step),
                best_value,
                best_position,
                losses,
                records,
                ok,
            )

        i, position, m, v, step, best_value, best_position, losses, records, finite = tf.while_loop(
            cond,
            body,
            (tf.constant(0), position, m, v, step, best_value, best_position, losses, records, tf.constant(True)),
            maximum_iterations=block_size,
        )
        return position, m, v, step, best_value, best_position, losses.stack(), records.stack(), i, finite

    return block


def _check_arguments(num_steps, learning_rate, decay_rate, decay_steps, block_size, plateau_window, plateau_factor,
                     resample, resample_every) -> None:
    """The argument checks of :func:`adam_minimize` (``ValueError`` naming the argument)."""
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 0:
        raise ValueError(f"`num_steps` must be a non-negative integer, got {num_steps!r}")
    for name, value in (("learning_rate", learning_rate), ("decay_steps", decay_steps), ("block_size", block_size)):
        if not (math.isfinite(float(value)) and value > 0):
            raise ValueError(f"`{name}` must be positive, got {value!r}")
    if not 0 < decay_rate <= 1:
        raise ValueError(f"`decay_rate` must be in (0, 1], got {decay_rate!r}")
    if plateau_window is not None:
        positive_int("plateau_window", plateau_window)
        if not 0 < plateau_factor < 1:
            raise ValueError(f"`plateau_factor` must be in (0, 1), got {plateau_factor!r}")
    if resample is not None:
        if isinstance(resample_every, bool) or not isinstance(resample_every, (int, np.integer)) or resample_every <= 0:
            raise ValueError(f"`resample_every` must be a positive integer with `resample`, got {resample_every!r}")
        if not callable(resample):
            raise ValueError(f"`resample` must be callable, got {type(resample).__name__}")


def adam_minimize(
    value_and_gradients_function: Callable,
    initial_position,
    num_steps: int,
    learning_rate: float = 1e-3,
    decay_rate: float = 1.0,
    decay_steps: float = 1000.0,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    block_size: int = 500,
    jit_compile: bool = True,
    callback: Callable | None = None,
    time_limit: float | None = None,
    resample: Callable[[int], None] | None = None,
    resample_every: int | None = None,
    record: Callable | None = None,
    plateau_window: int | None = None,
    plateau_factor: float = 0.5,
    min_block_gain: float | None = None,
) -> AdamResults:
    """Minimises a function of a flat float vector with Adam (Kingma & Ba, 2015).

    The learning rate at step ``t`` is ``learning_rate * decay_rate ** (t / decay_steps)``.

    Args:
        value_and_gradients_function: Maps a position vector to ``(objective, gradient)``; it must be
            traceable by ``tf.function`` (and by XLA when ``jit_compile``).
        initial_position: Starting vector (float64, or a float32 tensor to optimise in float32).
        num_steps: Number of Adam steps (0 returns the start).
        learning_rate: Initial step size, positive.
        decay_rate: Multiplies the learning rate every ``decay_steps`` steps, in ``(0, 1]``.
        decay_steps: Steps per decay factor, positive.
        beta_1: Decay of the first-moment average.
        beta_2: Decay of the second-moment average.
        epsilon: Denominator offset.
        block_size: Steps per compiled block; ``callback`` runs after each block.
        jit_compile: Compile each block with XLA.
        callback: ``callback(step, objective_value, elapsed_seconds)`` after each block (at most one call
            per ``block_size`` steps); returning ``True`` stops the run there (e.g. a user's
            ``stop_training``).
        time_limit: Stop after the first block that ends past this many seconds (``None``: no limit).
        resample: ``resample(step)`` is called after every ``resample_every`` steps; it changes what
            the objective computes (e.g. assigns fresh collocation points to the ``tf.Variable``\ s the
            objective reads: the stochastic "Adam (SGD)" of the paper, section 3.3.1). Adam's moments
            carry over. Objective values on different samples are not comparable, so with
            ``resample`` the result holds the *last* position, not the best one seen.
        resample_every: Steps between calls of ``resample`` (required with it).
        record: Optional ``record(position) -> 1-D tensor`` evaluated (compiled) before every step,
            e.g. the loss components of Algorithm 3; returned as :attr:`AdamResults.records`.

        plateau_window: If set, multiply the learning rate by ``plateau_factor`` when the loss stops
            falling: the mean over the last ``plateau_window`` steps is not below the mean over the
            ``plateau_window`` steps before by more than the spread (standard deviation) of the last
            window. Checked at block ends, at least ``2 * plateau_window`` steps after the previous
            cut (the reference PINN's rule).
        plateau_factor: See ``plateau_window``; in ``(0, 1)``.
        min_block_gain: Stop after a full block that lowered the best objective seen by less than this
            factor (``None``: never; see :func:`msnn_tf.optimizers.block_gain_stalled`). Must exceed 1;
            not with ``resample`` (objectives on different samples are not comparable).

    Returns:
        :class:`AdamResults` holding the best position seen (the last one with ``resample``).

    Raises:
        ValueError: on a negative ``num_steps`` or non-positive learning rate, decay or block size.
    """
    _check_arguments(num_steps, learning_rate, decay_rate, decay_steps, block_size, plateau_window, plateau_factor,
                     resample, resample_every)
    check_min_block_gain(min_block_gain)
    if min_block_gain is not None and resample is not None:
        raise ValueError("`min_block_gain` cannot be used with `resample`: losses on different samples differ")
    start = time.perf_counter()
    position = as_position(initial_position)
    dtype = position.dtype
    value, _ = value_and_gradients_function(position)
    value = float(value)
    if num_steps == 0:
        return AdamResults(position, value, 0, np.zeros(0), np.zeros(0), np.zeros(0, int), not math.isfinite(value),
                           "no steps requested", 0.0)
    block = _make_block(value_and_gradients_function, int(block_size), beta_1, beta_2, epsilon, jit_compile, dtype, record)
    m = tf.zeros_like(position)
    v = tf.zeros_like(position)
    step = tf.constant(0.0, dtype)
    best_value = tf.constant(np.inf, dtype)
    best_position = tf.identity(position)  # a distinct tensor: aliasing inputs would force a retrace
    constants = [tf.constant(learning_rate, dtype), tf.constant(decay_rate, dtype), tf.constant(float(decay_steps), dtype)]
    history, times, block_steps, recorded = [], [], [], []
    done = reported = last_cut = 0
    cuts = []
    finite = True
    timed_out = stopped = stalled = False
    best_before = value
    while done < num_steps and finite and not timed_out and not stopped and not stalled:
        count = min(int(block_size), num_steps - done)
        if resample is not None:
            count = min(count, int(resample_every) - done % int(resample_every))
        position, m, v, step, best_value, best_position, losses, records, taken, finite_t = block(
            position, m, v, step, tf.constant(count), *constants, best_value, best_position
        )
        taken = int(taken)
        history.append(losses.numpy()[:taken])
        if record is not None:
            recorded.append(records.numpy()[:taken])
        done += taken
        finite = bool(finite_t)
        times.append(time.perf_counter() - start)
        block_steps.append(done)
        timed_out = time_limit is not None and times[-1] >= time_limit
        # One progress line per ``block_size`` steps, however short the blocks between resamplings.
        if callback is not None and taken and (done // int(block_size) > reported or done == num_steps or not finite):
            reported = done // int(block_size)
            stopped = callback(done, float(history[-1][-1]), times[-1]) is True
        if min_block_gain is not None and finite and taken == int(block_size):
            best_now = float(best_value)
            stalled = done < num_steps and block_gain_stalled(best_before, best_now, min_block_gain)
            if stalled:
                stall_note = f"{best_before:.3e} -> {best_now:.3e}"
            best_before = best_now
        if resample is not None and finite and done < num_steps and done % int(resample_every) == 0:
            resample(done)
        if plateau_window is not None and done - last_cut >= 2 * plateau_window and done < num_steps:
            recent_losses = np.concatenate(history)
            recent, previous = recent_losses[-plateau_window:], recent_losses[-2 * plateau_window:-plateau_window]
            if np.mean(previous) - np.mean(recent) <= np.std(recent):
                cuts.append(done)
                last_cut = done
                constants[0] = tf.constant(learning_rate * plateau_factor ** len(cuts), dtype)
    losses = np.concatenate(history) if history else np.zeros(0)
    failed = not finite
    if failed:
        message = f"non-finite objective or gradient at step {done}; kept the best position (objective {float(best_value):.3e})"
    elif timed_out and done < num_steps:
        message = f"time_limit={time_limit} s reached after {done} steps"
    elif stopped and done < num_steps:
        message = f"stopped by the callback after {done} steps"
    elif stalled:
        message = (f"stopped after {done} steps: the last {int(block_size)} lowered the objective by less than a "
                   f"factor {min_block_gain:g} ({stall_note})")
    else:
        message = f"completed {done} steps"
    if resample is not None:
        best_position = position
        best_value, _ = value_and_gradients_function(position)
    best = float(best_value)
    if not math.isfinite(best):
        best_position = as_position(initial_position)
    records = np.concatenate(recorded) if recorded else None
    return AdamResults(best_position, best, done, losses, np.asarray(times), np.asarray(block_steps, dtype=int), failed,
                       message, time.perf_counter() - start, records, tuple(cuts))
