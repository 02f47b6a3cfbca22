"""The loss of one PINN stage over the new network's flat weights (eqs. 3.1, 3.38, 3.41-3.42, 4.2).

The stage trains ``u_k = u_{k-1} + eps_k v`` with every earlier stage frozen: their values and
derivatives at the collocation points (``frozen``), the condition points (``frozen_data``) and the
constraint points are computed once per stage, so a step costs the same at every stage. Unknown
parameters of the equation (section 4) train in the same flat vector:
``lambda = lambda_prev + eps_lambda delta`` with ``lambda_prev`` frozen and ``delta`` trained
(eqs. 4.6-4.8).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.distribute import distributed_value_and_gradients, replica_rows
from msnn_tf.optimizers import FlatParameters
from msnn_tf.pinn.analysis import derivative_requests
from msnn_tf.pinn.constraints import residual_derivative
from msnn_tf.pinn.losses import combined_loss, data_loss, equation_loss, gradient_loss
from msnn_tf.transforms import dense_layers

__all__ = ["ConstraintPoints", "OperatorPoints", "StageParameters", "StageRows", "linearize_condition", "stage_loss"]

#: ``parts`` evaluates the losses in blocks of at most this many (rows x widest layer) numbers.
PARTS_NUMBERS = 2_000_000


@dataclasses.dataclass
class StageParameters:
    """The unknown parameters of a stage: ``value = base + scale * delta`` (eq. 4.6).

    Attributes:
        base: ``{name: lambda_prev}``, frozen.
        scale: ``{name: eps_lambda}``.
        variables: ``{name: tf.Variable}`` holding ``delta`` (starts at 0), trained with the network.
    """

    base: dict
    scale: dict
    variables: dict

    def values(self, deltas) -> dict:
        """``{name: base + scale * delta}`` for ``deltas`` in the order of :attr:`variables`."""
        return {name: tf.constant(self.base[name], tf.float64) + tf.constant(self.scale[name], tf.float64) * delta
                for name, delta in zip(self.variables, deltas)}

    def current(self) -> dict:
        """``{name: float}`` with the variables' current ``delta``."""
        return {name: float(self.base[name] + self.scale[name] * float(v.numpy())) for name, v in self.variables.items()}


@dataclasses.dataclass
class ConstraintPoints:
    """A :class:`~msnn_tf.pinn.ResidualDerivative` at a stage: the derivative's multi-index, its points,
    the frozen stages' derivatives there (``{multi-index: tensor}``) and its weight: a hand-set
    ``gamma_s`` (``weight``) or, for ``"auto"``, ``gamma_s / gamma`` (``relative_weight``); ``index``: its
    place in ``problem.constraints`` (a constraint switched off at the stage has no state)."""

    order: tuple
    points: tf.Tensor
    frozen: dict
    relative_weight: float = 1.0
    weight: float | None = None
    index: int = 0

    def gamma_s(self, gamma: float) -> float:
        """``gamma_s`` of eq. (4.2) for the equation weight ``gamma``."""
        return self.weight if self.weight is not None else gamma * self.relative_weight


@dataclasses.dataclass
class OperatorPoints:
    """An operator condition (:class:`~msnn_tf.pinn.conditions.ConditionRows`) at a stage: its point sets
    as tensors, the frozen stages' partials there (``{multi-index: tensor}`` per set) and the point
    weights ``(N, 1)``."""

    rows: Any
    points: tuple
    frozen: tuple
    weights: tf.Tensor

    def mismatch(self, new_partials=None, epsilon=None, input_dim=None, axis_names=None) -> tf.Tensor:
        """The condition's mismatch ``(N, k)`` of the frozen stages plus ``epsilon`` times the new network's
        partials (one ``{key: tensor}`` per set), or of the frozen stages alone."""
        partials = []
        for i, frozen in enumerate(self.frozen):
            values = {k: frozen[k] + (0.0 if new_partials is None else epsilon * new_partials[i][k]) for k in self.rows.keys}
            partials.append(Partials(values, input_dim, axis_names))
        return self.rows.mismatch(list(self.points), partials)


def linearize_condition(state: OperatorPoints, input_dim: int, axis_names) -> tuple[np.ndarray, dict]:
    """``(mismatch (N, k), {(set, key): beta (N, k)})`` of an operator condition at the frozen stages:
    ``beta`` the derivative of each mismatch column with respect to ``d^key u`` on point set ``set``,
    row by row (the condition's linearisation, as eq. 3.17 linearises the residual)."""
    frozen = tuple({k: tf.convert_to_tensor(v) for k, v in f.items()} for f in state.frozen)
    watched = dataclasses.replace(state, frozen=frozen)
    with tf.GradientTape(persistent=True) as tape:
        for values in frozen:
            for key in state.rows.keys:
                tape.watch(values[key])
        mismatch = watched.mismatch(input_dim=input_dim, axis_names=axis_names)
        columns = [mismatch[:, j] for j in range(int(mismatch.shape[1]))]
    betas = {}
    for i, values in enumerate(frozen):
        for key in state.rows.keys:
            betas[(i, key)] = np.stack([
                tape.gradient(column, values[key], unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
                for column in columns], axis=1)
    del tape
    return mismatch.numpy(), betas


class StageRows:
    """A stage loss written as a sum of squared rows, ``loss = sum_i rows_i^2``, and the rows' Jacobian
    over the flat position: what a Levenberg-Marquardt stage (:func:`~msnn_tf.levenberg_marquardt_minimize`)
    needs. Built by :func:`stage_loss` with ``residual_rows=True``.

    The collocation rows of a point depend on that point only: each point's rows (its residual and, with
    gPINN, its gradient) are differentiated alone and ``tf.vectorized_map`` batches that over ``chunk``
    points at a time, a few reverse passes per chunk (10x faster than a vectorised Jacobian of a chunk's
    rows, which differentiates every row through every point of the chunk). The condition and
    constraint rows (few) take ``tape.jacobian``.

    Args:
        collocation_rows: ``(position, indices) -> rows`` of the collocation terms at ``indices``.
        extra_rows: ``position -> rows`` of the condition and constraint terms.
        num_points: ``() -> N``, the current number of collocation points (resampling may move them).
        size: Length of the flat position.
        jit_compile: Compile the row and Jacobian functions with XLA.
        chunk: Collocation points per Jacobian chunk.
    """

    def __init__(self, collocation_rows: Callable, extra_rows: Callable, num_points: Callable, size: int,
                 jit_compile: bool = False, chunk: int = 512):
        self.num_points = num_points
        self.size = int(size)
        self.chunk = int(chunk)

        def jacobian(function):
            def rows_and_jacobian(position, *args):
                with tf.GradientTape() as tape:
                    tape.watch(position)
                    rows = function(position, *args)
                return rows, tape.jacobian(rows, position, experimental_use_pfor=True)

            return rows_and_jacobian

        def per_point_jacobian(position, indices):
            # The rows of one point depend on that point only: each point's few rows are differentiated
            # alone (a handful of gradients), and vectorized_map batches that over the chunk's points.
            def one(index):
                local = tf.identity(position)  # the loop body's own tensor (a captured one is not watched)
                with tf.GradientTape(persistent=True) as tape:
                    tape.watch(local)
                    parts = collocation_rows(local, index[None], separate=True)
                    entries = [[part[j] for j in range(int(part.shape[0]))] for part in parts]  # taped slices
                return [(part, tf.stack([tape.gradient(e, local, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                                         for e in row])) for part, row in zip(parts, entries)]

            pieces = tf.vectorized_map(one, indices)
            # the order of collocation_rows on the whole chunk: each part over all points, in turn
            rows = tf.concat([tf.reshape(part, [-1]) for part, _ in pieces], axis=0)
            jac = tf.concat([tf.reshape(grad, [-1, self.size]) for _, grad in pieces], axis=0)
            return rows, jac

        compile_ = lambda f: tf.function(f, jit_compile=jit_compile, autograph=False, reduce_retracing=True)
        self._collocation = compile_(collocation_rows)
        self._extra = compile_(extra_rows)
        self._collocation_jacobian = compile_(per_point_jacobian)
        self._extra_jacobian = compile_(jacobian(extra_rows))

    def _chunks(self):
        total = self.num_points()
        return [tf.range(lo, min(total, lo + self.chunk)) for lo in range(0, total, self.chunk)]

    def values(self, position) -> np.ndarray:
        """The rows at ``position`` (collocation rows chunk by chunk, then the condition and constraint rows)."""
        position = tf.convert_to_tensor(position, tf.float64)
        pieces = [self._collocation(position, indices).numpy() for indices in self._chunks()]
        return np.concatenate(pieces + [self._extra(position).numpy()])

    def values_and_jacobian(self, position) -> tuple[np.ndarray, np.ndarray]:
        """``(rows (M,), Jacobian (M, size))`` at ``position``."""
        position = tf.convert_to_tensor(position, tf.float64)
        rows, jacobians = [], []
        for indices in self._chunks() + [None]:
            value, jac = self._extra_jacobian(position) if indices is None else self._collocation_jacobian(position, indices)
            rows.append(value.numpy())
            jacobians.append(jac.numpy().reshape(-1, self.size))
        return np.concatenate(rows), np.concatenate(jacobians, axis=0)


def stage_loss(analyzer, network, points, frozen, frozen_data, keys, epsilon, gamma, gamma_g, loss_scale,
               parameters: StageParameters | None = None, constraints=(), operator_points=(), strategy=None,
               jit_compile: bool = True, residual_rows: bool = False):
    """``(value_and_gradients, flat, parts)`` of a stage's loss over ``network``'s flat weights.

    Args:
        analyzer: The :class:`~msnn_tf.pinn.analysis.ResidualAnalyzer` (problem, model, residual keys).
        network: The new stage network.
        points: ``(x_c, w_c, x_d, y_d, w_d)``: collocation points and weights (``tf.Variable``\\ s that
            resampling may reassign) and condition points, values and weights (``(N, 1)`` weights).
        frozen: The frozen stages' partials at ``x_c`` per key (``tf.Variable``\\ s).
        frozen_data: The frozen stages' values at ``x_d``.
        keys: Derivative multi-indices the loss needs (one order more with gPINN).
        epsilon: The stage's prefactor.
        gamma: Equation weight of eq. (3.1); ``gamma_g`` gradient weight of eq. (3.38) (0: no gPINN term).
        gamma_g: See ``gamma``.
        loss_scale: The loss is divided by this (both terms O(1) at the stage start).
        parameters: The unknown parameters (:class:`StageParameters`), trained with the network.
        constraints: :class:`ConstraintPoints`: ``+ gamma_s L_s`` per constraint (eq. 4.2).
        operator_points: :class:`OperatorPoints` of the operator conditions: their mismatch rows join the
            value conditions' rows in ``L_d`` (one mean over every condition row).
        strategy: A ``tf.distribute.Strategy``: each replica takes a contiguous shard of the collocation
            points (``L_e`` and the gPINN term are means over them: each replica adds its rows' share),
            the first replica adds the condition and constraint terms (few points), and the parts are
            summed across replicas (:func:`~msnn_tf.distribute.distributed_value_and_gradients`).
            Resampled collocation points are sharded the same way (their count is fixed).
        jit_compile: With ``strategy``: compile each replica's part with XLA.
        residual_rows: Also return a :class:`StageRows`: the loss as a sum of squared rows, with their
            Jacobian, for a Levenberg-Marquardt stage (``strategy`` plays no part there).

    Returns:
        ``value_and_gradients(position) -> (loss, gradient)``, the
        :class:`~msnn_tf.optimizers.FlatParameters` (network weights, then the parameters' ``delta``)
        and ``parts(position) -> (L_d, L_e)``, followed with constraints by each constraint's
        unweighted mean square ``L_s``; with ``residual_rows`` a :class:`StageRows` fourth.
    """
    problem = analyzer.problem
    x_c, w_c, x_d, y_d, w_d = points
    num_weights = len(network.trainable_variables)
    extra = [] if parameters is None else list(parameters.variables.values())
    flat = FlatParameters(list(network.trainable_variables) + extra)
    non_trainable = [tf.convert_to_tensor(v) for v in network.non_trainable_variables]
    scaling = analyzer.model.input_scaling
    eps = tf.constant(epsilon, tf.float64)
    d, names = problem.domain.dim, problem.domain.axis_names
    residual_keys = analyzer.residual_keys()
    constraints = list(constraints)
    max_units = max((layer.units for layer in dense_layers(network)), default=1)

    def collocation_terms(x_c_now, frozen_now, u_new, values_p):
        """``(residual, its x-gradient or None)`` at collocation points of the frozen stages plus ``eps`` times ``u_new``."""
        new = partial_derivatives(u_new, x_c_now, derivative_requests(keys))
        values = {k: frozen_now[k] + eps * new.values[k] for k in keys}
        partials = Partials(values, d, names)
        if gamma_g > 0:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x_c_now)
                for key in residual_keys:
                    tape.watch(values[key])
                residual = problem.residual_values(x_c_now, partials, values_p)
            return residual, analyzer.residual_gradient(tape, x_c_now, residual, partials)
        return problem.residual_values(x_c_now, partials, values_p), None

    def terms(position, rows=None, indices=None, extras=True, collocation=True):
        """The loss's raw terms: ``(residual, w_c, residual gradient or None, (u_data, y_d, w_d),
        [(operator weights, mismatch)], [constraint values])`` at the collocation rows asked for
        (``extras=False``: the condition and constraint terms are ``None`` and empty;
        ``collocation=False``: the first three are ``None``)."""
        values_p = None if parameters is None else parameters.values(flat.unpack(position)[num_weights:])
        x_c_now = tf.convert_to_tensor(x_c)
        w_c_now = tf.convert_to_tensor(w_c)
        frozen_now = {k: tf.convert_to_tensor(v) for k, v in frozen.items()}
        if rows is not None:
            x_c_now, w_c_now = x_c_now[rows[0]:rows[1]], w_c_now[rows[0]:rows[1]]
            frozen_now = {k: v[rows[0]:rows[1]] for k, v in frozen_now.items()}
        if indices is not None:  # a replica's shard (static shape: compiles under XLA)
            x_c_now, w_c_now = tf.gather(x_c_now, indices), tf.gather(w_c_now, indices)
            frozen_now = {k: tf.gather(v, indices) for k, v in frozen_now.items()}

        def u_new(x):
            # Unpacked at each call, as before parameters existed: the compiled graph (and its rounding)
            # of a problem without parameters stays the one the golden runs recorded.
            output, _ = network.stateless_call(flat.unpack(position)[:num_weights], non_trainable, scaling(x))
            return output

        residual = residual_gradient = None
        if collocation:
            residual, residual_gradient = collocation_terms(x_c_now, frozen_now, u_new, values_p)
        if not extras:
            return residual, w_c_now, residual_gradient, None, [], []
        u_data = frozen_data + eps * u_new(x_d)
        mismatches = []
        for state in operator_points:
            new_partials = [partial_derivatives(u_new, x, derivative_requests(state.rows.keys)).values
                            for x in state.points]
            mismatches.append((state.weights, state.mismatch(new_partials, eps, d, names)))
        constraint_values = []
        for constraint in constraints:
            jets_new = partial_derivatives(u_new, constraint.points, derivative_requests(list(constraint.frozen)))
            jets = {k: constraint.frozen[k] + eps * jets_new.values[k] for k in constraint.frozen}
            constraint_values.append(residual_derivative(problem, constraint.points, jets, constraint.order, values_p))
        return residual, w_c_now, residual_gradient, (u_data, y_d, w_d), mismatches, constraint_values

    def losses(position, rows=None, indices=None):
        residual, w_c_now, residual_gradient, (u_data, y_data, w_data), mismatches, constraint_values = terms(
            position, rows, indices)
        gradient = tf.constant(0.0, tf.float64) if residual_gradient is None else gradient_loss(residual_gradient, w_c_now)
        data = data_loss(u_data, y_data, w_data)
        if operator_points:
            # One mean over every condition row: value rows (w (u - g)^2) and operator rows (w B[u]^2).
            count = int(y_data.shape[0]) * int(y_data.shape[1])
            total = data * count if count else tf.constant(0.0, tf.float64)
            for weights, mismatch in mismatches:
                total = total + tf.reduce_sum(weights * tf.square(mismatch))
                count += int(mismatch.shape[0]) * int(mismatch.shape[1])
            data = total / count
        constraint_terms = [tf.reduce_mean(tf.square(value)) for value in constraint_values]
        return data, equation_loss(residual, w_c_now), gradient, constraint_terms

    def value_and_gradients(position, indices=None, first=None, fraction=None):
        """The loss and its gradient; with a replica's collocation ``indices``, its share: ``fraction`` (its
        rows over all) of the collocation means, ``first`` (1 or 0) times the condition and constraint terms."""

        def times(factor, value):
            return value if factor is None else factor * value

        with tf.GradientTape() as tape:
            tape.watch(position)
            data, equation, gradient, constraint_terms = losses(position, indices=indices)
            loss = combined_loss(times(first, data), times(fraction, equation), gamma, times(fraction, gradient), gamma_g)
            for constraint, term in zip(constraints, constraint_terms):
                loss = loss + times(first, constraint.gamma_s(gamma) * term)
            loss = loss / loss_scale
        return loss, tape.gradient(loss, position)


    def parts(position):
        # Eagerly, in blocks of collocation rows: nested tapes keep (rows x width) numbers per
        # intermediate, which for a wide solved stage (2000 units at 12000 points) took over 14 GB at once.
        total = int(tf.convert_to_tensor(x_c).shape[0])
        rows = max(256, PARTS_NUMBERS // max(1, max_units))
        if total <= rows:
            data, equation, _, constraint_terms = losses(position)
            return (data, equation, *constraint_terms)
        sums = []
        for lo in range(0, total, rows):
            hi = min(total, lo + rows)
            data, equation, _, constraint_terms = losses(position, (lo, hi))
            sums.append(equation * (hi - lo))
        return (data, tf.add_n(sums) / total, *constraint_terms)

    def collocation_rows(position, indices, separate=False):
        """Rows of the collocation terms at ``indices``: ``sqrt(gamma w / (N k)) r`` and, with gPINN,
        ``sqrt(gamma gamma_g w / N) d r / dx`` (``N`` all collocation points), over ``sqrt(loss_scale)``
        (``separate``: the two parts as a list, not concatenated)."""
        residual, w_c_now, residual_gradient, _, _, _ = terms(position, indices=indices, extras=False)
        total = tf.cast(tf.shape(tf.convert_to_tensor(x_c))[0], tf.float64)
        root_w = tf.sqrt(w_c_now) / math.sqrt(loss_scale)
        parts_ = [tf.reshape(tf.sqrt(gamma / (total * int(residual.shape[1]))) * root_w * residual, [-1])]
        if residual_gradient is not None:
            parts_.append(tf.reshape(tf.sqrt(gamma * gamma_g / total) * root_w * residual_gradient, [-1]))
        return parts_ if separate else tf.concat(parts_, axis=0)

    def extra_rows(position):
        """Rows of the condition terms (``sqrt((1 - gamma) w / count)`` times each mismatch) and of each
        constraint (``sqrt(gamma_s / size)`` times ``D^n r``), over ``sqrt(loss_scale)``."""
        _, _, _, (u_data, y_data, w_data), mismatches, constraint_values = terms(position, collocation=False)
        pieces = [(w_data, u_data - y_data)] + list(mismatches)
        count = sum(int(m.shape[0]) * int(m.shape[1]) for _, m in pieces)
        parts_ = []
        if count:
            factor = math.sqrt((1.0 - gamma) / count)
            parts_ += [tf.reshape(factor * tf.sqrt(w) * m, [-1]) for w, m in pieces]
        for constraint, value in zip(constraints, constraint_values):
            size = int(value.shape[0]) * int(value.shape[1])
            parts_.append(tf.reshape(math.sqrt(constraint.gamma_s(gamma) / size) * value, [-1]))
        if not parts_:
            return tf.zeros([0], tf.float64)
        return tf.concat(parts_, axis=0) / math.sqrt(loss_scale)

    def rows_fn():
        # Plain graphs: XLA made the per-point Jacobian no faster (0.047 s against 0.040 s for 2000 rows
        # of a width-20 network) and took minutes to compile the 4th-order constraint rows.
        return StageRows(collocation_rows, extra_rows, lambda: int(tf.convert_to_tensor(x_c).shape[0]), flat.size,
                         jit_compile=False)

    if strategy is not None:
        total = int(tf.convert_to_tensor(x_c).shape[0])
        ranges = replica_rows(total, strategy.num_replicas_in_sync)
        if any(hi == lo for lo, hi in ranges):
            raise ValueError(f"`strategy` has {len(ranges)} replicas for {total} collocation points: each needs one at least")
        shards = [(tf.range(lo, hi), tf.constant(float(i == 0), tf.float64), tf.constant((hi - lo) / total, tf.float64))
                  for i, (lo, hi) in enumerate(ranges)]
        result = distributed_value_and_gradients(strategy, value_and_gradients, shards, jit_compile), flat, parts
    else:
        result = value_and_gradients, flat, parts
    return result + (rows_fn(),) if residual_rows else result
