"""Per-stage reports, training history and progress output."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any

import numpy as np

__all__ = ["StageReport", "TrainingHistory", "ProgressPrinter"]


@dataclasses.dataclass(frozen=True)
class StageReport:
    """What one stage of training did and reached (immutable).

    Attributes:
        stage: Index ``j`` of the stage (0 is the first network).
        epsilon: Prefactor ``eps_j`` (eq. 2.3): RMS of the residue the stage fitted.
        dominant_frequency: ``f_d`` of that residue per input axis (scaled coordinates).
        kappa: Scale factor of the stage's first layer.
        kappa_hat: Modified scale factor ``kappa * sqrt(Var)`` (eq. 2.8): the typical angular
            frequency of the first layer at the start. For a spectrum-initialised stage, the RMS of
            its initial angular frequencies ``2 pi |f_i|``, which plays the same role.
        first_activation: ``"tanh"`` or ``"sin"``.
        width: Units per hidden layer.
        depth: Hidden layers.
        num_points: Training points used by the stage.
        adam_steps: Adam steps taken.
        lbfgs_iterations: L-BFGS iterations taken.
        adam_losses: Normalised loss before each Adam step.
        adam_block_steps: Adam step count at the end of each compiled block.
        adam_times: Seconds since the stage started at the end of each Adam block.
        adam_wall_time: Seconds of the Adam phase (from the stage start).
        lbfgs_iterations_history: L-BFGS iteration count at each recorded loss.
        lbfgs_losses: Normalised loss after each recorded L-BFGS block.
        lbfgs_times: Seconds since the L-BFGS phase started at each recorded loss.
        final_loss: Normalised loss at the end of the stage.
        train_rms: RMS error on the training data after the stage (data units); for a discarded
            stage, that of the stages kept.
        train_max: Max-abs error on the training data after the stage (same rule).
        validation_rms: RMS error on the validation data, when given (same rule).
        validation_max: Max-abs error on the validation data, when given (same rule).
        wall_time: Seconds spent on the stage.
        accepted: ``False`` when the stage was discarded (non-finite loss, or no improvement of the
            training RMS, or of the validation RMS when validation data are given).
        message: What happened, in words.
        grid_refinement: Times per axis the data grid was refined for the stage's loss (1: the data
            alone; see ``MultiStageRegressor(grid_refinement=...)``).
    """

    stage: int
    epsilon: float
    dominant_frequency: tuple[float, ...]
    kappa: float
    kappa_hat: float
    first_activation: str
    width: int
    depth: int
    num_points: int
    adam_steps: int
    lbfgs_iterations: int
    adam_losses: np.ndarray
    adam_block_steps: np.ndarray
    adam_times: np.ndarray
    adam_wall_time: float
    lbfgs_iterations_history: np.ndarray
    lbfgs_losses: np.ndarray
    lbfgs_times: np.ndarray
    final_loss: float
    train_rms: float
    train_max: float
    validation_rms: float | None
    validation_max: float | None
    wall_time: float
    accepted: bool
    message: str
    grid_refinement: int = 1

    @property
    def adam_block_losses(self) -> np.ndarray:
        """Loss at the last step of each Adam block (pairs with :attr:`adam_times`)."""
        steps = np.asarray(self.adam_block_steps, dtype=int)
        return np.asarray(self.adam_losses)[steps - 1] if steps.size else np.zeros(0)

    @property
    def iterations(self) -> int:
        """Adam steps plus L-BFGS iterations."""
        return self.adam_steps + self.lbfgs_iterations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays as lists, non-finite numbers as ``None``)."""

        def clean(value):
            if isinstance(value, np.ndarray):
                return [clean(v) for v in value.tolist()]
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            if isinstance(value, (float, np.floating)):
                return float(value) if math.isfinite(value) else None
            if isinstance(value, np.integer):
                return int(value)
            return value

        data = {f.name: clean(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data["iterations"] = self.iterations
        return data


@dataclasses.dataclass
class TrainingHistory:
    """Reports of every stage tried by a ``fit`` call, in order (discarded ones included)."""

    stages: list[StageReport] = dataclasses.field(default_factory=list)
    wall_time: float = 0.0
    message: str = ""

    @property
    def accepted_stages(self) -> list[StageReport]:
        return [s for s in self.stages if s.accepted]

    def table(self) -> str:
        """A fixed-width text table, one row per stage."""
        has_validation = any(s.validation_rms is not None for s in self.stages)
        header = f"{'stage':>5} {'epsilon':>10} {'f_d':>8} {'kappa_hat':>9} {'act':>4} {'width':>5} {'points':>6} {'iters':>6} {'train RMS':>10} {'train max':>10}"
        if has_validation:
            header += f" {'valid RMS':>10} {'valid max':>10}"
        header += f" {'time s':>7}  status"
        lines = [header, "-" * len(header)]
        for s in self.stages:
            row = (f"{s.stage:>5d} {s.epsilon:>10.3e} {max(s.dominant_frequency):>8.2f} {s.kappa_hat:>9.2f} "
                   f"{s.first_activation:>4} {s.width:>5d} {s.num_points:>6d} {s.iterations:>6d} "
                   f"{s.train_rms:>10.3e} {s.train_max:>10.3e}")
            if has_validation:
                row += f" {_fmt(s.validation_rms):>10} {_fmt(s.validation_max):>10}"
            row += f" {s.wall_time:>7.1f}  {'ok' if s.accepted else 'discarded'}"
            lines.append(row)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [s.to_dict() for s in self.stages], "wall_time": self.wall_time, "message": self.message}


def _fmt(value):
    return "-" if value is None else f"{value:.3e}"


class ProgressPrinter:
    """Prints progress lines (stage, optimizer, iteration, loss, elapsed) unless ``verbose == 0``.

    Args:
        verbose: 0 silent, 1 one line per optimizer block and per stage.
        stream: Where to write (standard output by default).
    """

    def __init__(self, verbose: int = 1, stream=None):
        if verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.verbose:
            print(message, file=self.stream or sys.stdout, flush=True)

    def optimizer_callback(self, stage: int, name: str, total: int):
        """A callback for the optimizers that prints one progress line per block."""

        def callback(iteration, loss, elapsed):
            self(f"  stage {stage} | {name:5s} {iteration:>6d}/{total:<6d} | loss {loss:.3e} | "
                 f"{time.perf_counter() - self.start:7.1f} s")

        return callback
