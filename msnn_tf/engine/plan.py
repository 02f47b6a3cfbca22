"""StagePlan: what a stage will do, decided before it is solved (immutable, JSON-ready)."""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Mapping

import numpy as np

from msnn_tf import spectral
from msnn_tf.jsonio import json_ready  # re-exported: the engine's JSON form is the package's one

__all__ = ["StagePlan", "first_layer_start", "json_ready", "kappa_hat_of"]


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """The settings of one stage, resolved from the residue of the stages before it.

    Attributes:
        stage: Index of the stage (0 is the first network).
        solver: ``"adam_lbfgs"`` (a network trained by Adam then L-BFGS) or ``"least_squares"`` (a
            one-layer ``sin`` network whose output layer is solved).
        epsilon: Prefactor of the stage (eq. 2.3 for regression, eq. 3.19 for a PINN).
        dominant_frequency: ``f_d`` of the residue per input axis.
        kappa: Scale factor of the first layer (``None`` for a least-squares stage: chosen among
            candidates when it is solved).
        kappa_hat: Its modified value (eq. 2.8) or, for a spectrum-initialised layer, the RMS initial
            angular frequency (``None`` like ``kappa``).
        first_activation: ``"tanh"`` or ``"sin"``.
        width: Units per hidden layer (features of a least-squares stage).
        depth: Hidden layers.
        adam_steps: Adam steps (0 for a least-squares stage).
        lbfgs_iterations: L-BFGS iteration cap (0 for a least-squares stage).
        learning_rate: Adam's initial learning rate.
        seed: Seed of the stage's initialisers and samplers (``seed + 1000 stage``).
        num_points: Loss points (regression: training data; PINN: collocation points).
        summary: The progress line that announces the stage.
        notes: Further progress lines (e.g. grid refinement, Algorithm 3's rounds).
        extras: Solver-specific settings (e.g. a PINN stage's ``gamma`` and ``gamma_g``), read-only.
    """

    stage: int
    solver: str
    epsilon: float
    dominant_frequency: tuple[float, ...]
    kappa: float | None
    kappa_hat: float | None
    first_activation: str
    width: int
    depth: int
    adam_steps: int
    lbfgs_iterations: int
    learning_rate: float
    seed: int
    num_points: int
    summary: str = ""
    notes: tuple[str, ...] = ()
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "extras", types.MappingProxyType(dict(self.extras)))

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dictionary of every field (non-finite numbers as ``None``)."""
        return {f.name: json_ready(getattr(self, f.name)) for f in dataclasses.fields(self)}


def first_layer_start(settings, stage: int, scaled_points, values, frequency: float, points_per_axis: float,
                      width: int):
    """``(kappa, first-layer frequencies or None)`` of a stage's ``sin`` first layer.

    ``first_layer_init="spectrum"``: the frequencies are drawn from the amplitude spectrum of
    ``values`` at ``scaled_points`` (inputs in [-1, 1]), capped at ``points_per_axis / (6 pi)``, what
    that many points per axis resolve by eq. (2.10), with ``kappa = 1``. ``"xavier"``: Xavier-normal
    weights with ``kappa`` from eq. (2.9), ``kappa_hat = kappa_factor * pi * frequency`` (``frequency``
    in cycles per scaled unit).
    """
    scaled_points = np.asarray(scaled_points)
    if settings.first_layer_init == "spectrum":
        return 1.0, spectral.sample_spectrum_frequencies(scaled_points, values, width, seed=settings.stage_seed(stage),
                                                         max_frequency=points_per_axis / (6.0 * math.pi))
    return spectral.kappa_for_frequency(frequency, fan_in=scaled_points.shape[1], units=width,
                                        factor=settings.kappa_factor), None


def kappa_hat_of(network, first_layer_frequencies=None) -> float:
    """``kappa_hat`` of a stage network (eq. 2.8); for a spectrum-initialised first layer the same role
    is played by the RMS of its initial angular frequencies ``2 pi |f_i|``."""
    if first_layer_frequencies is None:
        return float(network.layers[0].kappa_hat)
    return float(2.0 * math.pi * np.sqrt(np.mean(np.sum(first_layer_frequencies**2, axis=1))))
