"""Linear least-squares solve of a stage network's output layer (a random-feature stage).

A stage network ``act(kappa (x W) + b) -> ... -> Dense(1)`` is linear in its output layer. With the
hidden layers fixed at their initialisation, the output weights that minimise the (weighted) mean
squared error of eq. (2.1) are the solution of a linear least-squares problem, found to round-off
by a QR factorisation instead of by gradient descent. For a one-hidden-layer ``sin`` network with
Xavier-normal first-layer weights and ``kappa`` from eq. (2.9), the hidden units are sines of random
frequencies (standard deviation ``kappa_hat / (2 pi)`` cycles per unit per axis) and random phases:
the stage is a random-feature expansion of the residue around its dominant frequency ``f_d``.

Why it exists: in 2-D, the residue left by a trained stage spreads over a disc of frequencies whose
number of modes grows like ``f_d^2``; trained stages of a few thousand weights fit it only to 0.3 of
its RMS (2-D target of Fig. 6, measured). A solved output layer over a few thousand sin features
fits the first residue to 1e-9 of its RMS in tens of seconds (same target, 141^2 samples: 1.2e-4
after stage 0, 2.5e-14 after one solved stage of 4000 features).

The solve accumulates the triangular factor of ``[sqrt(w) H, sqrt(w), sqrt(w) t]`` block by block
(``H`` the hidden features, ``t`` the target), so memory stays at one block plus ``(M + 2)^2``
numbers for ``M`` features, and finishes with a rank-revealing solve (QR with column pivoting).
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np
import scipy.linalg

from msnn_tf import spectral
from msnn_tf.distribute import tsqr_factor
from msnn_tf.networks import build_stage_network
from msnn_tf.validation import positive_int

__all__ = ["LeastSquaresResult", "feature_derivative_factors", "feature_network", "held_out_mask", "network_values",
           "qr_least_squares", "solve_output_layer"]


@dataclasses.dataclass(frozen=True)
class LeastSquaresResult:
    """Outcome of :func:`solve_output_layer`.

    Attributes:
        loss: Weighted mean squared error of the fit (the objective of eq. 2.1 at the solution).
        residual_rms: Unweighted RMS of ``target - network(x)`` after the solve.
        rank: Numerical rank of the feature matrix (features plus the bias column).
        num_features: Hidden features ``M`` (the output layer's fan-in).
        num_points: Rows of the problem.
        wall_time: Seconds spent.
        failed: True when features or target were not finite; the output layer is then unchanged.
        message: What happened, in words.
    """

    loss: float
    residual_rms: float
    rank: int
    num_features: int
    num_points: int
    wall_time: float
    failed: bool
    message: str


#: Numbers (rows x units) per chunk when a network is evaluated outside the optimizers: the float64
#: ``sin`` of a layer makes about ten temporaries of that size, so a chunk costs ~160 MB at most (one
#: block of 32000 rows x 1000 features at once took the process to 4.5 GB, ``tools/bench_scaling.py``).
CHUNK_NUMBERS = 2_000_000


def _chunk_rows(network: keras.Model) -> int:
    units = max([int(getattr(layer, "units", 1)) for layer in network.layers] + [1])
    return max(1, CHUNK_NUMBERS // units)


def _hidden_features(network: keras.Model, x: np.ndarray) -> np.ndarray:
    """Output of every layer but the last, as float64 ``(N, M)`` (evaluated in chunks of rows)."""
    rows = _chunk_rows(network)
    parts = []
    for lo in range(0, x.shape[0], rows):
        h = keras.ops.convert_to_tensor(x[lo:lo + rows], dtype=network.layers[0].compute_dtype)
        for layer in network.layers[:-1]:
            h = layer(h)
        parts.append(np.asarray(keras.ops.convert_to_numpy(h), dtype=np.float64))
    return np.concatenate(parts, axis=0)


def feature_network(input_dim: int, width: int, frequency: float, factor: float, seed: int, name: str,
                    dtype: str = "float64") -> keras.Sequential:
    """The network of a least-squares stage: one ``sin`` layer of ``width`` units (Xavier-normal
    weights, random phases, ``kappa`` from eq. 2.9 with ``kappa_hat = factor * pi * frequency``) and a
    linear output, whose output layer :func:`solve_output_layer` then sets."""
    kappa = spectral.kappa_for_frequency(frequency, fan_in=input_dim, units=width, factor=factor)
    return build_stage_network(input_dim, width=width, depth=1, kappa=kappa, first_activation="sin",
                               bias_initializer="phase", seed=seed, name=name, dtype=dtype)


def feature_derivative_factors(kappa: float, kernel: np.ndarray, slope, key) -> np.ndarray:
    """Per feature ``i`` of a one-layer ``sin`` network, the factor ``prod_j (kappa s_j W_ji)^(k_j)`` that
    ``d^k / dx^k`` puts on ``sin(kappa (h W) + b)`` (with the phase shift ``|k| pi / 2``); ``s_j`` is the
    input scaling's slope ``dh_j / dx_j``, ``key`` the multi-index ``k``."""
    return np.prod([(kappa * slope[j] * kernel[j]) ** key[j] for j in range(len(key))], axis=0)


def held_out_mask(num_points: int, num_candidates: int, seed: int) -> np.ndarray:
    """Boolean mask of the points a least-squares stage is solved on: all of them for one candidate,
    else all but a random eighth, on which the candidates are compared."""
    fit = np.ones(num_points, bool)
    if num_candidates > 1:
        fit[np.random.default_rng(seed).permutation(num_points)[: num_points // 8]] = False
    return fit


def network_values(network: keras.Model, x, block_rows: int = 100_000) -> np.ndarray:
    """``network(x)`` as float64 ``(N, outputs)``, in blocks of ``block_rows`` rows, the hidden layers of
    a block evaluated in chunks of :data:`CHUNK_NUMBERS` numbers. (``keras.Model.predict`` would cast
    float64 inputs to float32 first: 2.6e-7 off for a sin layer with kappa 50.)"""
    x = np.asarray(x, dtype=np.float64)
    output = network.layers[-1]
    blocks = []
    for lo in range(0, x.shape[0], block_rows):
        # The hidden layers in chunks (bounded memory), the output layer on the whole block (its sums
        # round as they did when the block was evaluated at once).
        hidden = keras.ops.convert_to_tensor(_hidden_features(network, x[lo:lo + block_rows]), dtype=output.compute_dtype)
        blocks.append(np.asarray(keras.ops.convert_to_numpy(output(hidden)), dtype=np.float64))
    return np.concatenate(blocks)


#: Below this many matrix entries :func:`qr_least_squares` calls gelsy on the whole matrix (the time
#: saved is small there, and the recorded least-squares runs keep their rounding).
QR_FIRST_NUMBERS = 10_000_000


def qr_least_squares(matrix: np.ndarray, rhs: np.ndarray, min_qr_numbers: int = QR_FIRST_NUMBERS,
                     strategy=None) -> np.ndarray:
    """``argmin_c ||matrix c - rhs||`` for a tall ``(M, N)`` matrix: a QR factorisation of ``[matrix | rhs]``
    without pivoting (blocked, level-3 BLAS) gives ``R`` and ``Q^T rhs``; the rank-revealing solve
    (pivoted QR, LAPACK ``gelsy``) then runs on the ``(N, N)`` factor only. Same rank decisions as
    ``gelsy`` on the whole matrix, about twice as fast for ``M ~ 5 N`` (10500 x 2000: 6.0 s -> 2.9 s
    on 2 cores); wide, square or small matrices go to ``gelsy`` directly. With a ``tf.distribute.Strategy``
    the first factorisation runs on its replicas (:func:`~msnn_tf.distribute.tsqr_factor`), whatever the size."""
    rows, columns = matrix.shape
    if strategy is None and (rows <= columns or rows * columns <= min_qr_numbers):
        return scipy.linalg.lstsq(matrix, rhs, lapack_driver="gelsy")[0]
    augmented = np.concatenate([matrix, rhs[:, None]], axis=1)
    factor = (scipy.linalg.qr(augmented, mode="r", overwrite_a=True)[0] if strategy is None
              else tsqr_factor(strategy, augmented))
    return scipy.linalg.lstsq(factor[:columns, :columns], factor[:columns, columns], lapack_driver="gelsy")[0]


def solve_output_layer(
    network: keras.Model,
    x,
    target,
    weights=None,
    block_rows: int | None = None,
    strategy=None,
) -> LeastSquaresResult:
    """Sets the last (linear ``Dense``) layer of ``network`` to the least-squares fit of ``target``.

    Minimises ``mean(w * (network(x) - target)^2)`` over the output layer's kernel and bias, the
    other layers fixed.

    Args:
        network: A built stage network whose last layer is a linear ``keras.layers.Dense`` with one
            output (as :func:`~msnn_tf.networks.build_stage_network` makes).
        x: Inputs as the network takes them (already scaled), shape ``(N, d)``.
        target: Values to fit, shape ``(N, 1)`` or ``(N,)``.
        weights: Optional positive per-point weights ``w``, shape ``(N,)`` or ``(N, 1)``.
        block_rows: Rows per block of the factorisation (default: about 32 million numbers per block).
        strategy: A ``tf.distribute.Strategy``: each block's factorisation runs on its replicas
            (:func:`~msnn_tf.distribute.tsqr_factor`); ``None``: on the host.

    Returns:
        A :class:`LeastSquaresResult`.

    Raises:
        ValueError: on mismatched shapes, an output layer that is not a linear one-output ``Dense``,
            or non-positive ``block_rows``.
    """
    start = time.perf_counter()
    output = network.layers[-1]
    if not isinstance(output, keras.layers.Dense) or output.units != 1 or output.activation is not keras.activations.linear:
        raise ValueError(f"`network` must end in a linear Dense layer with one unit, got {output!r}")
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != target.shape[0] or x.shape[0] == 0:
        raise ValueError(f"`x` must have shape (N, d) with N = len(target) > 0, got {x.shape} and {target.shape[0]} targets")
    sqrt_w = np.ones_like(target)
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != target.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"`weights` must be positive and finite with one per point, got shape {w.shape}")
        sqrt_w = np.sqrt(w)
    n, m = x.shape[0], int(output.kernel.shape[0])
    if block_rows is None:
        block_rows = max(m + 2, 32_000_000 // (m + 2))
    block_rows = positive_int("block_rows", block_rows)

    factor = None
    for lo in range(0, n, block_rows):
        hi = min(n, lo + block_rows)
        features = _hidden_features(network, x[lo:hi])
        block = np.concatenate([features, np.ones((hi - lo, 1)), target[lo:hi, None]], axis=1) * sqrt_w[lo:hi, None]
        if not np.all(np.isfinite(block)):
            return LeastSquaresResult(math.nan, math.nan, 0, m, n, time.perf_counter() - start, True,
                                      "non-finite features or target, output layer unchanged")
        stacked = block if factor is None else np.concatenate([factor, block], axis=0)
        factor = np.linalg.qr(stacked, mode="r") if strategy is None else tsqr_factor(strategy, stacked)
    # Pad to a square (M + 2) factor when there are fewer rows than columns.
    if factor.shape[0] < m + 2:
        factor = np.concatenate([factor, np.zeros((m + 2 - factor.shape[0], m + 2))], axis=0)
    # Features computed in float32 are only good to ~1e-7: treat smaller singular values as zero.
    cond = None if np.dtype(output.kernel.dtype) == np.float64 else float(np.finfo(np.float32).eps)
    coefficients, _, rank, _ = scipy.linalg.lstsq(factor[: m + 1, : m + 1], factor[: m + 1, m + 1],
                                                  cond=cond, lapack_driver="gelsy")
    output.kernel.assign(coefficients[:m, None].astype(output.kernel.dtype))
    output.bias.assign(coefficients[m:].astype(output.bias.dtype))

    residual = target - network_values(network, x, block_rows)[:, 0]
    loss = float(np.mean((sqrt_w * residual) ** 2))
    return LeastSquaresResult(
        loss=loss, residual_rms=float(np.sqrt(np.mean(residual**2))), rank=int(rank), num_features=m,
        num_points=n, wall_time=time.perf_counter() - start, failed=not math.isfinite(loss),
        message="ok" if math.isfinite(loss) else "non-finite loss after the solve")
