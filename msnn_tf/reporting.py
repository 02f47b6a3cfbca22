"""Stage reports of both solvers, the training history and its strict-JSON form.

:class:`StageReport` (regression) and :class:`PINNStageReport` (PINN) hold what a stage did; they share
one strict-JSON ``to_dict`` (arrays as lists, non-finite numbers as ``null``), one history type
(:class:`TrainingHistory`, of which :class:`PINNHistory` only changes the report type its table is
for) and the progress line the built-in progress callback prints at the end of a stage.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from msnn_tf.jsonio import check_version, json_ready, read_json, write_json

__all__ = ["HISTORY_FORMAT", "HISTORY_VERSION", "PINNHistory", "PINNStageReport", "StageReport", "TrainingHistory"]

#: The ``format`` tag and version of a saved history (:meth:`TrainingHistory.save`).
HISTORY_FORMAT = "msnn_tf.history"
HISTORY_VERSION = 1


class _ReportFields:
    """What every stage report shares: strict-JSON ``to_dict`` and the progress line."""

    EXTRA_KEYS: ClassVar[tuple[str, ...]] = ()  # properties written by to_dict beside the fields

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays as lists, non-finite numbers as ``None``)."""
        data = {f.name: json_ready(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data.update({key: json_ready(getattr(self, key)) for key in self.EXTRA_KEYS})
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The report :meth:`to_dict` wrote: arrays back as float64 arrays, tuples as tuples; a
        non-finite number (written as ``null``) comes back as NaN, or ``None`` where the field allows it.
        Keys of a newer version are ignored; a missing key takes the field's default if it has one."""
        if not isinstance(data, dict):
            raise ValueError(f"a {cls.__name__} must be a JSON object, got {type(data).__name__}")
        values = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    raise ValueError(f"{cls.__name__} field {field.name!r} missing")
                continue
            values[field.name] = _restore(data[field.name], str(field.type))
        return cls(**values)

    def progress_line(self) -> str:
        """What the progress output prints when the stage ends."""
        if not self.accepted:
            return f"stage {self.stage} discarded: {self.message}"
        return f"stage {self.stage} done: {self.outcome_text()} ({self.wall_time:.1f} s)"


@dataclasses.dataclass(frozen=True)
class StageReport(_ReportFields):
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

    EXTRA_KEYS: ClassVar[tuple[str, ...]] = ("iterations",)

    @property
    def adam_block_losses(self) -> np.ndarray:
        """Loss at the last step of each Adam block (pairs with :attr:`adam_times`)."""
        steps = np.asarray(self.adam_block_steps, dtype=int)
        return np.asarray(self.adam_losses)[steps - 1] if steps.size else np.zeros(0)

    @property
    def iterations(self) -> int:
        """Adam steps plus L-BFGS iterations."""
        return self.adam_steps + self.lbfgs_iterations

    def outcome_text(self) -> str:
        return (f"train RMS {self.train_rms:.3e}, max {self.train_max:.3e}"
                + (f", validation RMS {self.validation_rms:.3e}" if self.validation_rms is not None else ""))

    @staticmethod
    def format_table(reports) -> list[str]:
        has_validation = any(s.validation_rms is not None for s in reports)
        header = (f"{'stage':>5} {'epsilon':>10} {'f_d':>8} {'kappa_hat':>9} {'act':>4} {'width':>5} {'points':>6} "
                  f"{'iters':>6} {'train RMS':>10} {'train max':>10}")
        if has_validation:
            header += f" {'valid RMS':>10} {'valid max':>10}"
        header += f" {'time s':>7}  status"
        lines = [header, "-" * len(header)]
        for s in reports:
            row = (f"{s.stage:>5d} {s.epsilon:>10.3e} {max(s.dominant_frequency):>8.2f} {s.kappa_hat:>9.2f} "
                   f"{s.first_activation:>4} {s.width:>5d} {s.num_points:>6d} {s.iterations:>6d} "
                   f"{s.train_rms:>10.3e} {s.train_max:>10.3e}")
            if has_validation:
                row += f" {_fmt(s.validation_rms):>10} {_fmt(s.validation_max):>10}"
            row += f" {s.wall_time:>7.1f}  {'ok' if s.accepted else 'discarded'}"
            lines.append(row)
        return lines


@dataclasses.dataclass(frozen=True)
class PINNStageReport(_ReportFields):
    """What one PINN stage did (immutable).

    Attributes:
        stage: Stage index (0 is the first network).
        epsilon: Magnitude prefactor ``eps_k`` (eq. 3.19, or hand-set; ``first_stage_epsilon`` for stage 0).
        residual_rms: RMS of the equation residual the stage started from (``eps_r``).
        dominant_frequency: ``f_d`` of that residual per input axis (cycles per unit of the input).
        beta_rms: RMS of ``beta_m = dr/du^(m)`` per derivative term of the residual (eq. 3.14), in the
            order of ``beta_keys``.
        beta_keys: Multi-indices (order per input axis) of those terms; ``(0, .., 0)`` is ``u``.
        condition_rms: RMS mismatch of the conditions at the stage start (NaN for stage 0); the
            automatic ``epsilon`` is the larger of eq. (3.19) and this.
        kappa: Scale factor of the first layer; ``kappa_hat`` its modified value (eq. 2.8) or, for a
            spectrum-initialised layer, the RMS initial angular frequency.
        kappa_hat: See ``kappa``.
        gamma: Equation weight of eq. (3.1) (raw-loss convention).
        gamma_rounds: With ``gamma="pretrain"``, Algorithm 3's ``(gamma, C_d, C_e, R_c)`` per round.
        loss_parts: With ``record_loss_parts``, ``(L_d, L_e)`` before every Adam step, else ``None``.
        gamma_g: Gradient-loss weight of eq. (3.38) (0 without gPINN).
        num_collocation: Collocation points of the stage.
        adam_steps: Adam steps taken; ``lbfgs_iterations`` L-BFGS iterations taken.
        lbfgs_iterations: See ``adam_steps``.
        losses: Normalised stage loss at the recorded iterations; ``loss_iterations`` those iterations.
        loss_iterations: See ``losses``.
        data_loss: ``L_d`` at the end of the stage; ``equation_loss`` ``L_e`` (raw, eq. 3.2).
        equation_loss: See ``data_loss``.
        residual_rms_after: RMS of the residual after the stage (uniform grid).
        estimated_error: The error estimate of eq. (3.19) from that residual.
        true_rms: RMS error against the exact solution after the stage (``None`` without one);
            ``true_max`` the max-abs error.
        true_max: See ``true_rms``.
        wall_time: Seconds spent on the stage.
        accepted: ``False`` when the stage was discarded (non-finite loss, or a least-squares stage
            that did not lower the equation residual).
        message: What happened.
        parameters: Per unknown parameter (section 4), ``{"value", "correction", "scale",
            "estimated_error"}``: its value after the stage, the change the stage made
            (``eps_lambda delta``), the stage's ``eps_lambda`` and the estimate of its remaining error,
            ``sqrt(L_s)`` after the stage (Fig. 14b; ``None`` without constraints). ``{}`` without parameters.
        constraint_loss: ``L_s`` (eq. 4.4, unweighted, summed over the constraints) at the stage's
            constraint points after the stage; ``None`` without constraints.
        constraint_weights: ``gamma_s`` per constraint (eq. 4.2).
        num_networks: Networks the stage added (2 for a stage with a parameter network, eq. 4.8).
        frozen_scale: The factor the stage put on the sum of the stages before it (1: none; a solved
            stage with ``rescale_frozen_stages``).
        levenberg_marquardt_iterations: Levenberg-Marquardt iterations taken after Adam and L-BFGS
            (``levenberg_marquardt_iterations`` setting); their losses follow L-BFGS's in ``losses``.
    """

    stage: int
    epsilon: float
    residual_rms: float
    dominant_frequency: tuple[float, ...]
    beta_rms: tuple[float, ...]
    beta_keys: tuple[tuple[int, ...], ...]
    condition_rms: float
    kappa: float
    kappa_hat: float
    gamma: float
    gamma_rounds: tuple
    loss_parts: np.ndarray | None
    gamma_g: float
    num_collocation: int
    adam_steps: int
    lbfgs_iterations: int
    losses: np.ndarray
    loss_iterations: np.ndarray
    data_loss: float
    equation_loss: float
    residual_rms_after: float
    estimated_error: float
    true_rms: float | None
    true_max: float | None
    wall_time: float
    accepted: bool
    message: str
    parameters: dict = dataclasses.field(default_factory=dict)
    constraint_loss: float | None = None
    constraint_weights: tuple[float, ...] = ()
    num_networks: int = 1
    frozen_scale: float = 1.0
    levenberg_marquardt_iterations: int = 0

    def outcome_text(self) -> str:
        return (f"residual RMS {self.residual_rms_after:.3e}, estimated error {self.estimated_error:.3e}"
                + (f", true RMS error {self.true_rms:.3e}" if self.true_rms is not None else "")
                + "".join(f", {name} {v['value']:.15g}" for name, v in self.parameters.items())
                + (f", sqrt(L_s) {self.constraint_loss ** 0.5:.3e}" if self.constraint_loss is not None else ""))

    @staticmethod
    def format_table(reports) -> list[str]:
        header = (f"{'stage':>5} {'epsilon':>10} {'resid RMS':>10} {'f_d':>14} {'gamma':>9} {'gamma_g':>9} "
                  f"{'points':>6} {'iters':>6} {'resid after':>11} {'est. error':>10} {'true RMS':>10} {'time s':>7}  status")
        lines = [header, "-" * len(header)]
        for r in reports:
            fd = ",".join(f"{f:.2f}" for f in r.dominant_frequency)
            true = f"{r.true_rms:10.3e}" if r.true_rms is not None else f"{'-':>10}"
            lines.append(f"{r.stage:>5} {r.epsilon:10.3e} {r.residual_rms:10.3e} {fd:>14} {r.gamma:9.2e} {r.gamma_g:9.2e} "
                         f"{r.num_collocation:>6} {r.adam_steps + r.lbfgs_iterations:>6} {r.residual_rms_after:11.3e} "
                         f"{r.estimated_error:10.3e} {true} {r.wall_time:7.1f}  {'ok' if r.accepted else 'discarded'}")
        if any(r.parameters for r in reports):
            lines += ["", f"{'stage':>5} {'parameter':>10} {'value':>22} {'correction':>11} {'scale':>10} "
                          f"{'sqrt(L_s)':>10} {'networks':>8}"]
            for r in reports:
                for name, v in r.parameters.items():
                    estimated = v["estimated_error"]
                    lines.append(f"{r.stage:>5} {name:>10} {v['value']:22.16g} {v['correction']:11.3e} {v['scale']:10.3e} "
                                 f"{(f'{estimated:10.3e}' if estimated is not None else f'{chr(45):>10}')} {r.num_networks:>8}")
        return lines


@dataclasses.dataclass
class TrainingHistory:
    """Reports of every stage tried by the ``fit`` calls, in order (discarded ones included).

    Attributes:
        stages: The stage reports.
        wall_time: Seconds spent in ``fit`` (summed over calls that continue training).
        message: How the last ``fit`` call ended.
        report_type: The report class whose table :meth:`table` prints.
    """

    stages: list = dataclasses.field(default_factory=list)
    wall_time: float = 0.0
    message: str = ""
    report_type: type = dataclasses.field(default=StageReport, repr=False, compare=False)

    @property
    def accepted_stages(self) -> list:
        return [s for s in self.stages if s.accepted]

    def table(self) -> str:
        """A fixed-width text table, one row per stage."""
        return "\n".join(self.report_type.format_table(self.stages))

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dictionary: every stage's ``to_dict``, the wall time and the message."""
        return {"stages": [s.to_dict() for s in self.stages], "wall_time": json_ready(self.wall_time),
                "message": self.message}

    def loss_rows(self) -> list[tuple[int, str, int, float]]:
        """``(stage, phase, iteration, normalised loss)`` of every recorded iteration: Adam's steps and
        L-BFGS's blocks (iterations counted from the stage's start), for a per-iteration loss file."""
        rows = []
        for report in self.stages:
            if hasattr(report, "adam_losses"):  # regression report
                rows += [(report.stage, "adam", i + 1, float(v)) for i, v in enumerate(np.asarray(report.adam_losses))]
                rows += [(report.stage, "lbfgs", int(report.adam_steps + i), float(v))
                         for i, v in zip(np.asarray(report.lbfgs_iterations_history), np.asarray(report.lbfgs_losses))]
            else:
                rows += [(report.stage, "adam" if i <= report.adam_steps else "lbfgs", int(i), float(v))
                         for i, v in zip(np.asarray(report.loss_iterations), np.asarray(report.losses))]
        return rows

    def to_file_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with the format tag, version and report type that :meth:`from_file_dict` checks."""
        return {"format": HISTORY_FORMAT, "version": HISTORY_VERSION, "report_type": self.report_type.__name__,
                **self.to_dict()}

    @staticmethod
    def from_file_dict(data, source: str = "history") -> "TrainingHistory":
        """The history of :meth:`to_file_dict` (a :class:`PINNHistory` for PINN reports).

        Raises:
            ValueError: naming ``source``: not a history, a newer format version, or malformed stages.
        """
        if not isinstance(data, dict) or data.get("format") != HISTORY_FORMAT:
            raise ValueError(f"{source} is not an msnn_tf history")
        check_version(data.get("version"), HISTORY_VERSION, source, "history")
        kinds = {"StageReport": (StageReport, TrainingHistory), "PINNStageReport": (PINNStageReport, PINNHistory)}
        if data.get("report_type") not in kinds:
            raise ValueError(f"{source}: unknown report type {data.get('report_type')!r}")
        report_type, history_type = kinds[data["report_type"]]
        stages = data.get("stages")
        if not isinstance(stages, list):
            raise ValueError(f"{source}: `stages` must be a list")
        try:
            reports = [report_type.from_dict(s) for s in stages]
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: malformed stage report ({error})") from None
        return history_type(stages=reports, wall_time=float(data.get("wall_time") or 0.0),
                            message=str(data.get("message", "")))

    def save(self, filepath) -> None:
        """Writes the history as strict JSON (atomically), with its format and version."""
        write_json(filepath, self.to_file_dict())

    @classmethod
    def load(cls, filepath) -> "TrainingHistory":
        """The history :meth:`save` wrote (a :class:`PINNHistory` for PINN reports).

        Raises:
            ValueError: the file is missing, not JSON, not a history, or of a newer format version.
        """
        return cls.from_file_dict(read_json(filepath), repr(str(filepath)))


@dataclasses.dataclass
class PINNHistory(TrainingHistory):
    """The history of a :class:`~msnn_tf.MultiStagePINN` (its table shows the PINN columns)."""

    report_type: type = dataclasses.field(default=PINNStageReport, repr=False, compare=False)


def _restore(value, annotation: str):
    """A :func:`json_ready` value back in the type its dataclass field is annotated with."""
    if value is None:
        if "None" in annotation or annotation in ("Any", "dict", "str"):
            return None
        return np.array([]) if "np.ndarray" in annotation else math.nan
    if "np.ndarray" in annotation:
        return np.asarray(_nan_for_none(value, list), dtype=np.float64)
    if annotation.startswith("tuple"):
        return _nan_for_none(value, tuple)
    if annotation.startswith("float") and isinstance(value, (int, float)):
        return float(value)
    return value


def _nan_for_none(value, container):
    """Nested JSON lists as ``container`` (``list`` or ``tuple``) with ``None`` (a non-finite number) as NaN."""
    if isinstance(value, list):
        return container(_nan_for_none(v, container) for v in value)
    return math.nan if value is None else value


def _fmt(value):
    return "-" if value is None else f"{value:.3e}"
