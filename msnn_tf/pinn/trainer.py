"""MultiStagePINN: multi-stage physics-informed training (paper, Algorithm 4, section 3.4).

Stage 0 trains a tanh network on the loss of eq. (3.1) (or eq. 3.38 with ``gradient_enhanced``).
Every later stage ``k`` reads the equation residual ``r_k`` of the current model on a uniform grid,
takes its RMS ``eps_r`` and per-axis dominant frequencies ``f_i`` (eqs. 3.16, 3.18), obtains
``beta_m = dr/du^(m)`` by differentiating the residual with respect to each derivative it reads
at the current solution, sets the magnitude ``eps_k = eps_r / sum_m RMS(beta_m) prod_i (2 pi f_i)^m_i``
(eq. 3.19; the sum runs over every term, not only the highest derivatives, so that a small
coefficient on the highest derivative picks the dominant term, Appendix C eq. C.6), the equation
weight ``gamma = eps_k^2 / (eps_k^2 + eps_r^2)`` (eq. 3.32 with ``L_d ~ eps_k^2`` and
``L_e ~ eps_r^2``, ``eps_k`` the estimate of eq. 3.19 even when the condition mismatch sets the
prefactor) and, for gPINN, ``gamma_g = ||r||^2 / ||grad r||^2`` (eq. 3.40); it then trains
``u_k^(c) = u_{k-1}^(c) + eps_k u_k(x, kappa_k)`` (eqs. 3.41-3.42) with every earlier stage frozen.

A thin façade: the settings (:class:`~msnn_tf.engine.PINNSettings`), the PINN objective
(:mod:`msnn_tf.pinn.objective`) and the shared stage loop (:func:`msnn_tf.engine.run_stages`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from msnn_tf.distribute import check_strategy
from msnn_tf.engine import PINNSettings, configure_callbacks, run_stages
from msnn_tf.jsonio import check_version
from msnn_tf.pinn.objective import PINNObjective
from msnn_tf.pinn.problem import Problem
from msnn_tf.reporting import PINNHistory, PINNStageReport
from msnn_tf.staged_model import load_staged_model, save_model_atomically
from msnn_tf.validation import as_float64_matrix, positive_int

__all__ = ["MultiStagePINN", "PINNHistory", "PINNStageReport"]

#: The ``format`` tag and version of a PINN solver's ``.keras`` metadata (:meth:`MultiStagePINN.save`).
SAVE_FORMAT = "msnn_tf.pinn"
SAVE_VERSION = 1


class MultiStagePINN:
    """Multi-stage PINN solver with automatic stage settings (Algorithm 4).

    Settings that may differ per stage (``width``, ``adam_steps``, ``lbfgs_iterations``,
    ``learning_rate``, ``num_collocation``, ``epsilon``, ``gamma``, ``gamma_g``) take a scalar or a
    sequence indexed by stage (its last entry repeats).

    Args:
        problem: The :class:`~msnn_tf.pinn.Problem`.
        width: Units per hidden layer. Later stages of a PDE fit a residual in several dimensions and may
            need more: Fig. 13 (2-D) uses widths (20, 20, 50), with more collocation points than weights
            in the wide stage (``num_collocation`` per stage); with fewer, a stage fits the points.
        depth: Hidden layers per stage network.
        num_collocation: Collocation points (Latin hypercube, plus the box corners in 1-D) of a stage;
            later stages take at least ``points_safety * 6 pi f_d`` points per scaled axis (eq. 2.10),
            capped by ``max_collocation``.
        adam_steps: Adam steps per stage.
        learning_rate: Adam's initial learning rate; ``decay_rate`` per ``decay_steps`` steps.
        decay_rate: See ``learning_rate``.
        decay_steps: See ``learning_rate``.
        lbfgs_iterations: L-BFGS iterations per stage (0 skips L-BFGS, e.g. for a last stage).
        gradient_enhanced: Add the gPINN gradient loss of eq. (3.38).
        epsilon: ``"auto"`` (eq. 3.19) or hand-set prefactors for stages >= 1. A stage whose epsilon lies
            above the eq. (3.19) estimate (set by hand, or by the conditions' mismatch) starts its
            output layer at ``estimate / epsilon`` of its initial size.
        gamma: ``"auto"`` (eq. 3.32), ``"pretrain"`` (Algorithm 3: pre-training rounds of
            ``pretrain_steps`` Adam steps from ``pretrain_initial_gamma`` until the convergence
            ratio meets criterion 3.36, see :func:`msnn_tf.pinn.pretrain_equation_weight`) or
            hand-set equation weights.
        pretrain_steps: ``N_0`` of Algorithm 3.
        pretrain_initial_gamma: First weight Algorithm 3 tries.
        pretrain_max_rounds: Rounds of Algorithm 3 before it gives up (1 measures ``R_c`` of
            ``pretrain_initial_gamma`` and trains with it).
        sin_bias_initializer: ``"phase"`` (uniform in [-pi, pi]) or ``"zeros"`` (the reference
            regression script) for the biases of sin first layers.
        bias_initializer: ``None``: tanh first layers and hidden layers start with zero biases, sin first
            layers with ``sin_bias_initializer``. ``"glorot"``: every bias of every stage is drawn from
            the truncated normal of its layer's Glorot standard deviation, as the reference PINN script does.
        plateau_window: Halve Adam's learning rate when the loss stops falling over windows of this many
            steps (see :func:`msnn_tf.adam_minimize`); ``None`` keeps the exponential decay only.
        record_loss_parts: Record ``(L_d, L_e)`` before every Adam step in the stage report's
            ``loss_parts`` (costs one more loss evaluation per step).
        gamma_g: ``"auto"`` (eq. 3.40) or hand-set gradient-loss weights (gPINN only).
        kappa: ``"auto"`` or hand-set scale factors ``kappa`` for stages >= 1 (Xavier-normal first
            layers then, eq. 2.8).
        first_layer_init: ``"spectrum"`` (frequencies drawn from the residual's spectrum, kappa = 1)
            or ``"xavier"`` (eq. 2.9 with ``kappa_factor``).
        kappa_factor: ``kappa_hat / (pi f_d)`` with ``"xavier"``.
        first_stage_epsilon: Magnitude prefactor of stage 0 (1: a plain PINN). For a solution whose
            magnitude is far from 1 (high-frequency source), set it from Algorithm 2
            (:func:`msnn_tf.pinn.solution_magnitude`, section 3.1.3).
        first_stage_activation: ``"tanh"`` (a plain PINN) or ``"sin"`` (a high-frequency solution,
            with ``first_stage_kappa`` from eq. 2.9).
        first_stage_kappa: Scale factor ``kappa`` of stage 0's first layer (Xavier-normal weights,
            ``kappa_hat = kappa sqrt(Var)``, eq. 2.8).
        resample_every: Draw fresh collocation points every this many Adam steps (the paper's
            "Adam (SGD)", section 3.3.1; Fig. 10); 0 keeps them fixed. Frozen stages are
            re-evaluated at each draw; RAR points stay; L-BFGS runs on the last draw.
        rar_points: Collocation points added to each stage >= 1 where the residual of the model so
            far is largest (RAR, section 3.3.2; chosen once per stage, see :meth:`refinement_points`).
        points_safety: Safety factor of eq. (2.10) for the collocation points.
        max_collocation: Cap on collocation points per stage.
        grid_points: Points per axis of the uniform grid on which residuals are analysed.
        open_margin: Train past the faces that carry no condition (``Problem.open_faces``: the final
            time of an evolution problem, the ends of an ODE whose condition is inside) by this
            fraction of the axis span: collocation points, RAR candidates and the boundary conditions'
            points fill the grown box (``training_domain``), so a face where the conditions stop,
            such as a corner between a Dirichlet face and the final time, is not an end of the data.
            The reference code trains on [-1.01, 1.01] for [-1, 1]. The residual must accept points
            there; errors and stage settings are still computed on the problem's domain. 0 trains on
            the domain itself.
        loss_weighting: ``"uniform"``: plain means over the points (eqs. 3.1, 3.38). ``"chebyshev"``:
            every squared residual, residual gradient and condition mismatch is weighted by the
            Chebyshev weight of its point in the training box (:func:`msnn_tf.boundary_weights`, mean 1
            over the collocation points and over the condition points; the condition points use the
            collocation points' spacing), as the regressor does: the near-minimax weighting that stops a
            stage from leaving its largest error on the faces and corners, where no data lie beyond.
            The reported ``data_loss`` / ``equation_loss`` (and Algorithm 3's) are then the weighted means.
        stage_solver: ``"adam_lbfgs"``: every stage trained, Adam then L-BFGS (Algorithm 4, the paper's).
            ``"least_squares"``: stages >= 1 are one-hidden-layer ``sin`` networks (Xavier-normal, ``kappa``
            from eq. 2.9 with f_d of the residual) whose output layer minimises the stage loss of eq.
            (3.1) with the residual linearised at the current solution, ``r(u + eps v) ~ r(u) + eps
            sum_m beta_m d^m v`` (``beta_m`` pointwise, eq. 3.17): one linear least-squares solve, exact
            for equations linear in ``u``, one Gauss-Newton step otherwise (its error is second order
            in ``eps``). No gPINN term (``gamma_g`` 0). A solved stage that does not lower the equation
            residual is discarded. On eq. (3.44) (Fig. 13) one such stage took the error from 1.6e-3
            to 9.7e-14 in 29 s. One output only. ``"auto"`` (default): least squares where it applies (one
            output; with ``parameters``, ``constraints`` or ``symmetry`` in 1-D only), else trained
            stages. On eq. (3.3) (Figs. 11-12) a trained stage 0 and two solved stages reach 5e-16.
        stop_rule: When a trained stage stops: ``"budget"`` after ``adam_steps`` and
            ``lbfgs_iterations``; ``"gain"`` after a block of 500 Adam steps or L-BFGS iterations that
            lowered the loss by less than ``min_block_gain`` (caps still hold); ``"auto"`` (default):
            ``"gain"`` when ``stage_solver="auto"`` solves the later stages, else ``"budget"``.
        min_block_gain: See ``stop_rule``; above 1.
        least_squares_width: Features of a least-squares stage (at most a quarter of its collocation
            points). ``"auto"``: 1000 in 1-D, 2500 in 2-D, 3000 in 3-D and above
            (:data:`msnn_tf.pinn.objective.AUTO_LEAST_SQUARES_WIDTH`); under ``stage_solver="auto"`` a solved
            stage in ``d >= 2`` then takes six collocation points per feature and the matching density of
            condition points on the faces. A 2-D Poisson problem with a trigonometric solution stopped at
            2.5e-11 with 1000 features at 4 points each and reached 3e-15 with 2000 at 6; viscous Burgers
            (``burgers_1d``) 3.5e-12 with 2000 and 2e-13 with 2500 (docs/pde_suite.md).
        least_squares_kappa_factors: Candidates for ``kappa_hat / (pi f_d)``; each is solved on 7/8 of
            the collocation points, the lowest equation residual on the other 1/8 wins. While the top
            candidate is the best, the ladder goes on doubling (at most three more).
        gauss_newton_steps: Gauss-Newton steps after a least-squares stage's solve, on the same features
            (:meth:`~msnn_tf.pinn.linearized.LinearizedStage.refine`): the residual and the operator
            conditions are linearised again at the new solution and the output layer corrected; a step is
            kept if it lowers the stage loss, and the steps end after the first that lowers it less than
            twofold. None are taken when the residual and conditions are linear in ``u``. One solve of
            viscous Burgers' equation (``burgers_1d``) left the linearisation's second-order error; 0 turns
            the steps off.
        rescale_frozen_stages: A least-squares stage also solves for one factor on the sum of the
            stages before it (one more column of its solve; :meth:`~msnn_tf.StagedModel.scale_stage_outputs`
            applies it, the report's message gives it). A trained tanh stage 0 carries content that sin
            features cannot represent: on ``heat_periodic_1d`` one solved stage left 2.9e-9 RMS error
            with stage 0 as it was and 1.8e-15 with the factor (which then nearly removed stage 0).
            ``False`` keeps the paper's composition, every earlier stage frozen as trained.
        levenberg_marquardt_iterations: Levenberg-Marquardt iterations after a trained stage's Adam and
            L-BFGS (per stage; 0: none), on the same stage loss written as a sum of squared rows
            (:func:`~msnn_tf.levenberg_marquardt_minimize`): damped Gauss-Newton steps over the whole
            stage network and the parameters' corrections, each one solve of the rows' Jacobian. The run
            ends when three iterations in a row lower the loss by less than 5 %.
        seed: Seed of stage ``k``'s initialisers and samplers is ``seed + 1000 k``.
        parameter_network: For a problem with unknown ``parameters`` (section 4), whether a stage >= 1
            adds a second, low-frequency network ``eps_lambda U_lambda`` beside the one fitted to the
            residual (eq. 4.8): ``"auto"`` when the error that the parameter's uncertainty drives exceeds
            the residual's (``eps_lambda RMS(dr/dlambda) / sum_m RMS(beta_m) (2 pi f_lambda)^m`` against
            eq. 3.19's estimate, ``f_lambda`` the dominant frequency of ``dr/dlambda``), ``"always"`` or
            ``"never"``; per stage. The second network's prefactor is that error estimate (the paper
            uses ``eps_lambda`` itself), its first layer ``tanh`` like stage 0's.
        jit_compile: Compile the optimizers with XLA (for a problem with ``constraints`` the stage loss is
            compiled alone and the optimizer loops call it: see ``engine.train_adam_lbfgs``).
        verbose: 0 silent, 1 progress lines and a table (``fit(verbose=...)`` overrides it).
        strategy: A ``tf.distribute.Strategy`` (e.g. ``MirroredStrategy`` over several GPUs): trained
            stages split the collocation points across its replicas for Adam's steps and L-BFGS's loss
            and gradient; least-squares stages combine per-replica triangular factors (TSQR). Not a
            setting: it is not saved, pass it again to :meth:`load`. See :mod:`msnn_tf.distribute`.

    The settings are checked once and kept, immutable and JSON-ready, as :attr:`settings` (a
    :class:`~msnn_tf.engine.PINNSettings`); each is also readable as an attribute (``solver.width``).
    A later ``fit`` call continues from the stages already trained.
    """

    def __init__(self, problem: Problem, width=20, depth: int = 3, num_collocation=256, adam_steps=(3000, 3000),
                 learning_rate=2e-3, decay_rate: float = 0.5, decay_steps: float = 1000.0, lbfgs_iterations=(5000, 5000),
                 gradient_enhanced: bool = False, epsilon="auto", gamma="auto", gamma_g="auto", kappa="auto", rar_points=0,
                 resample_every=0, pretrain_steps: int = 500, pretrain_initial_gamma: float = 0.5, pretrain_max_rounds: int = 12,
                 record_loss_parts: bool = False, plateau_window: int | None = None, sin_bias_initializer: str = "phase",
                 bias_initializer: str | None = None,
                 first_stage_epsilon: float = 1.0, first_stage_activation: str = "tanh", first_stage_kappa: float = 1.0,
                 first_layer_init: str = "spectrum", kappa_factor: float = 1.5, points_safety: float = 2.0,
                 max_collocation: int = 20000, grid_points: int | None = None, open_margin: float = 0.0,
                 loss_weighting: str = "uniform", stage_solver: str = "auto", least_squares_width="auto",
                 least_squares_kappa_factors=(1.0, 2.0, 4.0, 8.0), gauss_newton_steps: int = 4,
                 rescale_frozen_stages: bool = True, levenberg_marquardt_iterations=0, seed: int = 0,
                 jit_compile: bool = True, verbose: int = 1,
                 parameter_network="auto", stop_rule: str = "auto", min_block_gain: float = 2.0, strategy=None):
        if not isinstance(problem, Problem):
            raise ValueError(f"`problem` must be a msnn.pinn.Problem, got {type(problem).__name__}")
        settings = PINNSettings(
            width=width, depth=depth, num_collocation=num_collocation, adam_steps=adam_steps,
            learning_rate=learning_rate, decay_rate=decay_rate, decay_steps=decay_steps,
            lbfgs_iterations=lbfgs_iterations, gradient_enhanced=gradient_enhanced, epsilon=epsilon, gamma=gamma,
            gamma_g=gamma_g, kappa=kappa, rar_points=rar_points, resample_every=resample_every,
            pretrain_steps=pretrain_steps, pretrain_initial_gamma=pretrain_initial_gamma,
            pretrain_max_rounds=pretrain_max_rounds, record_loss_parts=record_loss_parts,
            plateau_window=plateau_window, sin_bias_initializer=sin_bias_initializer,
            bias_initializer=bias_initializer, first_stage_epsilon=first_stage_epsilon,
            first_stage_activation=first_stage_activation, first_stage_kappa=first_stage_kappa,
            first_layer_init=first_layer_init, kappa_factor=kappa_factor, points_safety=points_safety,
            max_collocation=max_collocation, grid_points=grid_points, open_margin=open_margin,
            loss_weighting=loss_weighting, stage_solver=stage_solver, least_squares_width=least_squares_width,
            least_squares_kappa_factors=least_squares_kappa_factors, gauss_newton_steps=gauss_newton_steps,
            rescale_frozen_stages=rescale_frozen_stages,
            levenberg_marquardt_iterations=levenberg_marquardt_iterations, seed=seed,
            jit_compile=jit_compile, verbose=verbose, parameter_network=parameter_network, stop_rule=stop_rule,
            min_block_gain=min_block_gain)
        if settings.stage_solver == "least_squares" and problem.output_dim != 1:
            raise ValueError(f"`stage_solver='least_squares'` needs a problem with one output, got {problem.output_dim}")
        if settings.stage_solver == "least_squares" and (problem.parameters or problem.constraints or problem.symmetry) \
                and problem.domain.dim != 1:
            raise ValueError("`stage_solver='least_squares'` with `parameters`, `constraints` or `symmetry` needs a 1-D "
                             f"problem, got d={problem.domain.dim}")
        self.problem = problem
        self.objective = PINNObjective(problem, settings, check_strategy(strategy))
        self.model = self.objective.model
        self.history = PINNHistory()

    @property
    def settings(self) -> PINNSettings:
        """The solver's settings (assign a new :class:`~msnn_tf.engine.PINNSettings` to change them)."""
        return self.objective.settings

    @settings.setter
    def settings(self, value: PINNSettings) -> None:
        if not isinstance(value, PINNSettings):
            raise ValueError(f"`settings` must be a PINNSettings, got {type(value).__name__}")
        for name in ("grid_points", "open_margin"):  # they set up the solver's grids and training box
            if getattr(value, name) != getattr(self.objective.settings, name):
                raise ValueError(f"`{name}` cannot change after the solver is built (got {getattr(value, name)!r}): "
                                 "build a new MultiStagePINN")
        self.objective.settings = value

    @property
    def parameters(self) -> dict[str, float]:
        """The unknown parameters' current values, ``{name: float}`` (section 4; the initial values
        before ``fit``, ``{}`` for a problem without parameters)."""
        return self.objective.current_parameters()

    @property
    def training_domain(self):
        """The domain grown past its open faces by ``open_margin`` (where collocation points lie)."""
        return self.objective.training_domain

    def __getattr__(self, name):
        objective = self.__dict__.get("objective")
        if objective is not None and name in objective.settings.field_names():
            return getattr(objective.settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ public API
    def fit(self, num_stages: int = 3, callbacks=None, verbose: int | None = None) -> PINNHistory:
        """Trains up to ``num_stages`` more stages; returns (and keeps) the :class:`PINNHistory`.

        Args:
            num_stages: Stages to add, positive.
            callbacks: :class:`~msnn_tf.StageCallback` instances called at the fit, stage and block
                boundaries (a callback's ``stop_training`` ends training at the next boundary).
            verbose: 0 silent, 1 progress lines and a table; ``None`` keeps the constructor's.
        """
        num_stages = positive_int("num_stages", num_stages)
        callback_list = configure_callbacks(callbacks, self.settings.verbose if verbose is None else verbose,
                                            self.objective.title(num_stages))
        self.problem.check(lambda x: tf.zeros((tf.shape(x)[0], self.problem.output_dim), tf.float64))
        return run_stages(self.objective, num_stages, callback_list, self.history)

    def predict(self, x, num_stages: int | None = None) -> np.ndarray:
        """The solution at ``x`` (first ``num_stages`` stages), float64 ``(N, m)``."""
        if self.model.num_stages == 0:
            raise ValueError("the solver has no trained stage: call `fit` first")
        x = as_float64_matrix("x", x, columns=self.problem.domain.dim)
        return self.model.predict(x, num_stages=num_stages)

    def save(self, filepath) -> None:
        """Saves the model as a ``.keras`` file (weights bit for bit, the unknown parameters per stage)
        with the settings and the history in its config; written to a temporary name and renamed, so an
        interrupted save leaves the previous file. The problem (Python callables) is not saved: pass it
        again to :meth:`load`."""
        if self.model.num_stages == 0:
            raise ValueError("the solver has no trained stage: call `fit` first")
        self.model.metadata = {"format": SAVE_FORMAT, "version": SAVE_VERSION, "settings": self.settings.to_dict(),
                               "history": self.history.to_file_dict()}
        save_model_atomically(self.model, filepath)

    @classmethod
    def load(cls, filepath, problem: Problem, **kwargs) -> "MultiStagePINN":
        """The solver :meth:`save` wrote, for ``problem`` (the same equation and domain): its stages,
        settings (``kwargs`` override them, e.g. ``verbose=0``) and history. ``fit`` continues from the
        last saved stage.

        Raises:
            ValueError: naming the file: missing, truncated or corrupted, not a PINN model, of a newer
                format version, or a model whose inputs, outputs, box or parameters differ from ``problem``'s.
        """
        model = load_staged_model(filepath)
        metadata = model.metadata or {}
        name = repr(str(filepath))
        if metadata.get("format") != SAVE_FORMAT:
            raise ValueError(f"{name} does not hold a MultiStagePINN (format {metadata.get('format')!r})")
        check_version(metadata.get("version"), SAVE_VERSION, name, "PINN")
        if not isinstance(problem, Problem):
            raise ValueError(f"`problem` must be a msnn.pinn.Problem, got {type(problem).__name__}")
        domain = problem.domain
        if (model.input_dim, model.output_dim) != (domain.dim, problem.output_dim) or not (
                np.allclose(model.lower, domain.lower, rtol=0, atol=0) and np.allclose(model.upper, domain.upper, rtol=0, atol=0)):
            raise ValueError(f"{name} maps {model.input_dim} input(s) on {model.lower}..{model.upper} to {model.output_dim} "
                             f"output(s); the problem has {domain.dim} on {domain.lower.tolist()}..{domain.upper.tolist()} "
                             f"and {problem.output_dim}")
        if set(model.parameters) - set(problem.parameters):
            raise ValueError(f"{name} holds parameters {sorted(model.parameters)}; the problem declares "
                             f"{sorted(problem.parameters)}")
        strategy = kwargs.pop("strategy", None)
        settings = {**dict(metadata.get("settings") or {}), **kwargs}
        try:
            restored = PINNSettings.from_dict({**PINNSettings().to_dict(), **settings})
        except TypeError as error:
            raise ValueError(f"{name}: settings not understood ({error})") from None
        # grid_points and open_margin build the solver's grids: give them to the constructor, the rest after.
        solver = cls(problem, grid_points=restored.grid_points, open_margin=restored.open_margin, strategy=strategy)
        solver.settings = restored
        solver.objective.model = solver.objective.analyzer.model = solver.model = model
        if metadata.get("history") is not None:
            solver.history = PINNHistory.from_file_dict(metadata["history"], name)
        return solver

    def evaluate(self, x=None, num_stages: int | None = None) -> dict[str, float]:
        """``{"rms", "max"}`` of the error against the problem's exact solution at ``x`` (default: the
        uniform evaluation grid of the reports, 8000 points in 1-D, 201^2 in 2-D, 41^3 in 3-D).

        Raises:
            ValueError: the problem has no ``exact`` solution, or no stage is trained.
        """
        if self.problem.exact is None:
            raise ValueError("`evaluate` needs the problem's `exact` solution; the problem was built without one")
        x = self.objective.eval_grid if x is None else as_float64_matrix("x", x, columns=self.problem.domain.dim)
        error = np.asarray(self.problem.exact(x), dtype=np.float64).reshape(len(x), -1) - self.predict(x, num_stages)
        return {"rms": float(np.sqrt(np.mean(error**2))), "max": float(np.max(np.abs(error)))}

    def residual(self, x, num_stages: int | None = None) -> np.ndarray:
        """The equation residual of the current model at ``x``, ``(N, k)``."""
        return self.objective.residual(as_float64_matrix("x", x, columns=self.problem.domain.dim), num_stages)

    def refinement_points(self, count: int, candidates: int | None = None, seed: int | None = None) -> np.ndarray:
        """RAR (residual-based adaptive refinement, section 3.3.2): the ``count`` points, among
        ``candidates`` random points of the domain (default ``20 * count``), where ``|r|`` of the
        current model is largest."""
        return self.objective.refinement_points(count, candidates, seed)
