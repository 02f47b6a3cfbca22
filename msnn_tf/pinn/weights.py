"""Equation weight ``gamma`` of a PINN loss by pre-training (paper, Algorithm 3, section 3.2.2).

The loss of eq. (3.1) is ``(1 - gamma) L_d + gamma L_e``. A good ``gamma`` makes the data loss and
the equation loss converge at similar rates. Algorithm 3 measures those rates by a short
pre-training of ``N_0`` steps from the same initial network: ``C_d = L_d^(0) / L_d^(m)`` and
``C_e = L_e^(0) / L_e^(m)`` (eq. 3.35), ``L^(m)`` the smallest loss over the last ``N_1 = N_0 / 10``
steps (eq. 3.34), and updates ``gamma <- gamma * R_c^eta`` (eq. 3.37) until
``R_c = C_d / C_e`` lies inside the criterion (3.36). Each round restarts from the initial network,
as the paper asks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import tensorflow as tf

from msnn_tf.optimizers import adam_minimize
from msnn_tf.validation import positive_int

__all__ = ["EquationWeightSearch", "convergence_ratio", "pretrain_equation_weight"]


@dataclasses.dataclass(frozen=True)
class EquationWeightSearch:
    """Result of :func:`pretrain_equation_weight` (immutable).

    Attributes:
        gamma: The equation weight found; when the search did not converge, the last one tried (or
            the first, if a loss gave no convergence rate at all).
        converged: ``True`` when ``R_c`` of ``gamma`` met the criterion (3.36).
        rounds: One ``(gamma, C_d, C_e, R_c)`` per pre-training round, in order.
        histories: Per round, the ``(N_0, 2)`` array of ``(L_d, L_e)`` before each step.
    """

    gamma: float
    converged: bool
    rounds: tuple[tuple[float, float, float, float], ...]
    histories: tuple[np.ndarray, ...]


def convergence_ratio(history: np.ndarray) -> tuple[float, float, float]:
    """``(C_d, C_e, R_c)`` of eqs. (3.34)-(3.36) from an ``(N_0, 2)`` history of ``(L_d, L_e)``.

    ``L^(m)`` is the smallest loss over the last ``N_1 = N_0 / 10`` steps (eq. 3.34). ``L^(0)`` is the
    largest over the first ``N_1`` steps rather than the very first value (eq. 3.33): a network can
    start with a data loss of exactly 0 (e.g. ``u(0) = 0`` met by a tanh network with zero biases),
    which would make ``C_d = 0`` although the data loss then rises and falls like any other.
    """
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 2 or history.shape[1] != 2 or history.shape[0] < 2:
        raise ValueError(f"`history` must be an (N_0 >= 2, 2) array of (L_d, L_e), got shape {history.shape}")
    tail = max(1, history.shape[0] // 10)
    last = np.min(history[-tail:], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_d, c_e = np.max(history[:tail], axis=0) / last
        return float(c_d), float(c_e), float(c_d / c_e)


def pretrain_equation_weight(
    build_objective: Callable[[float], tuple[Callable, Callable, tf.Tensor]],
    initial_gamma: float = 0.5,
    pretrain_steps: int = 500,
    exponent: float = 0.5,
    bounds: tuple[float, float] = (0.1, 10.0),
    max_rounds: int = 12,
    learning_rate: float = 1e-3,
    jit_compile: bool = True,
    callback: Callable[[int, float, float], None] | None = None,
) -> EquationWeightSearch:
    """Algorithm 3: the equation weight ``gamma`` whose data and equation losses converge alike.

    Args:
        build_objective: ``build_objective(gamma) -> (value_and_gradients, parts, initial_position)``:
            the loss of eq. (3.1) with weight ``gamma`` over a flat parameter vector, a function
            returning ``(L_d, L_e)`` at a position, and the same initial position every call.
        initial_gamma: First ``gamma`` tried, in ``(0, 1)`` (0.5: the usual PINN weight).
        pretrain_steps: ``N_0``, Adam steps per round (the paper: 500).
        exponent: ``eta`` of the update (3.37), positive.
        bounds: The criterion (3.36): ``bounds[0] < R_c < bounds[1]``.
        max_rounds: Rounds before giving up (the result then says ``converged=False``).
        learning_rate: Adam's learning rate during pre-training.
        jit_compile: Compile the Adam steps with XLA.
        callback: ``callback(round, gamma, R_c)`` after each round (progress).

    Returns:
        :class:`EquationWeightSearch`.

    Raises:
        ValueError: on ``initial_gamma`` outside ``(0, 1)``, non-positive sizes or exponent, or
            bounds that are not ``0 < low < high``.
    """
    if not (isinstance(initial_gamma, (int, float)) and 0 < initial_gamma < 1):
        raise ValueError(f"`initial_gamma` must be in (0, 1), got {initial_gamma!r}")
    pretrain_steps = positive_int("pretrain_steps", pretrain_steps)
    if pretrain_steps < 10:
        raise ValueError(f"`pretrain_steps` must be at least 10 (eq. 3.34 reads the last tenth), got {pretrain_steps}")
    max_rounds = positive_int("max_rounds", max_rounds)
    if not (math.isfinite(exponent) and exponent > 0):
        raise ValueError(f"`exponent` must be positive, got {exponent!r}")
    low, high = (float(b) for b in bounds)
    if not 0 < low < high:
        raise ValueError(f"`bounds` must satisfy 0 < low < high, got {bounds!r}")
    gamma = float(initial_gamma)
    rounds, histories = [], []
    for index in range(max_rounds):
        value_and_gradients, parts, position = build_objective(gamma)
        result = adam_minimize(value_and_gradients, position, pretrain_steps, learning_rate=learning_rate,
                               jit_compile=jit_compile, record=lambda p: tf.stack(parts(p)))
        history = result.records
        c_d, c_e, ratio = convergence_ratio(history)
        rounds.append((gamma, c_d, c_e, ratio))
        histories.append(history)
        if callback is not None:
            callback(index, gamma, ratio)
        if not (math.isfinite(ratio) and ratio > 0) or result.failed:
            break  # a loss that is 0 or non-finite throughout: no rate to balance
        if low < ratio < high:
            return EquationWeightSearch(gamma, True, tuple(rounds), tuple(histories))
        gamma = float(min(max(gamma * ratio**exponent, 1e-12), 1.0 - 1e-9))
    last = rounds[-1]
    usable = math.isfinite(last[3]) and last[3] > 0
    return EquationWeightSearch(last[0] if usable else rounds[0][0], False, tuple(rounds), tuple(histories))
