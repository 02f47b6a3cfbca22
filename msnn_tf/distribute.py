"""Data-parallel stages on a user's ``tf.distribute.Strategy``.

Every loss the stages minimise is a sum over points (data, collocation points): eq. (2.1) for
regression, eqs. (3.1) and (4.2) for a PINN. A strategy with ``R`` replicas gives each replica a
contiguous shard of the points; each replica computes its part of the loss and of its gradient
(a sum over its rows, already divided by the total count), and the parts are summed across replicas
(``strategy.reduce(SUM)``: an all-reduce on GPUs and across machines). The optimizers (Adam, TFP's
L-BFGS) see one function ``position -> (loss, gradient)`` and run unchanged on the reduced values,
identical on every replica.

A least-squares stage (one linear solve) combines per-replica triangular factors instead (TSQR):
replica ``r`` factors its block of rows ``A_r = Q_r R_r``; the stacked ``[R_1; ...; R_R]`` has the
Gram matrix of ``A`` and is factored once more, ``R`` then solves the problem as the factor of ``A``
would (Demmel et al., "Communication-optimal parallel and sequential QR and LU factorizations",
SIAM J. Sci. Comput. 34, 2012).

Results equal the single-device run's at round-off, not bit for bit: the sums are ordered
differently. A trained stage's trajectory amplifies round-off (measured: 300 Adam steps of a 3x20
``tanh`` network, single device with and without XLA, differ by 2e-10 relative in the loss), so
the stage weights differ; the fitted functions agree to the error the stages leave, and a model
trained to round-off predicts the same values to ~1e-13 (``tests/test_distribute.py``).

Measured on two logical CPU devices only. A PINN replica reads its rows from the collocation
variables (one copy, which resampling reassigns) at every evaluation rather than from a copy placed
on its device: on GPUs that is a transfer per step, not measured here (no GPU on the machine).
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = ["check_strategy", "distributed_value_and_gradients", "replica_rows", "tsqr_factor"]


def check_strategy(strategy):
    """``strategy`` itself when it is ``None`` or a ``tf.distribute.Strategy``; a ``ValueError`` naming it otherwise."""
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"`strategy` must be a tf.distribute.Strategy or None, got {type(strategy).__name__}")
    return strategy


def replica_rows(num_rows: int, num_replicas: int) -> list[tuple[int, int]]:
    """Contiguous ``(lo, hi)`` row ranges, one per replica, sizes differing by one at most (a replica
    gets an empty range when there are fewer rows than replicas)."""
    bounds = np.linspace(0, num_rows, num_replicas + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def distributed_value_and_gradients(strategy: tf.distribute.Strategy, part: Callable, shards: Sequence[tuple],
                                    jit_compile: bool = True) -> Callable:
    """``position -> (loss, gradient)`` summed over replicas.

    Args:
        strategy: The ``tf.distribute.Strategy``.
        part: ``part(position, *shard) -> (loss_part, gradient_part)``, the replica's share of the loss
            (its rows' sum divided by the total count, so that the parts add up to the loss) and of its
            gradient. Traceable by ``tf.function`` (and by XLA when ``jit_compile``).
        shards: One tuple of arrays or tensors per replica (``strategy.num_replicas_in_sync`` of them),
            placed on the replica's device once.
        jit_compile: Compile ``part`` with XLA on each replica; the optimizer loops calling the returned
            function then run as plain ``tf.function`` graphs (XLA does not span devices).

    Returns:
        A function usable inside ``tf.function`` (its reduction runs in the cross-replica context).
    """
    replicas = strategy.num_replicas_in_sync
    if len(shards) != replicas:
        raise ValueError(f"`shards` must hold one tuple per replica ({replicas}), got {len(shards)}")
    placed = strategy.experimental_distribute_values_from_function(
        lambda context: tuple(tf.convert_to_tensor(t) for t in shards[context.replica_id_in_sync_group]))
    local = tf.function(tf.autograph.experimental.do_not_convert(part), jit_compile=jit_compile, autograph=False)

    def value_and_gradients(position):
        loss, gradient = strategy.run(local, args=(position, *placed))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, gradient, axis=None))

    return value_and_gradients


def tsqr_factor(strategy: tf.distribute.Strategy, matrix: np.ndarray) -> np.ndarray:
    """The ``(n, n)`` triangular factor ``R`` of a tall ``(m, n)`` matrix from per-replica factors (TSQR).

    Each replica factors its contiguous block of rows (``tf.linalg.qr`` on its device, blocks with fewer
    rows than columns zero-padded); the gathered factors are stacked and factored once more on the host.
    ``R`` equals the factor of the whole matrix up to the signs of its rows and round-off, so
    ``R^T R = A^T A`` and a least-squares solve on ``R`` (with the right-hand side as ``A``'s last column)
    is the solve on ``A``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, columns = matrix.shape
    ranges = replica_rows(rows, strategy.num_replicas_in_sync)

    def block(context):
        lo, hi = ranges[context.replica_id_in_sync_group]
        part = matrix[lo:hi]
        if part.shape[0] < columns:
            part = np.concatenate([part, np.zeros((columns - part.shape[0], columns))])
        return tf.constant(part)

    blocks = strategy.experimental_distribute_values_from_function(block)
    stacked = _replica_factors(strategy)(blocks).numpy()
    return np.linalg.qr(stacked, mode="r")


def _upper_factor(a):
    return tf.linalg.qr(a)[1]


@functools.lru_cache(maxsize=8)
def _replica_factors(strategy):
    """One compiled ``blocks -> gathered R factors`` per strategy (``strategy.run`` called eagerly would
    wrap and trace its function again at every solve)."""

    @tf.function(autograph=False)
    def factors(blocks):
        per_replica = strategy.run(tf.autograph.experimental.do_not_convert(_upper_factor), args=(blocks,))
        return strategy.gather(per_replica, axis=0)

    return factors
