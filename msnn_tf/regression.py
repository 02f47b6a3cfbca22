"""MultiStageRegressor: Algorithm 1 of the paper (multi-stage regression), automatic end to end."""

from __future__ import annotations

import functools
import math
import time
import warnings
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.least_squares import feature_network, held_out_mask, network_values, solve_output_layer
from msnn_tf.interpolation import end_points, end_positions, grid_axes, refine_grid
from msnn_tf.networks import build_stage_network
from msnn_tf.optimizers import FlatParameters, adam_minimize, lbfgs_minimize
from msnn_tf.reporting import ProgressPrinter, StageReport, TrainingHistory
from msnn_tf.staged_model import StagedModel
from msnn_tf.validation import (as_float64_matrix, check_float_dtype, non_negative_int, per_stage, positive_finites,
                                positive_int)
from msnn_tf.weighting import boundary_weights

__all__ = ["MultiStageRegressor", "mse_objective"]


class MultiStageRegressor:
    """Multi-stage regression to machine precision (paper, Algorithm 1, section 2.3).

    Stage 0 fits the normalised data with a tanh network; every later stage ``j`` computes the
    residue ``e_j`` of the current model, its RMS ``eps_j`` (eq. 2.3) and dominant frequency ``f_d``
    (FFT), builds a network whose first layer is ``sin(kappa (x W) + b)`` with ``kappa`` from eq. (2.9),
    fits ``e_j / eps_j`` with Adam then L-BFGS while every earlier stage stays frozen, and adds it with
    prefactor ``eps_j`` (eq. 2.5).

    Settings that may differ per stage (``width``, ``depth``, ``adam_steps``, ``learning_rate``,
    ``lbfgs_iterations``)
    accept a scalar or a sequence indexed by stage (its last entry repeats).

    Args:
        width: Units per hidden layer.
        depth: Hidden layers per stage network.
        adam_steps: Adam steps per stage before L-BFGS.
        learning_rate: Adam's initial learning rate.
        decay_rate: Adam's learning rate is multiplied by this every ``decay_steps`` steps.
        decay_steps: See ``decay_rate``.
        lbfgs_iterations: L-BFGS iteration cap per stage (it also stops when it can make no progress).
        num_correction_pairs: L-BFGS memory.
        first_layer_init: How stages >= 1 start their ``sin`` layer. ``"spectrum"`` (default): the
            first-layer frequencies are drawn from the residue's amplitude spectrum and ``kappa = 1``
            (see :func:`~msnn_tf.spectral.sample_spectrum_frequencies`); ``"xavier"``: the paper's
            setting, Xavier-normal weights with ``kappa`` from eq. (2.9) and ``kappa_factor``.
        loss_weighting: ``"chebyshev"`` (default) weights each point of the mean squared error by
            ``prod_i (1 - h_i^2 + delta)^(-1/2)`` over the scaled coordinates ``h_i`` (normalised to
            mean 1, ``delta`` one grid spacing): the Chebyshev weight of near-minimax least squares,
            which stops each stage from leaving its largest error in the last few points next to the
            domain boundary (data beyond it cannot be had). ``"uniform"``: plain MSE, eq. (2.1).
        end_refinement_cells: For 1-D data, every stage's loss also covers points inside the first and
            last this many data intervals (midpoints, quarter points in the 8 last intervals, eighth
            points in the 2 last), with values from a local degree-7 polynomial through the 8 nearest
            samples (:func:`msnn_tf.interpolation.end_points`; a callable target is evaluated there
            instead). Next to an end of the data a stage can otherwise leave a wiggle
            a few cells long that passes through every sample (on 5000 samples of
            ``log(x + 2) cos(2x + x^3)``: 4e-11 in the last cells, 1e-14 inside). It assumes data of a
            smooth function, resolved at their spacing (the interpolation is exact to round-off there);
            residues, epsilon, spectra and reported errors use the data alone. 0 turns it off.
        grid_refinement: For fixed data on a full tensor-product grid in ``d >= 2`` (every combination of
            the axes' coordinates, e.g. from ``np.meshgrid``, at least 8 per axis), the loss of every
            stage >= 1 covers the grid refined this many times per axis (fewer if the refined grid
            would exceed ``max_points``), with values from tensor-product local interpolation of the
            data through ``refinement_order`` samples per axis
            (:func:`msnn_tf.interpolation.refine_grid`); the data's points keep their values. A stage
            fitted to the data alone passes through the samples with larger errors between them (2-D
            target of Fig. 6 on a 71^2 grid, 3 trained stages: 3.7e-7 between the samples against
            8.0e-8 with refinement 2).
            It assumes data of a smooth function resolved at their spacing; residues, epsilon, spectra
            and reported errors use the data alone. 1 turns it off. Scattered data are not refined.
        refinement_order: Samples per axis of the local polynomial of grid refinement (degree
            ``refinement_order - 1``; at most the points of the shortest axis). Its error bounds what a
            stage can learn from the refined grid: on the 2-D target of Fig. 6, refined 2x, 1.8e-11 RMS
            at order 8 and 3.5e-15 at order 12 from 71^2 samples (9.0e-13 and 3.1e-16 from 101^2,
            2.3e-13 at order 12 from 51^2); order 14 adds round-off (1.6e-15 from 71^2).
        stage_solver: How stages >= 1 are fitted. ``"adam_lbfgs"``: the paper's, a ``width`` x ``depth``
            network trained by Adam then L-BFGS. ``"least_squares"``: a network with one hidden ``sin``
            layer of ``least_squares_width`` units, Xavier-normal weights and ``kappa`` from eq. (2.9),
            whose linear output layer is solved by (weighted) linear least squares to round-off
            (:func:`msnn_tf.least_squares.solve_output_layer`); no gradient steps. ``"auto"``
            (default): least squares in ``d >= 2`` when the loss can have four points per feature (a
            callable target, which is then sampled that densely; grid data, whose refinement is then
            raised; or that many scattered points), else Adam then L-BFGS. In 2-D a trained stage of a
            few thousand weights fits the broadband residue of the stage before only to ~0.3 of its RMS;
            4000 solved features took the 2-D target of Fig. 6 on a 71^2 grid from 3.2e-5 after stage
            0 to 4.5e-15 in one stage. In 1-D, trained stages reach 1e-15 (Fig. 5) and stay the default.
        least_squares_width: Features of a least-squares stage; at most a quarter of the stage's loss
            points and, for fixed data, at most the number of data points are used (so that the stage
            cannot interpolate the samples). Least-squares stages always start their biases at random
            phases (``sin_bias_initializer`` applies to trained stages).
        least_squares_kappa_factors: Candidates for ``kappa_hat / (pi f_d)`` of a least-squares stage (the
            features' frequencies then have a standard deviation of half the factor times ``f_d`` per
            axis). With several, each is solved on 7/8 of the loss points and the one with the lowest
            RMS on the other 1/8 is kept. The best factor grows with the number of features (measured
            on 2-D residues with f_d ~1.3-1.8: 3 for 1000 features, 8 for 4000); one too large fails
            sharply (6 with 1000 features fitted nothing), one too small gently.
        kappa_factor: ``kappa_hat / (pi f_d)`` for stages >= 1 with ``first_layer_init="xavier"``
            (eq. 2.9 asks for > 1).
        first_stage_kappa: ``kappa`` of stage 0's first layer (1: regular initialisation; the modified
            scale factor of eq. 2.8 is ``first_stage_kappa * sqrt(2 / (d + width))``).
        first_stage_activation: ``"tanh"`` (Algorithm 1, step 2) or ``"sin"`` for stage 0's first layer
            (with ``first_stage_kappa``, the single-network settings of Figs. 3-4).
        sin_bias_initializer: ``"phase"`` (uniform in [-pi, pi]) or ``"zeros"`` for sin layers.
        points_safety: With a function target, each stage samples at least
            ``points_safety * 6 pi f_d`` points per axis (eq. 2.10).
        max_points: Cap of that growth in total points (per axis: ``max_points ** (1 / d)``), so
            that a 2-D or 3-D grid cannot outgrow memory; also the cap of ``grid_refinement``.
        normalize: Normalise the outputs by their mean and standard deviation (Algorithm 1, step 1;
            Appendix B shows what happens without). Inputs are always mapped to ``[-1, 1]``.
        dtype: ``"float64"`` (default: machine precision is ~1e-16) or ``"float32"`` (~1e-7, Fig. 1).
        seed: Seed of stage ``j``'s initialisers is ``seed + 1000 j``.
        jit_compile: Compile the optimizers with XLA.
        verbose: 0 silent, 1 progress lines and a table.
    """

    def __init__(
        self,
        width: int | Sequence[int] = (20, 50),
        depth: int | Sequence[int] = 3,
        adam_steps: int | Sequence[int] = (3000, 1000),
        learning_rate: float | Sequence[float] = 2e-3,
        decay_rate: float = 0.5,
        decay_steps: float = 1000.0,
        lbfgs_iterations: int | Sequence[int] = (20000, 8000),
        num_correction_pairs: int = 50,
        first_layer_init: str = "spectrum",
        loss_weighting: str = "chebyshev",
        end_refinement_cells: int = 64,
        grid_refinement: int = 2,
        refinement_order: int = 12,
        stage_solver: str = "auto",
        least_squares_width: int = 4000,
        least_squares_kappa_factors: float | Sequence[float] = (3.0, 5.0, 8.0),
        kappa_factor: float = 1.5,
        first_stage_kappa: float = 1.0,
        first_stage_activation: str = "tanh",
        sin_bias_initializer: str = "phase",
        points_safety: float = 2.0,
        max_points: int = 200000,
        normalize: bool = True,
        dtype: str = "float64",
        seed: int = 0,
        jit_compile: bool = True,
        verbose: int = 1,
    ):
        for name, value in (("width", width), ("depth", depth), ("adam_steps", adam_steps),
                            ("lbfgs_iterations", lbfgs_iterations)):
            for v in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if "steps" in name or "iter" in name else 1):
                    raise ValueError(f"`{name}` must hold {'non-negative' if 'steps' in name or 'iter' in name else 'positive'} integers, got {value!r}")
        for rate in (learning_rate if isinstance(learning_rate, (list, tuple)) else [learning_rate]):
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise ValueError(f"`learning_rate` must hold positive finite numbers, got {learning_rate!r}")
        for name, value in (("decay_steps", decay_steps), ("kappa_factor", kappa_factor), ("first_stage_kappa", first_stage_kappa),
                            ("points_safety", points_safety)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be positive and finite, got {value!r}")
        if not 0 < decay_rate <= 1:
            raise ValueError(f"`decay_rate` must be in (0, 1], got {decay_rate!r}")
        if loss_weighting not in ("chebyshev", "uniform"):
            raise ValueError(f"`loss_weighting` must be 'chebyshev' or 'uniform', got {loss_weighting!r}")
        if first_layer_init not in ("spectrum", "xavier"):
            raise ValueError(f"`first_layer_init` must be 'spectrum' or 'xavier', got {first_layer_init!r}")
        if stage_solver not in ("auto", "adam_lbfgs", "least_squares"):
            raise ValueError(f"`stage_solver` must be 'auto', 'adam_lbfgs' or 'least_squares', got {stage_solver!r}")
        if verbose not in (0, 1):
            raise ValueError(f"`verbose` must be 0 or 1, got {verbose!r}")
        if first_stage_activation not in ("tanh", "sin"):
            raise ValueError(f"`first_stage_activation` must be 'tanh' or 'sin', got {first_stage_activation!r}")
        if sin_bias_initializer not in ("phase", "zeros"):
            raise ValueError(f"`sin_bias_initializer` must be 'phase' or 'zeros', got {sin_bias_initializer!r}")
        self.width = width
        self.depth = depth
        self.adam_steps = adam_steps
        self.learning_rate = learning_rate
        self.decay_rate = float(decay_rate)
        self.decay_steps = float(decay_steps)
        self.lbfgs_iterations = lbfgs_iterations
        self.num_correction_pairs = positive_int("num_correction_pairs", num_correction_pairs)
        self.first_layer_init = first_layer_init
        self.loss_weighting = loss_weighting
        self.end_refinement_cells = non_negative_int("end_refinement_cells", end_refinement_cells)
        self.grid_refinement = positive_int("grid_refinement", grid_refinement)
        self.refinement_order = positive_int("refinement_order", refinement_order)
        if self.refinement_order < 2:
            raise ValueError(f"`refinement_order` must be at least 2, got {refinement_order!r}")
        self.stage_solver = stage_solver
        self.least_squares_width = positive_int("least_squares_width", least_squares_width)
        self.least_squares_kappa_factors = positive_finites("least_squares_kappa_factors", least_squares_kappa_factors)
        self.kappa_factor = float(kappa_factor)
        self.first_stage_kappa = float(first_stage_kappa)
        self.first_stage_activation = first_stage_activation
        self.normalize = bool(normalize)
        self.dtype = check_float_dtype("dtype", dtype)
        self.sin_bias_initializer = sin_bias_initializer
        self.points_safety = float(points_safety)
        self.max_points = positive_int("max_points", max_points)
        self.seed = int(seed)
        self.jit_compile = bool(jit_compile)
        self.verbose = verbose
        self.model: StagedModel | None = None
        self.history: TrainingHistory | None = None

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        x,
        y=None,
        num_stages: int = 4,
        target_rms: float | None = None,
        validation_data=None,
        domain=None,
        num_points: int | None = None,
    ) -> TrainingHistory:
        """Trains up to ``num_stages`` stages (Algorithm 1).

        Two ways to give the data:

        * ``fit(x, y)`` with arrays ``x`` of shape ``(N, d)`` (or ``(N,)``) and ``y`` of ``(N, 1)``;
        * ``fit(function, domain=(lower, upper), num_points=N)`` with a vectorised ``function``
          mapping ``(N, d)`` to ``(N,)`` or ``(N, 1)``: stage ``j`` then samples a uniform grid with
          at least ``points_safety * 6 pi f_d`` points per axis (eq. 2.10).

        Args:
            x: Inputs, or a callable target.
            y: Targets (array mode).
            num_stages: Maximum number of stages, positive.
            target_rms: Stop once the RMS error (validation data if given, else training data, data
                units) is at or below this.
            validation_data: Optional ``(x_val, y_val)`` evaluated after every stage. A stage >= 1 that
                does not lower the validation RMS error is discarded and training stops: it fitted the
                training samples, not the function between them (e.g. 2-D data with more weights than
                points).
            domain: ``(lower, upper)`` of a callable target; per axis.
            num_points: Points per axis of the first stage's grid (callable target); later stages grow
                it per eq. (2.10). A sequence sets the points per axis of every stage by hand instead
                (its last entry repeats).

        Returns:
            The :class:`TrainingHistory` (also kept as :attr:`history`).

        Raises:
            ValueError: on malformed or non-finite data, mismatched lengths, non-positive sizes.
        """
        num_stages = positive_int("num_stages", num_stages)
        if target_rms is not None and not (math.isfinite(target_rms) and target_rms > 0):
            raise ValueError(f"`target_rms` must be positive and finite, got {target_rms!r}")
        data = _DataSource.create(x, y, domain, num_points)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("`validation_data` must be a pair (x_val, y_val)")
            x_val = as_float64_matrix("validation_data[0]", validation_data[0], columns=data.input_dim)
            y_val = as_float64_matrix("validation_data[1]", validation_data[1], columns=1)
            if x_val.shape[0] != y_val.shape[0]:
                raise ValueError(f"validation x and y must have the same length, got {x_val.shape[0]} and {y_val.shape[0]}")
            validation = (x_val, y_val)

        printer = ProgressPrinter(self.verbose)
        start = time.perf_counter()
        x_train, y_train = data.sample(None)
        mean, scale = 0.0, 1.0
        if self.normalize:
            mean = float(np.mean(y_train))
            scale = float(np.std(y_train)) or 1.0
        model = StagedModel(data.input_dim, lower=data.lower, upper=data.upper, output_offset=mean, output_scale=scale,
                            dtype=self.dtype)
        self.model = model
        history = TrainingHistory()
        self.history = history
        printer(f"MultiStageRegressor: {num_stages} stage(s), {x_train.shape[0]} points, d={data.input_dim}")

        for stage in range(num_stages):
            report, (x_train, y_train) = self._fit_stage(stage, model, data, (x_train, y_train), validation,
                                                         printer, mean, scale)
            history.stages.append(report)
            if not report.accepted:
                printer(f"stage {stage} discarded: {report.message}")
                history.message = f"stopped at stage {stage}: {report.message}"
                break
            printer(f"stage {stage} done: train RMS {report.train_rms:.3e}, max {report.train_max:.3e}"
                    + (f", validation RMS {report.validation_rms:.3e}" if report.validation_rms is not None else "")
                    + f" ({report.wall_time:.1f} s)")
            reached = report.validation_rms if report.validation_rms is not None else report.train_rms
            if target_rms is not None and reached <= target_rms:
                history.message = f"target_rms {target_rms:.3e} reached after stage {stage}"
                break
        else:
            history.message = f"trained {num_stages} stage(s)"
        history.wall_time = time.perf_counter() - start
        printer(history.table())
        return history

    def predict(self, x, num_stages: int | None = None) -> np.ndarray:
        """Predictions of the trained model (first ``num_stages`` stages), float64 ``(N, 1)``."""
        model = self._require_model()
        x = as_float64_matrix("x", x, columns=model.input_dim)
        return model.predict(x, num_stages=num_stages)

    def save(self, filepath) -> None:
        """Saves the :class:`StagedModel` as a ``.keras`` file (weights bit for bit)."""
        self._require_model().save(filepath)

    def export(self, filepath) -> None:
        """Writes a TF SavedModel loadable with ``tf.saved_model.load`` alone."""
        self._require_model().export(filepath)

    @classmethod
    def load(cls, filepath, **kwargs) -> "MultiStageRegressor":
        """A regressor holding the model saved at ``filepath`` (settings from ``kwargs``)."""
        regressor = cls(**kwargs)
        model = keras.saving.load_model(filepath)
        if not isinstance(model, StagedModel):
            raise ValueError(f"{filepath!r} does not hold a StagedModel, got {type(model).__name__}")
        regressor.model = model
        return regressor

    # ------------------------------------------------------------------ internals
    def _require_model(self) -> StagedModel:
        if self.model is None or self.model.num_stages == 0:
            raise ValueError("the regressor has no trained stage: call `fit` first")
        return self.model

    def _fit_stage(self, stage, model, data, current, validation, printer, mean, scale):
        """Trains one stage; returns its :class:`StageReport` and the (possibly resampled) data."""
        stage_start = time.perf_counter()
        x_train, y_train = current
        width = int(per_stage("width", self.width, stage))
        depth = int(per_stage("depth", self.depth, stage))
        adam_steps = int(per_stage("adam_steps", self.adam_steps, stage))
        lbfgs_iterations = int(per_stage("lbfgs_iterations", self.lbfgs_iterations, stage))
        learning_rate = float(per_stage("learning_rate", self.learning_rate, stage))
        d = data.input_dim

        first_layer_frequencies = None
        refinement = 1
        use_least_squares = False
        if stage == 0:
            epsilon, frequencies = 1.0, np.zeros(d)
            first_activation, kappa = self.first_stage_activation, self.first_stage_kappa
        else:
            residue = self._residue(model, x_train, y_train, mean, scale)
            scaled = model.scale_inputs(x_train).numpy()
            frequencies = spectral.dominant_frequencies(scaled, residue)
            use_least_squares = self._stage_solver(data, x_train) == "least_squares"
            # A least-squares stage wants four loss points per feature (fewer features if it cannot have
            # them), and no more features than data points: refined points are interpolated data, not
            # new information.
            max_features = self.least_squares_width if data.is_function else min(self.least_squares_width, x_train.shape[0])
            wanted_loss_points = 4 * max_features if use_least_squares else 0
            if data.is_function:
                cap = max(4, int(self.max_points ** (1.0 / d) + 1e-9))
                if data.schedule is not None:  # hand-set points per stage
                    wanted = data.schedule[min(stage, len(data.schedule) - 1)]
                else:  # eq. (2.10), capped
                    needed = [min(cap, spectral.min_points_for_frequency(f, self.points_safety)) for f in frequencies]
                    needed.append(min(cap, math.ceil(wanted_loss_points ** (1.0 / d) - 1e-9)))
                    wanted = max(max(needed), data.points_per_axis)
                if wanted != data.points_per_axis:
                    x_train, y_train = data.sample(wanted)
                    residue = self._residue(model, x_train, y_train, mean, scale)
                    scaled = model.scale_inputs(x_train).numpy()
            epsilon = spectral.rms(residue)
            first_activation = "sin"
            points_per_axis = data.points_per_axis if data.is_function else int(round(x_train.shape[0] ** (1.0 / d)))
            loss_points_per_axis = points_per_axis
            if d >= 2 and self.grid_refinement > 1:
                factor = self.grid_refinement
                while data.grid is not None and data.refined_size(factor) < wanted_loss_points:
                    factor += 1
                refinement = data.refinement_factor(factor, self.max_points)
                loss_points_per_axis = refinement * (points_per_axis - 1) + 1
            if use_least_squares:
                # A one-hidden-layer sin network whose output layer is solved, not trained; at most a
                # quarter as many features as loss points, so that it cannot interpolate the data.
                num_loss_points = data.refined_size(refinement) if refinement > 1 else x_train.shape[0]
                width = max(1, min(max_features, num_loss_points // 4))
                depth = 1
            elif self.first_layer_init == "spectrum":
                kappa = 1.0
                # Eq. (2.10): N points per axis resolve frequencies up to N / (6 pi) on [-1, 1].
                first_layer_frequencies = spectral.sample_spectrum_frequencies(
                    scaled, residue, width, seed=self.seed + 1000 * stage,
                    max_frequency=loss_points_per_axis / (6.0 * math.pi))
            else:
                kappa = spectral.kappa_for_frequency(float(np.max(frequencies)), fan_in=d, units=width,
                                                     factor=self.kappa_factor)
            # The user's warning filters apply (each stage's message differs, so each shows once).
            spectral.check_data_density(points_per_axis, float(np.max(frequencies)), stacklevel=4)

        if use_least_squares:  # its networks are built per kappa candidate below
            printer(f"stage {stage}: epsilon {epsilon:.3e}, f_d {np.array2string(frequencies, precision=2)}, "
                    f"least squares over {width} sin features, {x_train.shape[0]} points")
        else:
            network = build_stage_network(
                d, width=width, depth=depth, kappa=kappa, first_activation=first_activation,
                bias_initializer="zeros" if first_activation == "tanh" else self.sin_bias_initializer,
                seed=self.seed + 1000 * stage, name=f"stage_{stage}", first_layer_frequencies=first_layer_frequencies,
                dtype=self.dtype)
            if first_layer_frequencies is None:
                kappa_hat = network.layers[0].kappa_hat
            else:  # the same role for a spectrum-initialised layer: RMS angular frequency at the start
                kappa_hat = float(2.0 * math.pi * np.sqrt(np.mean(np.sum(first_layer_frequencies**2, axis=1))))
            printer(f"stage {stage}: epsilon {epsilon:.3e}, f_d {np.array2string(frequencies, precision=2)}, "
                    f"kappa_hat {kappa_hat:.2f} ({first_activation}), {width}x{depth}, {x_train.shape[0]} points")

        x_loss = x_train
        if stage == 0:
            target = (y_train - mean) / scale
        else:
            target = residue[:, None] / epsilon
        if d == 1 and self.end_refinement_cells > 0:
            x_end, y_end = data.end_points(x_train, y_train, self.end_refinement_cells)
            end_target = (y_end - mean) / scale if stage == 0 else self._residue(model, x_end, y_end, mean, scale)[:, None] / epsilon
            x_loss, target = np.concatenate([x_train, x_end]), np.concatenate([target, end_target])
        elif refinement > 1:
            x_loss, y_loss = data.refined(refinement, self.refinement_order)
            target = self._residue(model, x_loss, y_loss, mean, scale)[:, None] / epsilon
            printer(f"stage {stage}: loss on the data grid refined {refinement}x per axis ({x_loss.shape[0]} points, "
                    "values interpolated)")
        x_scaled = model.scale_inputs(x_loss)
        weights = None
        if self.loss_weighting == "chebyshev":
            weights = boundary_weights(x_scaled.numpy())
        if use_least_squares:
            network, solved, rejection = self._least_squares_stage(stage, x_scaled.numpy(), target, weights, width,
                                                                   float(np.max(frequencies)), printer)
            kappa, kappa_hat = network.layers[0].kappa, network.layers[0].kappa_hat
            failure = None if not solved.failed else f"least squares: {solved.message}"
            adam = lbfgs = None
            final_loss = solved.loss
            adam_wall_time = time.perf_counter() - stage_start
        else:
            rejection = None
            adam, lbfgs, failure, final_loss, adam_wall_time = self._optimize(
                stage, network, x_scaled, target, weights, adam_steps, lbfgs_iterations, learning_rate, printer,
                stage_start)
        before = _errors(model, x_train, y_train) if stage > 0 else (math.inf, math.inf)
        before_validation = _errors(model, *validation) if validation is not None and stage > 0 else (math.inf, math.inf)
        model.add_stage(network, epsilon)
        train_rms, train_max = _errors(model, x_train, y_train)
        val_rms = val_max = None
        if validation is not None:
            val_rms, val_max = _errors(model, *validation)
        accepted = failure is None and math.isfinite(train_rms)
        message = "ok"
        if failure is not None:
            message = f"non-finite loss, stage discarded, earlier stages kept ({failure})"
        elif rejection is not None:
            accepted = False
            message = rejection
        elif not train_rms < before[0]:
            accepted = False
            message = f"no improvement (train RMS {train_rms:.3e} vs {before[0]:.3e}), stage discarded"
        elif stage > 0 and val_rms is not None and not val_rms < before_validation[0]:
            accepted = False
            message = (f"no improvement on the validation data (RMS {val_rms:.3e} vs {before_validation[0]:.3e}; "
                       f"train RMS {train_rms:.3e}: it fitted the samples, not the function), stage discarded")
        if not accepted:
            model.pop_stage()
            train_rms, train_max = before
            val_rms, val_max = (None, None) if validation is None or not model.num_stages else before_validation
            warnings.warn(f"stage {stage}: {message}", RuntimeWarning, stacklevel=3)
        report = StageReport(
            stage=stage, epsilon=float(epsilon), dominant_frequency=tuple(float(f) for f in frequencies),
            kappa=float(kappa), kappa_hat=float(kappa_hat), first_activation=first_activation, width=width,
            depth=depth, num_points=int(x_train.shape[0]), adam_steps=0 if adam is None else adam.num_steps,
            lbfgs_iterations=0 if lbfgs is None else lbfgs.num_iterations,
            adam_losses=np.zeros(0) if adam is None else adam.losses,
            adam_block_steps=np.zeros(0, int) if adam is None else adam.block_steps,
            adam_times=np.zeros(0) if adam is None else adam_wall_time - adam.wall_time + adam.times,
            adam_wall_time=adam_wall_time,
            lbfgs_iterations_history=np.zeros(0, int) if lbfgs is None else lbfgs.iterations,
            lbfgs_losses=np.zeros(0) if lbfgs is None else lbfgs.losses,
            lbfgs_times=np.zeros(0) if lbfgs is None else lbfgs.times, final_loss=final_loss,
            train_rms=float(train_rms), train_max=float(train_max), validation_rms=val_rms,
            validation_max=val_max, wall_time=time.perf_counter() - stage_start, accepted=accepted,
            message=message, grid_refinement=int(refinement))
        return report, (x_train, y_train)

    def _optimize(self, stage, network, x_scaled, target, weights, adam_steps, lbfgs_iterations, learning_rate,
                  printer, stage_start):
        """Adam then L-BFGS on one stage network (Algorithm 1, step 3); returns
        ``(adam, lbfgs, failure, final_loss, adam_wall_time)``."""
        value_and_gradients, flat = mse_objective(network, x_scaled, target, weights)
        adam = adam_minimize(
            value_and_gradients, flat.pack(), adam_steps, learning_rate=learning_rate,
            decay_rate=self.decay_rate, decay_steps=self.decay_steps, jit_compile=self.jit_compile,
            callback=printer.optimizer_callback(stage, "adam", adam_steps) if self.verbose else None)
        failure = adam.message if adam.failed else None
        adam_wall_time = time.perf_counter() - stage_start
        lbfgs = None
        if failure is None:
            lbfgs = lbfgs_minimize(
                value_and_gradients, adam.position, max_iterations=lbfgs_iterations,
                num_correction_pairs=self.num_correction_pairs, jit_compile=self.jit_compile,
                callback=printer.optimizer_callback(stage, "lbfgs", lbfgs_iterations) if self.verbose else None)
            if lbfgs.failed:
                failure = f"L-BFGS: {lbfgs.message}"
            flat.assign(lbfgs.position if not lbfgs.failed else adam.position)
        final_loss = float(lbfgs.objective_value if lbfgs is not None else adam.objective_value)
        return adam, lbfgs, failure, final_loss, adam_wall_time

    def _least_squares_stage(self, stage, x_scaled, target, weights, width, frequency, printer):
        """A least-squares stage: one sin network per factor of ``least_squares_kappa_factors``, its
        output layer solved on 7/8 of the loss points; the network with the lowest (weighted) RMS on
        the other 1/8 is kept. One factor: solved on every point, nothing held out. Returns
        ``(network, result, rejection)``: ``rejection`` says why the stage should be dropped (its best
        held-out RMS is no lower than that of the target itself: it fits round-off), else None."""
        factors = self.least_squares_kappa_factors
        n = x_scaled.shape[0]
        fit = held_out_mask(n, len(factors), self.seed + 1000 * stage)
        sqrt_w = np.ones(n) if weights is None else np.sqrt(np.asarray(weights).reshape(-1))
        best = None
        for factor in factors:
            network = feature_network(x_scaled.shape[1], width, frequency, factor, self.seed + 1000 * stage,
                                      f"stage_{stage}", self.dtype)
            solved = solve_output_layer(network, x_scaled[fit], target[fit], None if weights is None else weights[fit])
            held_out = math.nan
            if not fit.all() and not solved.failed:
                error = target[~fit, 0] - network_values(network, x_scaled[~fit])[:, 0]
                held_out = float(np.sqrt(np.mean((sqrt_w[~fit] * error) ** 2)))
            printer(f"  stage {stage} | least squares, {width} sin features, kappa_hat {network.layers[0].kappa_hat:.2f}: "
                    f"loss {solved.loss:.3e}" + ("" if fit.all() else f", held-out RMS {held_out:.3e}")
                    + f", rank {solved.rank} | {time.perf_counter() - printer.start:7.1f} s")
            score = solved.loss if fit.all() else held_out
            if not solved.failed and math.isfinite(score) and (best is None or score < best[0]):
                best = (score, network, solved)
            elif best is None:
                best = (math.inf, network, solved)
        rejection = None
        if not fit.all():
            baseline = float(np.sqrt(np.mean((sqrt_w[~fit] * target[~fit, 0]) ** 2)))
            if not best[0] < baseline:
                rejection = (f"no improvement on the held-out loss points (RMS {best[0]:.3e} vs {baseline:.3e} "
                             "without the stage), stage discarded")
        return best[1], best[2], rejection

    def _stage_solver(self, data, x_train) -> str:
        """The solver of stages >= 1: ``stage_solver``, with ``"auto"`` resolved by the data: least
        squares in ``d >= 2`` when the loss can have four points per feature (a callable target, a
        grid to refine, or enough scattered points), else Adam then L-BFGS."""
        if self.stage_solver != "auto":
            return self.stage_solver
        if data.input_dim < 2:
            return "adam_lbfgs"
        refinable = data.grid is not None and self.grid_refinement > 1 and data.refinement_factor(2, self.max_points) > 1
        enough = x_train.shape[0] >= 4 * self.least_squares_width
        return "least_squares" if data.is_function or refinable or enough else "adam_lbfgs"

    @staticmethod
    def _residue(model, x, y, mean, scale) -> np.ndarray:
        """Residue ``(y - u)`` in normalised output units, shape ``(N,)``."""
        prediction = model.predict(x)
        return ((y - prediction) / scale)[:, 0]


def _errors(model: StagedModel, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    error = y - model.predict(x)
    return spectral.rms(error), float(np.max(np.abs(error)))


def mse_objective(network: keras.Model, x_scaled, target, weights=None):
    """The loss of eq. (2.1), optionally weighted, as a function of the network's flat trainable weights.

    ``L(p) = mean_i w_i (network(x_i; p) - target_i)^2``, computed in the network's dtype; the inputs
    must already be scaled to ``[-1, 1]``. Use it with :func:`~msnn_tf.adam_minimize` and
    :func:`~msnn_tf.lbfgs_minimize`, then ``flat.assign(results.position)``.

    Args:
        network: A Keras model (e.g. from :func:`~msnn_tf.build_stage_network`).
        x_scaled: Inputs ``(N, d)``.
        target: Targets ``(N, outputs)``.
        weights: Optional per-point weights ``(N, 1)`` (e.g. :func:`boundary_weights`).

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

    def value_and_gradients(position):
        with tf.GradientTape() as tape:
            tape.watch(position)
            output, _ = network.stateless_call(flat.unpack(position), non_trainable, x_scaled)
            squared = tf.square(output - target)
            loss = tf.reduce_mean(squared if weights is None else weights * squared)
        return loss, tape.gradient(loss, position)

    return value_and_gradients, flat


class _DataSource:
    """Fixed arrays, or a function sampled on a uniform grid that may grow per stage."""

    def __init__(self, input_dim, lower, upper, arrays=None, function=None, points_per_axis=None, schedule=None):
        self.input_dim = input_dim
        self.schedule = schedule
        self.lower = lower
        self.upper = upper
        self.arrays = arrays
        self.function = function
        self.points_per_axis = points_per_axis
        self._refined = {}

    @property
    def is_function(self) -> bool:
        return self.function is not None

    @classmethod
    def create(cls, x, y, domain, num_points):
        if callable(x):
            if y is not None:
                raise ValueError("give either a callable target or arrays (x, y), not both")
            if domain is None or len(domain) != 2:
                raise ValueError(f"a callable target needs `domain=(lower, upper)`, got {domain!r}")
            lower = np.atleast_1d(np.asarray(domain[0], dtype=np.float64))
            upper = np.atleast_1d(np.asarray(domain[1], dtype=np.float64))
            if lower.shape != upper.shape or not np.all(np.isfinite(lower)) or not np.all(np.isfinite(upper)) or not np.all(upper > lower):
                raise ValueError(f"`domain` must be finite (lower, upper) with upper > lower per axis, got {domain!r}")
            schedule = None
            if isinstance(num_points, (list, tuple)):
                if not num_points:
                    raise ValueError("`num_points` must not be an empty sequence")
                schedule = [positive_int("num_points", n) for n in num_points]
                points = schedule[0]
            else:
                points = positive_int("num_points", 1000 if num_points is None else num_points)
            if min(schedule or [points]) < 4:
                raise ValueError(f"`num_points` must be at least 4, got {num_points!r}")
            return cls(lower.size, lower, upper, function=x, points_per_axis=points, schedule=schedule)
        if y is None:
            raise ValueError("`y` is required when `x` is an array")
        x = as_float64_matrix("x", x)
        y = as_float64_matrix("y", y, columns=1)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"`x` and `y` must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
        if x.shape[0] < 4:
            raise ValueError(f"`x` must have at least 4 rows, got {x.shape[0]}")
        lower, upper = x.min(axis=0), x.max(axis=0)
        if not np.all(upper > lower):
            raise ValueError(f"`x` must span a non-empty interval on every axis, got min {lower} and max {upper}")
        return cls(x.shape[1], lower, upper, arrays=(x, y))

    def end_points(self, x, y, cells):
        """Points inside the first and last ``cells`` intervals of 1-D samples ``(x, y)``, with values:
        the function's, or interpolated from the samples (:func:`msnn_tf.interpolation.end_points`)."""
        if not self.is_function:
            return end_points(x, y, cells=cells, order=min(8, x.shape[0]))
        x_end = end_positions(x, cells)
        return x_end, as_float64_matrix("function(x)", np.asarray(self.function(x_end), dtype=np.float64).reshape(-1, 1), columns=1)

    @functools.cached_property
    def grid(self) -> list[np.ndarray] | None:
        """Per-axis coordinates of fixed data that form a full tensor-product grid, else None."""
        return None if self.is_function else grid_axes(self.arrays[0])

    def refinement_factor(self, max_factor: int, max_points: int) -> int:
        """The largest refinement per axis, at most ``max_factor``, that keeps gridded fixed data
        within ``max_points`` points; 1 when the data are not a grid (or hold fewer than 8 points on an
        axis, too few for the local interpolation)."""
        if self.grid is None or min(axis.size for axis in self.grid) < 8:
            return 1
        factor = max_factor
        while factor > 1 and self.refined_size(factor) > max_points:
            factor -= 1
        return factor

    def refined_size(self, factor: int) -> int:
        """Points of the data grid refined ``factor`` times per axis."""
        return math.prod(factor * (axis.size - 1) + 1 for axis in self.grid)

    def refined(self, factor: int, order: int):
        """The data grid refined ``factor`` times per axis, values interpolated through ``order``
        samples per axis (at most the shortest axis's; cached)."""
        order = min(order, min(axis.size for axis in self.grid))
        if (factor, order) not in self._refined:
            self._refined[factor, order] = refine_grid(*self.arrays, factor, order=order)
        return self._refined[factor, order]

    def sample(self, points_per_axis):
        if not self.is_function:
            return self.arrays
        if points_per_axis is not None:
            self.points_per_axis = int(points_per_axis)
        axes = [np.linspace(lo, hi, self.points_per_axis) for lo, hi in zip(self.lower, self.upper)]
        x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.input_dim)
        y = np.asarray(self.function(x), dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        y = as_float64_matrix("function(x)", y, columns=1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"the target function returned {y.shape[0]} values for {x.shape[0]} points")
        return x, y
