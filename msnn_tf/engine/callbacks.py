"""Keras-style callbacks of the stage loop: hooks at the fit, stage and optimizer-block boundaries.

A stage of the multi-stage method plays the role of an epoch in ``keras.Model.fit``: the loop calls
``on_fit_begin()``, then per stage ``on_stage_begin(stage, plan)``, ``on_block_end(stage, logs)``
after every compiled block of Adam steps or L-BFGS iterations (and after every least-squares solve),
``on_stage_end(stage, report)``, and finally ``on_fit_end(history)``. Setting ``stop_training`` ends
training at the next block or stage boundary: the stage under way keeps what it reached so far and
is accepted or discarded by the usual rules, so nothing trained is lost.

Example::

    class StopAfterTwo(msnn.StageCallback):
        def on_stage_end(self, stage, report):
            if stage == 1:
                self.stop_training = True

    history = msnn.MultiStageRegressor().fit(x, y, num_stages=4, callbacks=[StopAfterTwo()], verbose=0)
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Iterable, Mapping

__all__ = ["CallbackList", "Checkpoint", "ProgressCallback", "StageCallback", "TensorBoard", "configure_callbacks"]


class StageCallback:
    """Base class of stage-loop callbacks; override the hooks you need (each does nothing here).

    Attributes:
        stop_training: Set it to ``True`` to end training at the next block or stage boundary (reset
            to ``False`` when a ``fit`` call begins, as Keras resets ``Model.stop_training``).
    """

    stop_training = False

    def __init__(self):
        self.stop_training = False

    def on_fit_begin(self) -> None:
        """Called once, before the first stage of a ``fit`` call."""

    def on_stage_begin(self, stage: int, plan) -> None:
        """Called when stage ``stage`` has been planned (its :class:`~msnn_tf.engine.StagePlan`)."""

    def on_block_end(self, stage: int, logs: Mapping[str, Any]) -> None:
        """Called after each optimizer block or least-squares solve of stage ``stage``.

        ``logs`` holds ``"solver"`` (``"adam"``, ``"lbfgs"`` or ``"least_squares"``) and either
        ``"iteration"``, ``"total"``, ``"loss"`` and ``"elapsed"`` (seconds since the block's optimizer
        started) for an optimizer block, or ``"message"`` (what the solve did) for a solve.
        """

    def on_stage_end(self, stage: int, report) -> None:
        """Called with the stage's report (accepted or discarded) once it is in the history."""

    def on_fit_end(self, history) -> None:
        """Called once with the history when the ``fit`` call ends."""


class CallbackList(StageCallback):
    """Several callbacks as one; ``stop_training`` is true when any of them asks to stop.

    Raises:
        ValueError: when an element is not a :class:`StageCallback`.
    """

    def __init__(self, callbacks: Iterable[StageCallback] = ()):
        super().__init__()
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, StageCallback):
                raise ValueError(f"`callbacks` must hold msnn.StageCallback instances, got {type(callback).__name__}")

    @property
    def stop_training(self) -> bool:
        return any(c.stop_training for c in self.callbacks)

    @stop_training.setter
    def stop_training(self, value) -> None:
        for callback in getattr(self, "callbacks", ()):
            callback.stop_training = value

    def on_fit_begin(self):
        for callback in self.callbacks:
            callback.on_fit_begin()

    def on_stage_begin(self, stage, plan):
        for callback in self.callbacks:
            callback.on_stage_begin(stage, plan)

    def on_block_end(self, stage, logs):
        for callback in self.callbacks:
            callback.on_block_end(stage, logs)

    def on_stage_end(self, stage, report):
        for callback in self.callbacks:
            callback.on_stage_end(stage, report)

    def on_fit_end(self, history):
        for callback in self.callbacks:
            callback.on_fit_end(history)


class ProgressCallback(StageCallback):
    """The built-in progress output: a title, the plan of each stage, one line per optimizer block
    (stage, optimizer, iteration, loss, seconds since the fit began), the stage's outcome and the
    history's table at the end.

    Args:
        title: First line printed.
        stream: Where to write (standard output by default).
    """

    def __init__(self, title: str = "", stream=None):
        super().__init__()
        self.title = title
        self.stream = stream
        self.start = time.perf_counter()

    def print(self, message: str) -> None:
        print(message, file=self.stream or sys.stdout, flush=True)

    def on_fit_begin(self):
        self.start = time.perf_counter()
        if self.title:
            self.print(self.title)

    def on_stage_begin(self, stage, plan):
        self.print(plan.summary)
        for note in plan.notes:
            self.print(note)

    def on_block_end(self, stage, logs):
        elapsed = time.perf_counter() - self.start
        if "message" in logs:
            self.print(f"  stage {stage} | {logs['message']} | {elapsed:7.1f} s")
        else:
            iteration, total = int(logs["iteration"]), int(logs["total"])
            tail = ""
            if logs["solver"] == "adam" and 0 < iteration < total and logs.get("elapsed"):
                # Adam runs its known total: a linear estimate from the steps so far (compilation included)
                tail = f" | ETA {float(logs['elapsed']) * (total - iteration) / iteration:6.1f} s"
            elif logs["solver"] == "lbfgs":
                tail = " | cap"  # L-BFGS stops at its cap or earlier, when it can make no further progress
            self.print(f"  stage {stage} | {logs['solver']:5s} {iteration:>6d}/{total:<6d} | "
                       f"loss {logs['loss']:.3e} | {elapsed:7.1f} s{tail}")

    def on_stage_end(self, stage, report):
        self.print(report.progress_line())

    def on_fit_end(self, history):
        self.print(history.table())


def configure_callbacks(callbacks, verbose, title: str = "") -> CallbackList:
    """The callbacks of a ``fit`` call: the built-in :class:`ProgressCallback` (when ``verbose`` is 1)
    followed by the user's.

    Raises:
        ValueError: when ``verbose`` is not 0 or 1, or ``callbacks`` holds anything but
            :class:`StageCallback` instances.
    """
    if isinstance(verbose, bool) or verbose not in (0, 1):
        raise ValueError(f"`verbose` must be 0 or 1, got {verbose!r}")
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"`callbacks` must be a list of msnn.StageCallback instances, got {type(callbacks).__name__}")
    return CallbackList(([ProgressCallback(title)] if verbose else []) + list(callbacks or []))


class Checkpoint(StageCallback):
    """Keeps a run directory up to date after every stage, so that a run killed at any moment (even by
    SIGKILL) loses at most the stage under way.

    After each stage, and once more when the fit ends (with its closing message), it writes, each file
    atomically (a temporary file, then a rename):
    ``model.keras`` (the solver's :meth:`save`: model, settings and history; only when the stage was
    accepted, so the file always holds the last good model), ``history.json`` (strict JSON, discarded
    stages included), ``report.txt`` (the per-stage table) and ``losses.csv`` (``stage, phase,
    iteration, loss`` per recorded iteration). Resume with ``MultiStageRegressor.load`` (or
    ``MultiStagePINN.load``) and ``fit(..., initial_model=...)``, or ``msnn-tf fit --resume``.

    Args:
        directory: The run directory (created if missing).
        solver: The :class:`~msnn_tf.MultiStageRegressor` or :class:`~msnn_tf.MultiStagePINN` being
            trained (its ``save`` and ``history`` are used).
    """

    MODEL = "model.keras"
    HISTORY = "history.json"
    REPORT = "report.txt"
    LOSSES = "losses.csv"

    def __init__(self, directory, solver):
        super().__init__()
        from pathlib import Path

        self.directory = Path(directory)
        self.solver = solver

    def on_stage_end(self, stage: int, report) -> None:
        self._write(save_model=report.accepted)

    def on_fit_end(self, history) -> None:
        # The history now has the fit's closing message and wall time: write it, and the model with it.
        self._write(save_model=self.solver.model is not None and self.solver.model.num_stages > 0)

    def _write(self, save_model: bool) -> None:
        from msnn_tf.jsonio import atomic_write_bytes

        self.directory.mkdir(parents=True, exist_ok=True)
        history = self.solver.history
        if save_model:
            self.solver.save(self.directory / self.MODEL)
        history.save(self.directory / self.HISTORY)
        atomic_write_bytes(self.directory / self.REPORT, (history.table() + "\n").encode("utf-8"))
        lines = ["stage,phase,iteration,loss"] + [f"{s},{p},{i},{v!r}" for s, p, i, v in history.loss_rows()]
        atomic_write_bytes(self.directory / self.LOSSES, ("\n".join(lines) + "\n").encode("utf-8"))


class TensorBoard(StageCallback):
    """Writes what a run does as TensorFlow summaries, for ``tensorboard --logdir LOG_DIR``.

    Scalars, with the global iteration (the iterations of all earlier stages plus this stage's) as
    step: ``loss/adam`` and ``loss/lbfgs`` (the stage's normalised loss at the end of each optimizer
    block); per stage, at the stage's first step: ``stage/epsilon``, ``stage/dominant_frequency``
    (first axis), ``stage/kappa_hat`` and, for a PINN, ``stage/gamma`` and ``stage/gamma_g``; at its
    end ``stage/final_loss`` (regression) or ``stage/residual_rms`` and ``stage/true_rms`` (PINN, when
    known).

    Viewing the files needs the ``tensorboard`` package (``pip install tensorboard``); writing them does not.

    Args:
        log_dir: Folder of the event files (created if missing).
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = str(log_dir)
        self._writer = None
        self._offset = 0  # iterations of the stages before the current one
        self._last = 0
        self._adam = 0  # Adam steps of the current stage (L-BFGS iterations count after them)

    def _scalar(self, name: str, value, step: int) -> None:
        import tensorflow as tf

        if value is None or not math.isfinite(float(value)):
            return
        from tensorflow.core.framework import summary_pb2

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
            # tf.summary.scalar lives in the tensorboard package, which TensorFlow no longer installs: the
            # core tf.summary.write with the scalars plugin's metadata writes the same event (float64).
            self._metadata = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")).SerializeToString()
        with self._writer.as_default():
            tf.summary.write(name, tf.constant(float(value), tf.float64), step=int(step), metadata=self._metadata)

    def on_stage_begin(self, stage, plan):
        step = self._offset
        self._scalar("stage/epsilon", plan.epsilon, step)
        if plan.dominant_frequency:
            self._scalar("stage/dominant_frequency", plan.dominant_frequency[0], step)
        self._scalar("stage/kappa_hat", plan.kappa_hat, step)
        for key in ("gamma", "gamma_g"):
            if key in plan.extras:
                self._scalar(f"stage/{key}", plan.extras[key], step)

    def on_block_end(self, stage, logs):
        if "loss" in logs:
            self._last = self._offset + int(logs["iteration"]) + (0 if logs["solver"] == "adam" else self._adam)
            self._scalar(f"loss/{logs['solver']}", logs["loss"], self._last)
        if logs.get("solver") == "adam":
            self._adam = int(logs["iteration"])

    def on_stage_end(self, stage, report):
        step = max(self._last, self._offset)
        for key in ("final_loss", "residual_rms_after", "true_rms"):
            if hasattr(report, key):
                self._scalar(f"stage/{key.replace('_after', '')}", getattr(report, key), step)
        self._offset = step + 1
        self._adam = 0
        if self._writer is not None:
            self._writer.flush()

    def on_fit_end(self, history):
        if self._writer is not None:
            self._writer.flush()
