"""Validated, serialisable solver settings built from shared parts.

:class:`StageSettings` holds what both solvers share (network sizes, Adam and L-BFGS budgets, first
layers, least-squares stages, seed); :class:`RegressionSettings` and :class:`PINNSettings` add their
own and their own defaults. Every field is checked once, in ``__post_init__``, with an error that
names the argument and repeats the value; sequences become tuples, so a settings object is immutable,
comparable and JSON-ready (:meth:`StageSettings.to_dict`, :meth:`StageSettings.from_dict`).

Per-stage values are resolved in one place, :meth:`StageSettings.value`: a setting in
``PER_STAGE`` takes a scalar or a sequence indexed by stage (its last entry repeats). The hand-set
prefactors and scale factors of a PINN (``epsilon``, ``kappa``) exist for stages >= 1 only, so their
sequences start at stage 1 (``FROM_STAGE_ONE``). One seed rule: stage ``j`` uses ``seed + 1000 j``
(:meth:`StageSettings.stage_seed`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from msnn_tf.validation import check_float_dtype, non_negative_int, per_stage, positive_finite, positive_int

__all__ = ["PINNSettings", "RegressionSettings", "StageSettings"]


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)


def _entries(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _sequence_or_scalar(value, entries):
    return tuple(entries) if isinstance(value, (list, tuple)) else entries[0]


def _per_stage(ok, kind, convert=lambda v: v, words=()):
    """A check of a scalar-or-sequence setting whose entries are ``words`` (e.g. ``"auto"``) or pass ``ok``."""

    def check(name, value):
        entries = _entries(value)
        if not entries or not all((isinstance(v, str) and v in words) or (not isinstance(v, str) and ok(v)) for v in entries):
            allowed = " or ".join([repr(w) for w in words] + [kind])
            raise ValueError(f"`{name}` must hold {allowed}, got {value!r}")
        return _sequence_or_scalar(value, [v if isinstance(v, str) else convert(v) for v in entries])

    return check


def _scalar(ok, kind, convert=lambda v: v):
    def check(name, value):
        if not ok(value):
            raise ValueError(f"`{name}` must be {kind}, got {value!r}")
        return convert(value)

    return check


def _choice(*options):
    def check(name, value):
        if not any(value == option and type(value) is type(option) for option in options):
            raise ValueError(f"`{name}` must be one of {', '.join(map(repr, options))}, got {value!r}")
        return value

    return check


_positive_ints = _per_stage(lambda v: _is_int(v) and v > 0, "positive integers", int)
_non_negative_ints = _per_stage(lambda v: _is_int(v) and v >= 0, "non-negative integers", int)
_positive_numbers = _per_stage(lambda v: _is_number(v) and v > 0, "positive finite numbers", float)
_positive_int, _non_negative_int, _positive = positive_int, non_negative_int, positive_finite
_fraction = _scalar(lambda v: _is_number(v) and 0 < v <= 1, "in (0, 1]", float)
_open_fraction = _scalar(lambda v: _is_number(v) and 0 < v < 1, "in (0, 1)", float)
_boolean = _scalar(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1), "a boolean", bool)


def _positive_tuple(name, value):
    return tuple(float(v) for v in _entries(_positive_numbers(name, value if isinstance(value, (list, tuple)) else [value])))


def _optional(check):
    return lambda name, value: None if value is None else check(name, value)


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """Settings both solvers share; see :class:`~msnn_tf.MultiStageRegressor` and
    :class:`~msnn_tf.MultiStagePINN` for what each means."""

    width: int | tuple[int, ...] = 20
    depth: int | tuple[int, ...] = 3
    adam_steps: int | tuple[int, ...] = 3000
    learning_rate: float | tuple[float, ...] = 2e-3
    decay_rate: float = 0.5
    decay_steps: float = 1000.0
    lbfgs_iterations: int | tuple[int, ...] = 5000
    num_correction_pairs: int = 50
    first_layer_init: str = "spectrum"
    kappa_factor: float = 1.5
    first_stage_kappa: float = 1.0
    first_stage_activation: str = "tanh"
    sin_bias_initializer: str = "phase"
    points_safety: float = 2.0
    loss_weighting: str = "uniform"
    stage_solver: str = "adam_lbfgs"
    stop_rule: str = "auto"
    min_block_gain: float = 2.0
    least_squares_width: int = 1000
    least_squares_kappa_factors: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    seed: int = 0
    jit_compile: bool = True
    verbose: int = 1

    PER_STAGE: ClassVar[frozenset] = frozenset({"width", "depth", "adam_steps", "learning_rate", "lbfgs_iterations"})
    FROM_STAGE_ONE: ClassVar[frozenset] = frozenset()
    STAGE_SOLVERS: ClassVar[tuple] = ("adam_lbfgs", "least_squares")

    def checks(self) -> dict:
        """The check of every field (a subclass extends it)."""
        return dict(
            width=_positive_ints, depth=_positive_ints, adam_steps=_non_negative_ints, learning_rate=_positive_numbers,
            decay_rate=_fraction, decay_steps=_positive, lbfgs_iterations=_non_negative_ints,
            num_correction_pairs=_positive_int, first_layer_init=_choice("spectrum", "xavier"), kappa_factor=_positive,
            first_stage_kappa=_positive, first_stage_activation=_choice("tanh", "sin"),
            sin_bias_initializer=_choice("phase", "zeros"), points_safety=_positive,
            loss_weighting=_choice("uniform", "chebyshev"), stage_solver=_choice(*self.STAGE_SOLVERS),
            stop_rule=_choice("auto", "budget", "gain"),
            min_block_gain=_scalar(lambda v: _is_number(v) and v > 1, "a finite number above 1", float),
            least_squares_width=_positive_int, least_squares_kappa_factors=_positive_tuple,
            seed=_scalar(_is_int, "an integer", int), jit_compile=_boolean, verbose=_choice(0, 1))

    def __post_init__(self):
        checks = self.checks()
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, checks[field.name](field.name, getattr(self, field.name)))

    @classmethod
    def field_names(cls) -> frozenset:
        """The names of the settings."""
        return frozenset(f.name for f in dataclasses.fields(cls))

    def value(self, name: str, stage: int):
        """The setting ``name`` for stage ``stage`` (sequences: by stage, the last entry repeating;
        names in ``FROM_STAGE_ONE`` index their sequences from stage 1)."""
        value = getattr(self, name)
        if name not in self.PER_STAGE:
            return value
        return per_stage(name, value, stage - 1 if name in self.FROM_STAGE_ONE else stage)

    def uses_gain_rule(self, later_stages_solved: bool) -> bool:
        """Whether trained stages stop by ``min_block_gain`` (``stop_rule``): ``"gain"`` always,
        ``"budget"`` never, ``"auto"`` when ``stage_solver`` is ``"auto"`` and the stages after the
        trained one are solved (``later_stages_solved``): a trained stage then only prepares a smooth
        residue that a solved stage removes by many orders at once, and the iterations of its slow
        tail (a factor 1.1-1.5 per 500 L-BFGS iterations) buy less than that stage does."""
        if self.stop_rule == "auto":
            return self.stage_solver == "auto" and later_stages_solved
        return self.stop_rule == "gain"

    def block_gain(self, later_stages_solved: bool) -> float | None:
        """``min_block_gain`` when :meth:`uses_gain_rule` says a trained stage stops by it, else ``None``
        (the fixed budgets): the value the optimizers take."""
        return self.min_block_gain if self.uses_gain_rule(later_stages_solved) else None

    def stage_seed(self, stage: int) -> int:
        """Seed of stage ``stage``'s initialisers and samplers: ``seed + 1000 stage``."""
        return self.seed + 1000 * stage

    def replace(self, **changes) -> "StageSettings":
        """A copy with ``changes`` (checked like the constructor's arguments)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples as lists); ``type(self).from_dict`` rebuilds the settings."""
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StageSettings":
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})


@dataclasses.dataclass(frozen=True)
class RegressionSettings(StageSettings):
    """Settings of :class:`~msnn_tf.MultiStageRegressor` (Algorithm 1); its defaults."""

    width: int | tuple[int, ...] = (20, 50)
    adam_steps: int | tuple[int, ...] = (3000, 1000)
    lbfgs_iterations: int | tuple[int, ...] = (20000, 8000)
    loss_weighting: str = "chebyshev"
    stage_solver: str = "auto"
    min_least_squares_features: int = 64
    least_squares_width: int = 4000
    least_squares_kappa_factors: tuple[float, ...] = (3.0, 5.0, 8.0)
    end_refinement_cells: int = 64
    grid_refinement: int = 2
    refinement_order: int = 12
    max_points: int = 200000
    normalize: bool = True
    dtype: str = "float64"

    STAGE_SOLVERS: ClassVar[tuple] = ("auto", "adam_lbfgs", "least_squares")

    def checks(self) -> dict:
        return dict(super().checks(), end_refinement_cells=_non_negative_int, grid_refinement=_positive_int,
                    refinement_order=_scalar(lambda v: _is_int(v) and v >= 2, "an integer of at least 2", int),
                    max_points=_positive_int, normalize=_boolean, dtype=check_float_dtype,
                    min_least_squares_features=_positive_int)


@dataclasses.dataclass(frozen=True)
class PINNSettings(StageSettings):
    """Settings of :class:`~msnn_tf.MultiStagePINN` (Algorithm 4); its defaults. ``grid_points``
    ``None`` means 2001, 161 or 31 points per axis in 1, 2 or >= 3 dimensions."""

    adam_steps: int | tuple[int, ...] = (3000, 3000)
    lbfgs_iterations: int | tuple[int, ...] = (5000, 5000)
    num_collocation: int | tuple[int, ...] = 256
    gradient_enhanced: bool = False
    epsilon: Any = "auto"
    gamma: Any = "auto"
    gamma_g: Any = "auto"
    kappa: Any = "auto"
    rar_points: int | tuple[int, ...] = 0
    resample_every: int | tuple[int, ...] = 0
    pretrain_steps: int = 500
    pretrain_initial_gamma: float = 0.5
    pretrain_max_rounds: int = 12
    record_loss_parts: bool = False
    plateau_window: int | None = None
    bias_initializer: str | None = None
    first_stage_epsilon: float = 1.0
    max_collocation: int = 20000
    grid_points: int | None = None
    open_margin: float = 0.0
    parameter_network: str | tuple[str, ...] = "auto"
    stage_solver: str = "auto"
    least_squares_width: int | str = "auto"
    gauss_newton_steps: int = 4
    rescale_frozen_stages: bool = True
    levenberg_marquardt_iterations: int | tuple[int, ...] = 0

    STAGE_SOLVERS: ClassVar[tuple] = ("auto", "adam_lbfgs", "least_squares")
    PER_STAGE: ClassVar[frozenset] = StageSettings.PER_STAGE | {
        "num_collocation", "epsilon", "gamma", "gamma_g", "kappa", "rar_points", "resample_every", "parameter_network",
        "levenberg_marquardt_iterations"}
    FROM_STAGE_ONE: ClassVar[frozenset] = frozenset({"epsilon", "kappa"})

    def checks(self) -> dict:
        positive_or_auto = _per_stage(lambda v: _is_number(v) and v > 0, "positive finite numbers", float, ("auto",))
        return dict(
            super().checks(), num_collocation=_positive_ints, gradient_enhanced=_boolean, epsilon=positive_or_auto,
            gamma=_per_stage(lambda v: _is_number(v) and 0 < v < 1, "numbers in (0, 1)", float, ("auto", "pretrain")),
            gamma_g=positive_or_auto, kappa=positive_or_auto, rar_points=_non_negative_ints,
            resample_every=_non_negative_ints, pretrain_steps=_positive_int, pretrain_initial_gamma=_open_fraction,
            pretrain_max_rounds=_positive_int, record_loss_parts=_boolean, plateau_window=_optional(_positive_int),
            bias_initializer=_optional(_choice("glorot")), first_stage_epsilon=_positive, max_collocation=_positive_int,
            grid_points=_optional(_positive_int),
            parameter_network=_per_stage(lambda v: False, "", str, ("auto", "always", "never")),
            open_margin=_scalar(lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]", float),
            least_squares_width=_scalar(lambda v: v == "auto" or (_is_int(v) and v > 0), "a positive integer or 'auto'",
                                        lambda v: v if v == "auto" else int(v)),
            gauss_newton_steps=_non_negative_int, rescale_frozen_stages=_boolean,
            levenberg_marquardt_iterations=_non_negative_ints)
