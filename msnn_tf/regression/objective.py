"""The regression objective of the stage engine (Algorithm 1): data residues and the loss of eq. (2.1).

Stage 0 fits the normalised data; stage ``j >= 1`` fits the residue ``e_j`` of the current model
divided by its RMS ``eps_j`` (eq. 2.3), with a first layer set from the residue's dominant frequency
or spectrum, and is added with prefactor ``eps_j`` (eq. 2.5). A stage is kept when it lowers the RMS
error on the training data (and on the validation data, when given).
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.distribute import distributed_value_and_gradients, replica_rows
from msnn_tf.engine import (LeastSquaresCandidate, StageObjective, StageOutcome, StagePlan, first_layer_start,
                            kappa_hat_of, select_least_squares, train_adam_lbfgs)
from msnn_tf.least_squares import feature_network, network_values, solve_output_layer
from msnn_tf.networks import build_stage_network
from msnn_tf.optimizers import FlatParameters
from msnn_tf.reporting import StageReport
from msnn_tf.staged_model import StagedModel
from msnn_tf.validation import positive_int
from msnn_tf.weighting import boundary_weights

__all__ = ["Errors", "MAX_FEATURES_1D", "RegressionObjective", "mse_objective"]

#: Features of a 1-D least-squares stage at most. One-dimensional sin features with frequencies up to a
#: few ``f_d`` span few directions: the numerical rank of the best candidate was 662 of 1250 features
#: (5000 samples of ``sin(2x + 1) + 0.2 exp(1.3x)``) and 1603 of 4000 (``log(x + 2) cos(2x + x^3)``,
#: 16000 points, 24 s per candidate), and both stages reached round-off (2e-16, 3.6e-16). The solve
#: costs ``N M^2``: 1024 features on 4096 points cost 1/60 of 4000 on 16000.
MAX_FEATURES_1D = 1024


#: Rows above which :func:`mse_objective` evaluates the loss in blocks (see ``block_rows`` there).
BLOCKED_LOSS_ROWS = 32768


def mse_objective(network: keras.Model, x_scaled, target, weights=None, block_rows: int | None = None,
                  strategy=None, jit_compile: bool = True):
    """The loss of eq. (2.1), optionally weighted, as a function of the network's flat trainable weights.

    ``L(p) = mean_i w_i (network(x_i; p) - target_i)^2``, computed in the network's dtype; the inputs
    must already be scaled to ``[-1, 1]``. Use it with :func:`~msnn_tf.adam_minimize` and
    :func:`~msnn_tf.lbfgs_minimize`, then ``flat.assign(results.position)``.

    Args:
        network: A Keras model (e.g. from :func:`~msnn_tf.build_stage_network`).
        x_scaled: Inputs ``(N, d)``.
        target: Targets ``(N, outputs)``.
        weights: Optional per-point weights ``(N, 1)`` (e.g. :func:`boundary_weights`).
        block_rows: Evaluate the loss and its gradient over blocks of this many rows, summed in a
            loop inside the compiled function, so that the intermediates of one block only are alive
            (memory bounded by the block, not by ``N``) and stay in cache. ``None``: one block up to
            :data:`BLOCKED_LOSS_ROWS` rows, blocks of 8192 rows above (measured per evaluation of a
            3x20 network, 1e5 points: 48 ms at once; see ``tools/bench_scaling.py``). The sums differ
            from the one-block loss at round-off only.
        strategy: A ``tf.distribute.Strategy``: each replica takes a contiguous shard of the rows and
            computes its part of the loss and gradient, summed across replicas
            (:func:`~msnn_tf.distribute.distributed_value_and_gradients`; ``block_rows`` is then unused).
        jit_compile: With ``strategy``: compile each replica's part with XLA.

    Returns:
        ``(value_and_gradients, flat)``: a function of a flat position returning ``(loss, gradient)``
        (usable inside ``tf.function``), and the :class:`~msnn_tf.optimizers.FlatParameters` of the
        network's trainable variables (``flat.pack()`` is the starting position).
    """
    dtype = network.trainable_variables[0].dtype if network.trainable_variables else tf.float64
    flat = FlatParameters(network.trainable_variables)
    non_trainable = [tf.convert_to_tensor(v) for v in network.non_trainable_variables]
    x_scaled = tf.cast(tf.convert_to_tensor(x_scaled), dtype)
    target = tf.cast(tf.convert_to_tensor(target), dtype)
    weights = None if weights is None else tf.cast(tf.convert_to_tensor(weights), dtype)
    rows = int(x_scaled.shape[0])
    values = rows * int(target.shape[1])  # the loss is a mean over rows and outputs
    point_weights = tf.ones((rows, 1), dtype) if weights is None else weights

    def weighted_sum(position, x_part, target_part, weight_part):
        """``sum(weight_part (network(x_part) - target_part)^2)`` and its gradient: a share of the loss
        (a block's or a replica's) when the weights are the point weights divided by ``values``."""
        with tf.GradientTape() as tape:
            tape.watch(position)
            output, _ = network.stateless_call(flat.unpack(position), non_trainable, x_part)
            part = tf.reduce_sum(weight_part * tf.square(output - target_part))
        return part, tape.gradient(part, position)

    if strategy is not None:
        shards = [(x_scaled[lo:hi], target[lo:hi], point_weights[lo:hi] / values)
                  for lo, hi in replica_rows(rows, strategy.num_replicas_in_sync)]
        return distributed_value_and_gradients(strategy, weighted_sum, shards, jit_compile), flat
    if block_rows is None:
        block_rows = rows if rows <= BLOCKED_LOSS_ROWS else 8192
    block_rows = positive_int("block_rows", block_rows)

    if block_rows >= rows:
        def value_and_gradients(position):
            with tf.GradientTape() as tape:
                tape.watch(position)
                output, _ = network.stateless_call(flat.unpack(position), non_trainable, x_scaled)
                squared = tf.square(output - target)
                loss = tf.reduce_mean(squared if weights is None else weights * squared)
            return loss, tape.gradient(loss, position)

        return value_and_gradients, flat

    # Blocks of equal size: the last one padded with weight-0 rows.
    count = -(-rows // block_rows)
    pad = count * block_rows - rows
    x_blocks = tf.reshape(tf.concat([x_scaled, tf.repeat(x_scaled[-1:], pad, axis=0)], 0), (count, block_rows, -1))
    t_blocks = tf.reshape(tf.concat([target, tf.repeat(target[-1:], pad, axis=0)], 0), (count, block_rows, -1))
    w_blocks = tf.reshape(tf.concat([point_weights, tf.zeros((pad, 1), dtype)], 0), (count, block_rows, 1)) / values

    def value_and_gradients(position):
        def body(i, loss, gradient):
            part, part_gradient = weighted_sum(position, x_blocks[i], t_blocks[i], w_blocks[i])
            return i + 1, loss + part, gradient + part_gradient

        _, loss, gradient = tf.while_loop(lambda i, *_: i < count, body,
                                          (tf.constant(0), tf.constant(0.0, dtype), tf.zeros_like(position)))
        return loss, gradient

    return value_and_gradients, flat


@dataclasses.dataclass(frozen=True)
class Errors:
    """RMS and max-abs error of the model on the training data and, when given, the validation data
    (data units; ``inf`` before the first stage, validation ``None`` without validation data)."""

    train_rms: float
    train_max: float
    validation_rms: float | None = None
    validation_max: float | None = None


@dataclasses.dataclass
class _StageData:
    """The data and loss of the stage being solved (runtime state, not part of the plan)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_scaled: tf.Tensor
    target: np.ndarray
    weights: np.ndarray | None
    network: keras.Model | None
    refinement: int


class RegressionObjective(StageObjective):
    """Fits data ``(x, y)`` or a callable target (a :class:`~msnn_tf.regression.data.DataSource`).

    Args:
        settings: The :class:`~msnn_tf.engine.RegressionSettings`.
        data: The data source.
        validation: Optional checked ``(x_val, y_val)``.
        target_rms: Stop once the RMS error (validation data if given) is at or below this.
        initial_model: A :class:`~msnn_tf.StagedModel` whose stages are kept and continued (resume).
        strategy: A ``tf.distribute.Strategy`` over whose replicas the data are split (:mod:`msnn_tf.distribute`).
    """

    def __init__(self, settings, data, validation=None, target_rms: float | None = None, initial_model=None,
                 strategy=None):
        self.settings = settings
        self.strategy = strategy
        self.data = data
        self.validation = validation
        self.target_rms = target_rms
        self.current = data.sample(None)
        if initial_model is not None:
            # Continue its stages: its input box and output normalisation stay those it was trained with.
            self.mean, self.scale = float(initial_model.output_offset[0]), float(initial_model.output_scale[0])
            self.model = initial_model
        else:
            mean, scale = 0.0, 1.0
            if settings.normalize:
                mean = float(np.mean(self.current[1]))
                scale = float(np.std(self.current[1])) or 1.0
            self.mean, self.scale = mean, scale
            self.model = StagedModel(data.input_dim, lower=data.lower, upper=data.upper, output_offset=mean,
                                     output_scale=scale, dtype=settings.dtype)
        self.work: _StageData | None = None

    def title(self, num_stages: int) -> str:
        return f"MultiStageRegressor: {num_stages} stage(s), {self.current[0].shape[0]} points, d={self.data.input_dim}"

    # ------------------------------------------------------------------ planning
    def residue(self, x, y) -> np.ndarray:
        """Residue ``(y - u)`` of the current model in normalised output units, shape ``(N,)``."""
        return ((y - self.model.predict(x)) / self.scale)[:, 0]

    def stage_solver(self, x_train) -> str:
        """The solver of stages >= 1: ``stage_solver``, with ``"auto"`` resolved by the data. In
        ``d >= 2``: least squares when the loss can have four points per feature (a callable target, a
        grid to refine, or enough scattered points). In 1-D: least squares when the data allow at least
        ``min_least_squares_features`` features at four points each (a callable target always), else
        Adam then L-BFGS."""
        s, data = self.settings, self.data
        if s.stage_solver != "auto":
            return s.stage_solver
        if data.input_dim < 2:
            enough = min(s.least_squares_width, x_train.shape[0] // 4) >= s.min_least_squares_features
            return "least_squares" if data.is_function or enough else "adam_lbfgs"
        refinable = data.grid is not None and s.grid_refinement > 1 and data.refinement_factor(2, s.max_points) > 1
        enough = x_train.shape[0] >= 4 * s.least_squares_width
        return "least_squares" if data.is_function or refinable or enough else "adam_lbfgs"

    def _stage_points(self, stage, frequencies, wanted_loss_points):
        """A callable target's grid for the stage: hand-set, or eq. (2.10) for ``frequencies`` and room
        for ``wanted_loss_points``; returns whether it changed."""
        s, data, d = self.settings, self.data, self.data.input_dim
        cap = max(4, int(s.max_points ** (1.0 / d) + 1e-9))
        if data.schedule is not None:  # hand-set points per stage
            wanted = data.schedule[min(stage, len(data.schedule) - 1)]
        else:  # eq. (2.10), capped
            needed = [min(cap, spectral.min_points_for_frequency(f, s.points_safety)) for f in frequencies]
            needed.append(min(cap, math.ceil(wanted_loss_points ** (1.0 / d) - 1e-9)))
            wanted = max(max(needed), data.points_per_axis)
        if wanted == data.points_per_axis:
            return False
        self.current = data.sample(wanted)
        return True

    def _grid_refinement(self, points_per_axis, wanted_loss_points):
        """``(refinement, loss points per axis)`` of a stage >= 1 on gridded data in d >= 2."""
        s, data = self.settings, self.data
        if data.input_dim < 2 or s.grid_refinement <= 1:
            return 1, points_per_axis
        factor = s.grid_refinement
        while data.grid is not None and data.refined_size(factor) < wanted_loss_points:
            factor += 1
        refinement = data.refinement_factor(factor, s.max_points)
        return refinement, refinement * (points_per_axis - 1) + 1

    def plan_stage(self, stage: int) -> StagePlan:
        s, data, d = self.settings, self.data, self.data.input_dim
        width, depth = int(s.value("width", stage)), int(s.value("depth", stage))
        solver, refinement, frequencies_of_layer, residue = "adam_lbfgs", 1, None, None
        if stage == 0:
            epsilon, frequencies = 1.0, np.zeros(d)
            activation, kappa = s.first_stage_activation, s.first_stage_kappa
        else:
            x_train, y_train = self.current
            residue = self.residue(x_train, y_train)
            scaled = self.model.scale_inputs(x_train).numpy()
            frequencies = spectral.dominant_frequencies(scaled, residue)
            solver = self.stage_solver(x_train)
            # A least-squares stage wants four loss points per feature (fewer features if it cannot have
            # them), and no more features than data points: refined points are interpolated data, not
            # new information.
            max_features = s.least_squares_width if data.is_function else min(s.least_squares_width, x_train.shape[0])
            if d == 1:
                max_features = min(max_features, MAX_FEATURES_1D)
            wanted_loss_points = 4 * max_features if solver == "least_squares" else 0
            if data.is_function and self._stage_points(stage, frequencies, wanted_loss_points):
                residue = self.residue(*self.current)
                scaled = self.model.scale_inputs(self.current[0]).numpy()
            x_train = self.current[0]
            epsilon, activation, kappa = spectral.rms(residue), "sin", None
            points_per_axis = data.points_per_axis if data.is_function else int(round(x_train.shape[0] ** (1.0 / d)))
            refinement, loss_points_per_axis = self._grid_refinement(points_per_axis, wanted_loss_points)
            if solver == "least_squares":
                # At most a quarter as many features as loss points, so that it cannot interpolate the data.
                num_loss_points = data.refined_size(refinement) if refinement > 1 else x_train.shape[0]
                width, depth = max(1, min(max_features, num_loss_points // 4)), 1
            else:
                kappa, frequencies_of_layer = first_layer_start(s, stage, scaled, residue, float(np.max(frequencies)),
                                                                loss_points_per_axis, width)
            # The user's warning filters apply (each stage's message differs, so each shows once).
            spectral.check_data_density(points_per_axis, float(np.max(frequencies)), stacklevel=5)
        network = kappa_hat = None
        if solver == "adam_lbfgs":
            network = build_stage_network(
                d, width=width, depth=depth, kappa=kappa, first_activation=activation,
                bias_initializer="zeros" if activation == "tanh" else s.sin_bias_initializer, seed=s.stage_seed(stage),
                name=f"stage_{stage}", first_layer_frequencies=frequencies_of_layer, dtype=s.dtype)
            kappa_hat = kappa_hat_of(network, frequencies_of_layer)
        notes = self._prepare_loss(stage, epsilon, residue, network, refinement)
        x_count = self.current[0].shape[0]
        fd = np.array2string(frequencies, precision=2)
        summary = (f"stage {stage}: epsilon {epsilon:.3e}, f_d {fd}, least squares over {width} sin features, {x_count} points"
                   if solver == "least_squares" else
                   f"stage {stage}: epsilon {epsilon:.3e}, f_d {fd}, kappa_hat {kappa_hat:.2f} ({activation}), "
                   f"{width}x{depth}, {x_count} points")
        return StagePlan(
            stage=stage, solver=solver, epsilon=float(epsilon), dominant_frequency=tuple(float(f) for f in frequencies),
            kappa=None if kappa is None else float(kappa), kappa_hat=kappa_hat, first_activation=activation,
            width=width, depth=depth, adam_steps=0 if solver == "least_squares" else int(s.value("adam_steps", stage)),
            lbfgs_iterations=0 if solver == "least_squares" else int(s.value("lbfgs_iterations", stage)),
            learning_rate=float(s.value("learning_rate", stage)), seed=s.stage_seed(stage), num_points=int(x_count),
            summary=summary, notes=notes, extras={"grid_refinement": int(refinement)})

    def _prepare_loss(self, stage, epsilon, residue, network, refinement) -> tuple[str, ...]:
        """The stage's loss points, targets and weights (kept in :attr:`work`); returns progress notes."""
        s, data = self.settings, self.data
        x_train, y_train = self.current
        x_loss, notes = x_train, ()
        target = (y_train - self.mean) / self.scale if stage == 0 else residue[:, None] / epsilon
        if data.input_dim == 1 and s.end_refinement_cells > 0:
            x_end, y_end = data.end_points(x_train, y_train, s.end_refinement_cells)
            end_target = (y_end - self.mean) / self.scale if stage == 0 else self.residue(x_end, y_end)[:, None] / epsilon
            x_loss, target = np.concatenate([x_train, x_end]), np.concatenate([target, end_target])
        elif refinement > 1:
            x_loss, y_loss = data.refined(refinement, s.refinement_order)
            target = self.residue(x_loss, y_loss)[:, None] / epsilon
            notes = (f"stage {stage}: loss on the data grid refined {refinement}x per axis ({x_loss.shape[0]} points, "
                     "values interpolated)",)
        x_scaled = self.model.scale_inputs(x_loss)
        weights = boundary_weights(x_scaled.numpy()) if s.loss_weighting == "chebyshev" else None
        self.work = _StageData(x_train, y_train, x_scaled, target, weights, network, refinement)
        return notes

    # ------------------------------------------------------------------ solving
    def solve_stage(self, plan, hooks, stage_start) -> StageOutcome:
        work = self.work
        if plan.solver == "least_squares":
            choice, rejection = self._least_squares(plan, hooks)
            solved = choice.candidate.result
            failure = choice.failure or (f"least squares: {solved.message}" if solved.failed else None)
            return StageOutcome(choice.candidate.network, failure, rejection,
                                {"least_squares": solved, "adam_wall_time": time.perf_counter() - stage_start})
        value_and_gradients, flat = mse_objective(work.network, work.x_scaled, work.target, work.weights,
                                                  strategy=self.strategy, jit_compile=self.settings.jit_compile)
        trained = train_adam_lbfgs(value_and_gradients, flat.pack(), adam_steps=plan.adam_steps,
                                   lbfgs_iterations=plan.lbfgs_iterations, learning_rate=plan.learning_rate,
                                   settings=self.settings, hooks=hooks, stage_start=stage_start,
                                   loops_compiled=self.strategy is None,
                                   min_block_gain=self.settings.block_gain(
                                       self.stage_solver(self.current[0]) == "least_squares"))
        flat.assign(trained.position)
        return StageOutcome(work.network, trained.failure, None, {"trained": trained})

    def _least_squares(self, plan, hooks):
        """A least-squares stage: the candidates of :func:`~msnn_tf.engine.select_least_squares`, each
        a sin network whose output layer is solved on the loss points it is given; returns
        ``(choice, rejection)`` with a rejection when the best held-out RMS is no lower than that of
        the target itself (the stage would fit round-off)."""
        work, s = self.work, self.settings
        x_scaled, target, weights = work.x_scaled.numpy(), work.target, work.weights
        sqrt_w = np.ones(x_scaled.shape[0]) if weights is None else np.sqrt(np.asarray(weights).reshape(-1))
        frequency = float(np.max(plan.dominant_frequency))

        def solve(factor, fit):
            network = feature_network(x_scaled.shape[1], plan.width, frequency, factor, plan.seed,
                                      f"stage_{plan.stage}", s.dtype)
            solved = solve_output_layer(network, x_scaled[fit], target[fit], None if weights is None else weights[fit],
                                        strategy=self.strategy)
            held_out = math.nan
            if not fit.all() and not solved.failed:
                error = target[~fit, 0] - network_values(network, x_scaled[~fit])[:, 0]
                held_out = float(np.sqrt(np.mean((sqrt_w[~fit] * error) ** 2)))
            message = (f"least squares, {plan.width} sin features, kappa_hat {network.layers[0].kappa_hat:.2f}: "
                       f"loss {solved.loss:.3e}" + ("" if fit.all() else f", held-out RMS {held_out:.3e}")
                       + f", rank {solved.rank}")
            return LeastSquaresCandidate(network, solved.loss if fit.all() else held_out, solved.failed, message, solved)

        choice = select_least_squares(s.least_squares_kappa_factors, solve, x_scaled.shape[0], plan.seed, hooks)
        rejection = None
        if choice.failure is None and not choice.fit.all():
            held = ~choice.fit
            baseline = float(np.sqrt(np.mean((sqrt_w[held] * target[held, 0]) ** 2)))
            if not choice.candidate.score < baseline:
                rejection = (f"no improvement on the held-out loss points (RMS {choice.candidate.score:.3e} vs "
                             f"{baseline:.3e} without the stage), stage discarded")
        return choice, rejection

    # ------------------------------------------------------------------ measuring and reporting
    def measure(self, plan) -> Errors:
        if self.model.num_stages == 0:
            return Errors(math.inf, math.inf)
        train = _errors(self.model, self.work.x_train, self.work.y_train)
        validation = (None, None) if self.validation is None else _errors(self.model, *self.validation)
        return Errors(*train, *validation)

    def rejection(self, plan, before: Errors, after: Errors) -> str | None:
        if not after.train_rms < before.train_rms:
            return f"no improvement (train RMS {after.train_rms:.3e} vs {before.train_rms:.3e}), stage discarded"
        if plan.stage > 0 and after.validation_rms is not None and not after.validation_rms < before.validation_rms:
            return (f"no improvement on the validation data (RMS {after.validation_rms:.3e} vs "
                    f"{before.validation_rms:.3e}; train RMS {after.train_rms:.3e}: it fitted the samples, not the "
                    "function), stage discarded")
        return None

    def report(self, plan, outcome, after: Errors, accepted, message, wall_time) -> StageReport:
        trained = outcome.details.get("trained")
        adam = None if trained is None else trained.adam
        lbfgs = None if trained is None else trained.lbfgs
        if trained is None:
            layer = outcome.network.layers[0]
            kappa, kappa_hat = layer.kappa, layer.kappa_hat
            adam_wall_time, final_loss = outcome.details["adam_wall_time"], outcome.details["least_squares"].loss
        else:
            kappa, kappa_hat = plan.kappa, plan.kappa_hat
            adam_wall_time, final_loss = trained.adam_wall_time, trained.objective_value
        empty, empty_int = np.zeros(0), np.zeros(0, int)
        return StageReport(
            stage=plan.stage, epsilon=plan.epsilon, dominant_frequency=plan.dominant_frequency, kappa=float(kappa),
            kappa_hat=float(kappa_hat), first_activation=plan.first_activation, width=plan.width, depth=plan.depth,
            num_points=plan.num_points, adam_steps=0 if adam is None else adam.num_steps,
            lbfgs_iterations=0 if lbfgs is None else lbfgs.num_iterations,
            adam_losses=empty if adam is None else adam.losses,
            adam_block_steps=empty_int if adam is None else adam.block_steps,
            adam_times=empty if adam is None else adam_wall_time - adam.wall_time + adam.times,
            adam_wall_time=adam_wall_time,
            lbfgs_iterations_history=empty_int if lbfgs is None else lbfgs.iterations,
            lbfgs_losses=empty if lbfgs is None else lbfgs.losses, lbfgs_times=empty if lbfgs is None else lbfgs.times,
            final_loss=float(final_loss), train_rms=float(after.train_rms), train_max=float(after.train_max),
            validation_rms=after.validation_rms if self.model.num_stages else None,
            validation_max=after.validation_max if self.model.num_stages else None, wall_time=wall_time,
            accepted=accepted, message=message, grid_refinement=plan.extras["grid_refinement"])

    def roundoff_level(self) -> float:
        """The RMS error at which the data's own rounding is reached: ``4 eps max|y|`` (``eps`` of the
        model's dtype); a further stage could only fit round-off."""
        return 4.0 * float(np.finfo(self.settings.dtype).eps) * float(np.max(np.abs(self.current[1])))

    def stop_reason(self, report) -> str | None:
        reached = report.validation_rms if report.validation_rms is not None else report.train_rms
        if self.target_rms is not None and reached <= self.target_rms:
            return f"target_rms {self.target_rms:.3e} reached after stage {report.stage}"
        level = self.roundoff_level()
        if report.train_rms <= level:
            return (f"round-off reached after stage {report.stage} (train RMS {report.train_rms:.3e} <= 4 eps max|y| = "
                    f"{level:.3e})")
        return None


def _errors(model: StagedModel, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    error = y - model.predict(x)
    return spectral.rms(error), float(np.max(np.abs(error)))
