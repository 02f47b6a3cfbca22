"""MultiStageRegressor: Algorithm 1 of the paper (multi-stage regression), automatic end to end.

A thin façade: the settings (:class:`~msnn_tf.engine.RegressionSettings`), the regression objective
(:mod:`msnn_tf.regression.objective`) and the shared stage loop (:func:`msnn_tf.engine.run_stages`).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from msnn_tf.distribute import check_strategy
from msnn_tf.engine import RegressionSettings, configure_callbacks, run_stages
from msnn_tf.jsonio import check_version
from msnn_tf.regression.data import DataSource, validation_pair
from msnn_tf.regression.objective import RegressionObjective
from msnn_tf.reporting import TrainingHistory
from msnn_tf.staged_model import StagedModel, load_staged_model, save_model_atomically
from msnn_tf.validation import as_float64_matrix, positive_int

#: The ``format`` tag and version of a regressor's ``.keras`` metadata (:meth:`MultiStageRegressor.save`).
SAVE_FORMAT = "msnn_tf.regressor"
SAVE_VERSION = 1

__all__ = ["MultiStageRegressor"]


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
            (default): least squares when the loss can have four points per feature: in ``d >= 2`` for
            ``least_squares_width`` features (a callable target, which is then sampled that densely;
            grid data, whose refinement is then raised; or that many scattered points), in 1-D for at
            least ``min_least_squares_features``; else Adam then L-BFGS. In 2-D a trained stage of a
            few thousand weights fits the broadband residue of the stage before only to ~0.3 of its RMS;
            4000 solved features took the 2-D target of Fig. 6 on a 71^2 grid from 3.2e-5 after stage
            0 to 4.5e-15 in one stage. In 1-D one solved stage of 1250 features takes
            ``sin(2x + 1) + 0.2 exp(1.3x)`` on 5000 points from 1.2e-5 to 2.0e-16 in 3.5 s, where trained
            stages need minutes (Fig. 5: 3.8e-14 after four stages, 20 minutes).
        stop_rule: When a trained stage stops. ``"budget"``: after ``adam_steps`` and
            ``lbfgs_iterations`` (the paper's fixed counts). ``"gain"``: Adam, then L-BFGS, stops after a
            block of 500 steps that lowered the loss by less than ``min_block_gain`` (the caps still
            hold). ``"auto"`` (default): ``"gain"`` when ``stage_solver="auto"`` solves the later
            stages, else ``"budget"``. On the benchmark target stage 0 stops after ~2000 Adam steps and
            ~2500 L-BFGS iterations at ~5e-6 instead of 3000 and 20000 at 1.9e-7 (92 s), and the solved
            stage after it reaches round-off from either.
        min_block_gain: See ``stop_rule``; above 1.
        min_least_squares_features: Fewest features (at four loss points each) for which
            ``stage_solver="auto"`` solves a 1-D stage.
        least_squares_width: Features of a least-squares stage; at most a quarter of the stage's loss
            points and, for fixed data, at most the number of data points are used (so that the stage
            cannot interpolate the samples); in 1-D at most 1024 (``regression.objective.MAX_FEATURES_1D``:
            1-D sin features span few directions, the solve's rank stayed below 1700 of 4000). Least-squares stages always start their biases at random
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
        verbose: 0 silent, 1 progress lines and a table (``fit(verbose=...)`` overrides it).
        strategy: A ``tf.distribute.Strategy`` (e.g. ``MirroredStrategy`` over several GPUs): trained
            stages split the data across its replicas for Adam's steps and L-BFGS's loss and gradient;
            least-squares stages combine per-replica triangular factors (TSQR). Not a setting: it is
            not saved, pass it again to :meth:`load`. See :mod:`msnn_tf.distribute`.

    The settings are checked once and kept, immutable and JSON-ready, as :attr:`settings` (a
    :class:`~msnn_tf.engine.RegressionSettings`); each is also readable as an attribute
    (``regressor.width``).
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
        stop_rule: str = "auto",
        min_block_gain: float = 2.0,
        min_least_squares_features: int = 64,
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
        strategy=None,
    ):
        self.settings = RegressionSettings(
            width=width, depth=depth, adam_steps=adam_steps, learning_rate=learning_rate, decay_rate=decay_rate,
            decay_steps=decay_steps, lbfgs_iterations=lbfgs_iterations, num_correction_pairs=num_correction_pairs,
            first_layer_init=first_layer_init, loss_weighting=loss_weighting,
            end_refinement_cells=end_refinement_cells, grid_refinement=grid_refinement,
            refinement_order=refinement_order, stage_solver=stage_solver, stop_rule=stop_rule,
            min_block_gain=min_block_gain, min_least_squares_features=min_least_squares_features,
            least_squares_width=least_squares_width,
            least_squares_kappa_factors=least_squares_kappa_factors, kappa_factor=kappa_factor,
            first_stage_kappa=first_stage_kappa, first_stage_activation=first_stage_activation,
            sin_bias_initializer=sin_bias_initializer, points_safety=points_safety, max_points=max_points,
            normalize=normalize, dtype=dtype, seed=seed, jit_compile=jit_compile, verbose=verbose)
        self.strategy = check_strategy(strategy)
        self.model: StagedModel | None = None
        self.history: TrainingHistory | None = None

    def __getattr__(self, name):
        settings = self.__dict__.get("settings")
        if settings is not None and name in settings.field_names():
            return getattr(settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        callbacks=None,
        verbose: int | None = None,
        initial_model: StagedModel | None = None,
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
            callbacks: :class:`~msnn_tf.StageCallback` instances called at the fit, stage and block
                boundaries (a callback's ``stop_training`` ends training at the next boundary).
            verbose: 0 silent, 1 progress lines and a table; ``None`` keeps the constructor's.
            initial_model: Resume: a :class:`StagedModel` (e.g. a checkpoint's, or this regressor's
                own ``model``) whose stages are kept; training continues with stage
                ``initial_model.num_stages`` until the model holds ``num_stages`` stages, with the same
                data and seed giving the stages an uninterrupted run would have. The history continues
                :attr:`history` when ``initial_model`` is this regressor's model (e.g. after
                :meth:`load`), else it starts empty.

        Returns:
            The :class:`TrainingHistory` (also kept as :attr:`history`).

        Raises:
            ValueError: on malformed or non-finite data, mismatched lengths, non-positive sizes, or an
                ``initial_model`` that is not a :class:`StagedModel` of the data's input dimension.
        """
        num_stages = positive_int("num_stages", num_stages)
        if target_rms is not None and not (math.isfinite(target_rms) and target_rms > 0):
            raise ValueError(f"`target_rms` must be positive and finite, got {target_rms!r}")
        data = DataSource.create(x, y, domain, num_points)
        validation = validation_pair(validation_data, data.input_dim)
        history = TrainingHistory()
        if initial_model is not None:
            if not isinstance(initial_model, StagedModel):
                raise ValueError(f"`initial_model` must be a StagedModel, got {type(initial_model).__name__}")
            if initial_model.input_dim != data.input_dim or initial_model.output_dim != 1:
                raise ValueError(f"`initial_model` maps {initial_model.input_dim} input(s) to {initial_model.output_dim} "
                                 f"output(s); the data have {data.input_dim} input(s) and 1 output")
            if initial_model is self.model and self.history is not None:
                history = TrainingHistory(stages=list(self.history.stages), wall_time=self.history.wall_time)
        objective = RegressionObjective(self.settings, data, validation, target_rms, initial_model=initial_model,
                                        strategy=self.strategy)
        remaining = num_stages - objective.next_stage
        callback_list = configure_callbacks(callbacks, self.settings.verbose if verbose is None else verbose,
                                            objective.title(num_stages))
        self.model = objective.model
        self.history = history
        if remaining <= 0:
            history.message = f"the model already holds {objective.next_stage} stage(s) of {num_stages}"
            return history
        last = history.stages[-1] if history.stages else None
        reason = None if last is None or not last.accepted else objective.stop_reason(last)
        if reason is not None:  # the interrupted run would have ended here too
            history.message = reason
            return history
        return run_stages(objective, remaining, callback_list, self.history)

    def predict(self, x, num_stages: int | None = None) -> np.ndarray:
        """Predictions of the trained model (first ``num_stages`` stages), float64 ``(N, 1)``."""
        model = self._require_model()
        x = as_float64_matrix("x", x, columns=model.input_dim)
        return model.predict(x, num_stages=num_stages)

    def evaluate(self, x, y, num_stages: int | None = None) -> dict[str, float]:
        """``{"rms", "max"}`` of ``y - predict(x)`` (first ``num_stages`` stages).

        Raises:
            ValueError: malformed or non-finite ``x`` or ``y``, or lengths that differ.
        """
        model = self._require_model()
        x = as_float64_matrix("x", x, columns=model.input_dim)
        y = as_float64_matrix("y", y, columns=1)
        if len(y) != len(x):
            raise ValueError(f"`x` and `y` must have the same number of rows, got {len(x)} and {len(y)}")
        error = y - model.predict(x, num_stages=num_stages)
        return {"rms": float(np.sqrt(np.mean(error**2))), "max": float(np.max(np.abs(error)))}

    def save(self, filepath) -> None:
        """Saves the :class:`StagedModel` as a ``.keras`` file (weights bit for bit), with the settings and
        the history in its config (:attr:`StagedModel.metadata`), so that :meth:`load` restores them.
        The file is written to a temporary name beside ``filepath`` and renamed: an interrupted save
        leaves the previous file."""
        model = self._require_model()
        model.metadata = {"format": SAVE_FORMAT, "version": SAVE_VERSION, "settings": self.settings.to_dict(),
                          "history": None if self.history is None else self.history.to_file_dict()}
        save_model_atomically(model, filepath)

    def export(self, filepath) -> None:
        """Writes a TF SavedModel loadable with ``tf.saved_model.load`` alone."""
        self._require_model().export(filepath)

    @classmethod
    def load(cls, filepath, **kwargs) -> "MultiStageRegressor":
        """The regressor :meth:`save` wrote: its model, settings and history (``kwargs`` override settings,
        e.g. ``verbose=0``; ``strategy=`` gives the loaded regressor a ``tf.distribute.Strategy``). A ``.keras``
        file of a bare :class:`StagedModel` loads with default settings.

        Raises:
            ValueError: naming the file: missing, truncated or corrupted, not a StagedModel, or written
                by a newer format version.
        """
        model = load_staged_model(filepath)
        metadata = model.metadata or {}
        if metadata.get("format") not in (None, SAVE_FORMAT):
            raise ValueError(f"{str(filepath)!r} holds a {metadata.get('format')!r} model, not a regressor")
        check_version(metadata.get("version", SAVE_VERSION), SAVE_VERSION, repr(str(filepath)), "regressor")
        strategy = kwargs.pop("strategy", None)
        settings = dict(metadata.get("settings") or {})
        settings.update(kwargs)
        regressor = cls(strategy=strategy)
        try:
            regressor.settings = RegressionSettings.from_dict({**regressor.settings.to_dict(), **settings})
        except TypeError as error:
            raise ValueError(f"{str(filepath)!r}: settings not understood ({error})") from None
        regressor.model = model
        if metadata.get("history") is not None:
            regressor.history = TrainingHistory.from_file_dict(metadata["history"], repr(str(filepath)))
        return regressor

    def _require_model(self) -> StagedModel:
        if self.model is None or self.model.num_stages == 0:
            raise ValueError("the regressor has no trained stage: call `fit` first")
        return self.model
