"""The two stage solvers, written once for both objectives.

* :func:`train_adam_lbfgs`: the paper's stage solver, Adam (compiled blocks) then TFP L-BFGS
  (compiled, XLA) on one flat vector of the new network's weights, with the failure fallbacks: a
  non-finite Adam run skips L-BFGS and keeps Adam's best position; a non-finite L-BFGS run keeps
  Adam's position. Every block is reported to the callbacks, and ``stop_training`` ends the run after
  the block under way.
* :func:`select_least_squares`: a least-squares stage, one candidate ``sin`` network per factor of
  ``kappa_hat / (pi f_d)``, each solved (by the objective's own linear solve) on 7/8 of the loss
  points and scored on the other 1/8; the lowest held-out score wins.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Sequence

import tensorflow as tf

from msnn_tf.least_squares import held_out_mask
from msnn_tf.optimizers import AdamResults, LbfgsResults, adam_minimize, lbfgs_minimize

__all__ = ["BlockHooks", "LeastSquaresCandidate", "LeastSquaresChoice", "TrainedStage", "select_least_squares",
           "train_adam_lbfgs"]


class BlockHooks:
    """Reports the blocks of one stage to the callbacks and carries their ``stop_training`` back.

    Args:
        callbacks: A :class:`~msnn_tf.engine.CallbackList`.
        stage: The stage's index.
    """

    def __init__(self, callbacks, stage: int):
        self.callbacks = callbacks
        self.stage = stage

    @property
    def stop(self) -> bool:
        return bool(self.callbacks.stop_training)

    def optimizer(self, solver: str, total: int) -> Callable:
        """An optimizer callback: reports each block and returns ``True`` when a callback asks to stop."""

        def callback(iteration, loss, elapsed):
            self.callbacks.on_block_end(self.stage, {"solver": solver, "iteration": int(iteration), "total": int(total),
                                                     "loss": float(loss), "elapsed": float(elapsed)})
            return self.stop

        return callback

    def message(self, solver: str, text: str) -> None:
        self.callbacks.on_block_end(self.stage, {"solver": solver, "message": text})


@dataclasses.dataclass(frozen=True)
class TrainedStage:
    """Outcome of :func:`train_adam_lbfgs`.

    Attributes:
        adam: Adam's results.
        lbfgs: L-BFGS's results (``None`` when it did not run: no iterations asked, Adam failed, or a
            callback stopped training during Adam).
        position: The flat weights to keep.
        failure: Why the stage failed (non-finite objective), else ``None``.
        adam_wall_time: Seconds from the stage's start to the end of Adam.
    """

    adam: AdamResults
    lbfgs: LbfgsResults | None
    position: tf.Tensor
    failure: str | None
    adam_wall_time: float

    @property
    def objective_value(self) -> float:
        """The stage loss at the end: L-BFGS's when it ran, else Adam's."""
        return float(self.lbfgs.objective_value if self.lbfgs is not None else self.adam.objective_value)


def train_adam_lbfgs(value_and_gradients: Callable, initial_position, *, adam_steps: int, lbfgs_iterations: int,
                     learning_rate: float, settings, hooks: BlockHooks | None = None, stage_start: float | None = None,
                     resample=None, resample_every: int = 0, record=None,
                     plateau_window: int | None = None, compile_loss_only: bool = False,
                     min_block_gain: float | None = None, loops_compiled: bool = True) -> TrainedStage:
    """Adam then L-BFGS on a flat position (Algorithm 1 step 3, Algorithm 4).

    Args:
        value_and_gradients: ``position -> (loss, gradient)``, traceable by XLA.
        initial_position: The starting flat vector.
        adam_steps: Adam steps; ``lbfgs_iterations`` the L-BFGS cap (0 skips L-BFGS).
        lbfgs_iterations: See ``adam_steps``.
        learning_rate: Adam's initial rate.
        settings: The solver's :class:`~msnn_tf.engine.StageSettings` (decay, L-BFGS memory, XLA).
        hooks: Where blocks are reported (``None``: nowhere, and nothing stops the run early).
        stage_start: ``time.perf_counter()`` at the stage's start (``None``: now).
        resample: ``resample(step)`` every ``resample_every`` Adam steps (0: never).
        resample_every: See ``resample``.
        record: Optional ``record(position)`` before each Adam step (see :func:`~msnn_tf.adam_minimize`).
        plateau_window: Adam's plateau rule (see :func:`~msnn_tf.adam_minimize`).
        compile_loss_only: XLA-compile the loss (and ``record``) alone, once for both optimizers, and run
            their loops as plain ``tf.function`` graphs calling it, instead of compiling each loop with
            the loss inlined. For a large loss graph (a PINN loss with nested derivative tapes of order
            4, section 4) compiling TFP's L-BFGS loop, which inlines the loss at each of its call sites,
            took 97 s against 9 s for the loss alone, and ~4.5 ms per evaluation inside the plain loop
            against 2.7 ms inside the compiled one: the loss alone wins for thousands of iterations.
        min_block_gain: The stage stops paying for its iterations (``stop_rule``): Adam, then L-BFGS,
            stops after a block of 500 steps that lowered its loss by less than this factor, and L-BFGS
            is compiled as one program (``single_program``, one XLA compilation instead of two). ``None``:
            the fixed budgets, and L-BFGS as the recorded runs compiled it.
        loops_compiled: ``False``: the optimizer loops run as plain ``tf.function`` graphs whatever
            ``settings.jit_compile`` says, for a ``value_and_gradients`` that compiles its own parts (a
            distributed loss: :func:`~msnn_tf.distribute.distributed_value_and_gradients`).
    """
    stage_start = time.perf_counter() if stage_start is None else stage_start
    jit_compile = settings.jit_compile and loops_compiled
    if compile_loss_only and jit_compile:
        value_and_gradients = tf.function(value_and_gradients, jit_compile=True, autograph=False)
        record = None if record is None else tf.function(record, jit_compile=True, autograph=False)
        jit_compile = False
    adam = adam_minimize(value_and_gradients, initial_position, adam_steps, learning_rate=learning_rate,
                         decay_rate=settings.decay_rate, decay_steps=settings.decay_steps, jit_compile=jit_compile,
                         callback=None if hooks is None else hooks.optimizer("adam", adam_steps),
                         resample=resample if resample_every else None, resample_every=resample_every or None,
                         record=record, plateau_window=plateau_window,
                         min_block_gain=None if resample_every else min_block_gain)
    failure = adam.message if adam.failed else None
    adam_wall_time = time.perf_counter() - stage_start
    position, lbfgs = adam.position, None
    if failure is None and lbfgs_iterations > 0 and not (hooks is not None and hooks.stop):
        lbfgs = lbfgs_minimize(value_and_gradients, adam.position, max_iterations=lbfgs_iterations,
                               num_correction_pairs=settings.num_correction_pairs, jit_compile=jit_compile,
                               callback=None if hooks is None else hooks.optimizer("lbfgs", lbfgs_iterations),
                               min_block_gain=min_block_gain, single_program=min_block_gain is not None)
        if lbfgs.failed:
            failure = f"L-BFGS: {lbfgs.message}"
        else:
            position = lbfgs.position
    return TrainedStage(adam, lbfgs, position, failure, adam_wall_time)


@dataclasses.dataclass(frozen=True)
class LeastSquaresCandidate:
    """One solved candidate of a least-squares stage.

    Attributes:
        network: The candidate network, its output layer solved.
        score: Its held-out score (lower is better; the fit loss when nothing is held out).
        failed: The solve failed (non-finite rows or fit).
        message: A progress line saying what the solve reached.
        result: The objective's own solve result (e.g. a :class:`~msnn_tf.LeastSquaresResult`).
    """

    network: Any
    score: float
    failed: bool
    message: str
    result: Any = None


@dataclasses.dataclass(frozen=True)
class LeastSquaresChoice:
    """Outcome of :func:`select_least_squares`: the best ``candidate``, the ``fit`` mask of the points
    solved on, and ``failure`` when no candidate gave a finite score."""

    candidate: LeastSquaresCandidate
    fit: Any
    failure: str | None


def select_least_squares(factors: Sequence[float], solve: Callable, num_points: int, seed: int,
                         hooks: BlockHooks, max_extensions: int = 0) -> LeastSquaresChoice:
    """Solves one candidate per factor with ``solve(factor, fit)`` (``fit`` the boolean mask of the
    points to solve on: all of them for one factor, else all but a random eighth, on which the
    candidates are compared) and keeps the lowest finite score. Each solve is reported as a block.

    With ``max_extensions > 0`` and several factors, the ladder goes on upwards (each factor twice the
    last) while its last candidate is the best so far, at most ``max_extensions`` more: the best scale
    of a solved PINN stage follows the collocation density more than the residual's ``f_d`` (2-D heat
    equation, ``f_d`` read as 1: factors 1-8 gave 1.1e-8 RMS error, 16 gave 6.8e-11, 32 diverged)."""
    fit = held_out_mask(num_points, len(factors), seed)
    best = first = None
    ladder = list(factors)
    index = 0
    while index < len(ladder):
        factor = ladder[index]
        candidate = solve(factor, fit)
        hooks.message("least_squares", candidate.message)
        first = first or candidate
        if not candidate.failed and math.isfinite(candidate.score) and (best is None or candidate.score < best.score):
            best = candidate
            if index == len(ladder) - 1 and len(ladder) > 1 and len(ladder) - len(factors) < max_extensions:
                ladder.append(2.0 * factor)
        index += 1
    if best is None:
        return LeastSquaresChoice(first, fit, f"least squares: no candidate gave a finite fit ({first.message})")
    return LeastSquaresChoice(best, fit, None)
