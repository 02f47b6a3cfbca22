"""MultiStagePINN: multi-stage physics-informed training (paper, Algorithm 4, section 3.4).

Stage 0 trains a tanh network on the loss of eq. (3.1) (or eq. 3.38 with ``gradient_enhanced``).
Every later stage ``k`` reads the equation residual ``r_k`` of the current model on a uniform grid,
takes its RMS ``eps_r`` and per-axis dominant frequencies ``f_i`` (eqs. 3.16, 3.18), obtains
``beta_m = dr/du^(m)`` by differentiating the residual with respect to each derivative it reads
at the current solution, sets the magnitude ``eps_k = eps_r / sum_m RMS(beta_m) prod_i (2 pi f_i)^m_i``
(eq. 3.19; the sum runs over every term, not only the highest derivatives, so that a small
coefficient on the highest derivative picks the dominant term, Appendix C eq. C.6), the equation weight ``gamma = eps_k^2 / (eps_k^2 + eps_r^2)`` (eq. 3.32 with ``L_d ~ eps_k^2``
and ``L_e ~ eps_r^2``, ``eps_k`` the estimate of eq. 3.19 even when the condition mismatch sets the
prefactor) and, for gPINN, ``gamma_g = ||r||^2 / ||grad r||^2`` (eq. 3.40); it then trains
``u_k^(c) = u_{k-1}^(c) + eps_k u_k(x, kappa_k)`` (eqs. 3.41-3.42) with every earlier stage frozen.

Frozen stages do not change within a stage, so their values and derivatives at the collocation and
condition points are computed once per stage: the cost of a step does not grow with the stage index.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import scipy.linalg
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.derivatives import Partials, partial_derivatives
from msnn_tf.least_squares import feature_network, held_out_mask
from msnn_tf.networks import build_stage_network
from msnn_tf.optimizers import FlatParameters, adam_minimize, lbfgs_minimize
from msnn_tf.pinn.problem import Problem
from msnn_tf.pinn.weights import pretrain_equation_weight
from msnn_tf.weighting import boundary_weights
from msnn_tf.reporting import ProgressPrinter
from msnn_tf.staged_model import StagedModel
from msnn_tf.validation import as_float64_matrix, non_negative_ints, per_stage, positive_finite, positive_finites, positive_int

__all__ = ["MultiStagePINN", "PINNHistory", "PINNStageReport"]


def _requests(indices):
    """Multi-indices (order per axis) as derivative requests for :func:`partial_derivatives`."""
    return [dict(enumerate(index)) for index in indices]


@dataclasses.dataclass(frozen=True)
class PINNStageReport:
    """What one PINN stage did (immutable).

    Attributes:
        stage: Stage index (0 is the first network).
        epsilon: Magnitude prefactor ``eps_k`` (eq. 3.19, or hand-set; ``first_stage_epsilon`` for stage 0).
        residual_rms: RMS of the equation residual the stage started from (``eps_r``).
        dominant_frequency: ``f_d`` of that residual per input axis (cycles per unit of the input).
        beta_rms: RMS of ``beta_m = dr/du^(m)`` per derivative term of the residual (eq. 3.14), in the
            order of ``beta_keys``.
        beta_keys: Multi-indices (order per input axis) of those terms; ``(0, .., 0)`` is ``u``.
        condition_rms: RMS mismatch of the conditions at the stage start (NaN for stage 0); the
            automatic ``epsilon`` is the larger of eq. (3.19) and this.
        kappa: Scale factor of the first layer; ``kappa_hat`` its modified value (eq. 2.8) or, for a
            spectrum-initialised layer, the RMS initial angular frequency.
        kappa_hat: See ``kappa``.
        gamma: Equation weight of eq. (3.1) (raw-loss convention).
        gamma_rounds: With ``gamma="pretrain"``, Algorithm 3's ``(gamma, C_d, C_e, R_c)`` per round.
        loss_parts: With ``record_loss_parts``, ``(L_d, L_e)`` before every Adam step, else ``None``.
        gamma_g: Gradient-loss weight of eq. (3.38) (0 without gPINN).
        num_collocation: Collocation points of the stage.
        adam_steps: Adam steps taken; ``lbfgs_iterations`` L-BFGS iterations taken.
        lbfgs_iterations: See ``adam_steps``.
        losses: Normalised stage loss at the recorded iterations; ``loss_iterations`` those iterations.
        loss_iterations: See ``losses``.
        data_loss: ``L_d`` at the end of the stage; ``equation_loss`` ``L_e`` (raw, eq. 3.2).
        equation_loss: See ``data_loss``.
        residual_rms_after: RMS of the residual after the stage (uniform grid).
        estimated_error: The error estimate of eq. (3.19) from that residual.
        true_rms: RMS error against the exact solution after the stage (``None`` without one);
            ``true_max`` the max-abs error.
        true_max: See ``true_rms``.
        wall_time: Seconds spent on the stage.
        accepted: ``False`` when the stage was discarded (non-finite loss, or a least-squares stage
            that did not lower the equation residual).
        message: What happened.
    """

    stage: int
    epsilon: float
    residual_rms: float
    dominant_frequency: tuple[float, ...]
    beta_rms: tuple[float, ...]
    beta_keys: tuple[tuple[int, ...], ...]
    condition_rms: float
    kappa: float
    kappa_hat: float
    gamma: float
    gamma_rounds: tuple
    loss_parts: np.ndarray | None
    gamma_g: float
    num_collocation: int
    adam_steps: int
    lbfgs_iterations: int
    losses: np.ndarray
    loss_iterations: np.ndarray
    data_loss: float
    equation_loss: float
    residual_rms_after: float
    estimated_error: float
    true_rms: float | None
    true_max: float | None
    wall_time: float
    accepted: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for key, value in dataclasses.asdict(self).items():
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


@dataclasses.dataclass
class PINNHistory:
    """Reports of every stage, total wall time and how training ended."""

    stages: list = dataclasses.field(default_factory=list)
    wall_time: float = 0.0
    message: str = ""

    def table(self) -> str:
        header = (f"{'stage':>5} {'epsilon':>10} {'resid RMS':>10} {'f_d':>14} {'gamma':>9} {'gamma_g':>9} "
                  f"{'points':>6} {'iters':>6} {'resid after':>11} {'est. error':>10} {'true RMS':>10} {'time s':>7}  status")
        lines = [header, "-" * len(header)]
        for r in self.stages:
            fd = ",".join(f"{f:.2f}" for f in r.dominant_frequency)
            true = f"{r.true_rms:10.3e}" if r.true_rms is not None else f"{'-':>10}"
            lines.append(f"{r.stage:>5} {r.epsilon:10.3e} {r.residual_rms:10.3e} {fd:>14} {r.gamma:9.2e} {r.gamma_g:9.2e} "
                         f"{r.num_collocation:>6} {r.adam_steps + r.lbfgs_iterations:>6} {r.residual_rms_after:11.3e} "
                         f"{r.estimated_error:10.3e} {true} {r.wall_time:7.1f}  {'ok' if r.accepted else 'discarded'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [s.to_dict() for s in self.stages], "wall_time": self.wall_time, "message": self.message}


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
        stage_solver: ``"adam_lbfgs"`` (default): every stage trained, Adam then L-BFGS (Algorithm 4).
            ``"least_squares"``: stages >= 1 are one-hidden-layer ``sin`` networks (Xavier-normal, ``kappa``
            from eq. 2.9 with f_d of the residual) whose output layer minimises the stage loss of eq.
            (3.1) with the residual linearised at the current solution, ``r(u + eps v) ~ r(u) + eps
            sum_m beta_m d^m v`` (``beta_m`` pointwise, eq. 3.17): one linear least-squares solve, exact
            for equations linear in ``u``, one Gauss-Newton step otherwise (its error is second order
            in ``eps``). No gPINN term (``gamma_g`` 0). A solved stage that does not lower the equation
            residual is discarded. On eq. (3.44) (Fig. 13) one such stage took the error from 1.6e-3
            to 9.7e-14 in 29 s. One output only.
        least_squares_width: Features of a least-squares stage (at most a quarter of its collocation
            points).
        least_squares_kappa_factors: Candidates for ``kappa_hat / (pi f_d)``; each is solved on 7/8 of
            the collocation points, the lowest equation residual on the other 1/8 wins.
        seed: Seed of stage ``k``'s initialisers and samplers is ``seed + 1000 k``.
        jit_compile: Compile the optimizers with XLA.
        verbose: 0 silent, 1 progress lines and a table.
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
                 loss_weighting: str = "uniform", stage_solver: str = "adam_lbfgs", least_squares_width=1000,
                 least_squares_kappa_factors=(1.0, 2.0, 4.0, 8.0), seed: int = 0, jit_compile: bool = True, verbose: int = 1):
        if not isinstance(problem, Problem):
            raise ValueError(f"`problem` must be a msnn.pinn.Problem, got {type(problem).__name__}")
        if first_layer_init not in ("spectrum", "xavier"):
            raise ValueError(f"`first_layer_init` must be 'spectrum' or 'xavier', got {first_layer_init!r}")
        if verbose not in (0, 1):
            raise ValueError(f"`verbose` must be 0 or 1, got {verbose!r}")
        for name, value in (("epsilon", epsilon), ("gamma", gamma), ("gamma_g", gamma_g), ("kappa", kappa)):
            for v in (value if isinstance(value, (list, tuple)) else [value]):
                if v == "pretrain" and name == "gamma":
                    continue
                if v != "auto" and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                    allowed = "'auto', 'pretrain'" if name == "gamma" else "'auto'"
                    raise ValueError(f"`{name}` must be {allowed} or positive numbers, got {value!r}")
        for v in (gamma if isinstance(gamma, (list, tuple)) else [gamma]):
            if v not in ("auto", "pretrain") and not v < 1:
                raise ValueError(f"`gamma` must be in (0, 1), got {gamma!r}")
        if not (isinstance(pretrain_initial_gamma, (int, float)) and 0 < pretrain_initial_gamma < 1):
            raise ValueError(f"`pretrain_initial_gamma` must be in (0, 1), got {pretrain_initial_gamma!r}")
        if stage_solver not in ("adam_lbfgs", "least_squares"):
            raise ValueError(f"`stage_solver` must be 'adam_lbfgs' or 'least_squares', got {stage_solver!r}")
        if stage_solver == "least_squares" and problem.output_dim != 1:
            raise ValueError(f"`stage_solver='least_squares'` needs a problem with one output, got {problem.output_dim}")
        self.stage_solver = stage_solver
        self.least_squares_width = positive_int("least_squares_width", least_squares_width)
        self.least_squares_kappa_factors = positive_finites("least_squares_kappa_factors", least_squares_kappa_factors)
        self.resample_every = non_negative_ints("resample_every", resample_every)
        if first_stage_activation not in ("tanh", "sin"):
            raise ValueError(f"`first_stage_activation` must be 'tanh' or 'sin', got {first_stage_activation!r}")
        self.first_stage_epsilon = positive_finite("first_stage_epsilon", first_stage_epsilon)
        self.first_stage_activation = first_stage_activation
        self.first_stage_kappa = positive_finite("first_stage_kappa", first_stage_kappa)
        self.pretrain_steps = positive_int("pretrain_steps", pretrain_steps)
        self.pretrain_initial_gamma = float(pretrain_initial_gamma)
        self.pretrain_max_rounds = positive_int("pretrain_max_rounds", pretrain_max_rounds)
        self.record_loss_parts = bool(record_loss_parts)
        if plateau_window is not None:
            positive_int("plateau_window", plateau_window)
        self.plateau_window = plateau_window
        if sin_bias_initializer not in ("phase", "zeros"):
            raise ValueError(f"`sin_bias_initializer` must be 'phase' or 'zeros', got {sin_bias_initializer!r}")
        self.sin_bias_initializer = sin_bias_initializer
        if bias_initializer not in (None, "glorot"):
            raise ValueError(f"`bias_initializer` must be None or 'glorot', got {bias_initializer!r}")
        self.bias_initializer = bias_initializer
        self.problem = problem
        self.width = width
        self.depth = positive_int("depth", depth)
        self.num_collocation = num_collocation
        self.adam_steps = adam_steps
        self.learning_rate = learning_rate
        self.decay_rate = float(decay_rate)
        self.decay_steps = float(decay_steps)
        self.lbfgs_iterations = lbfgs_iterations
        self.gradient_enhanced = bool(gradient_enhanced)
        self.epsilon = epsilon
        self.gamma = gamma
        self.gamma_g = gamma_g
        self.kappa = kappa
        self.rar_points = non_negative_ints("rar_points", rar_points)
        self.first_layer_init = first_layer_init
        self.kappa_factor = float(kappa_factor)
        self.points_safety = float(points_safety)
        self.max_collocation = positive_int("max_collocation", max_collocation)
        if not (isinstance(open_margin, (int, float)) and math.isfinite(open_margin) and 0 <= open_margin <= 1):
            raise ValueError(f"`open_margin` must be a number in [0, 1], got {open_margin!r}")
        self.open_margin = float(open_margin)
        self.training_domain = problem.domain.expanded(problem.open_faces(), self.open_margin)
        if loss_weighting not in ("uniform", "chebyshev"):
            raise ValueError(f"`loss_weighting` must be 'uniform' or 'chebyshev', got {loss_weighting!r}")
        self.loss_weighting = loss_weighting
        d = problem.domain.dim
        self.grid_points = positive_int("grid_points", grid_points or (2001 if d == 1 else (161 if d == 2 else 31)))
        self.seed = int(seed)
        self.jit_compile = bool(jit_compile)
        self.verbose = verbose
        domain = problem.domain
        self.model = StagedModel(d, lower=domain.lower.tolist(), upper=domain.upper.tolist(), output_dim=problem.output_dim)
        self.history = PINNHistory()
        self._grid = self._uniform_grid(self.grid_points)
        self._eval_grid = self._uniform_grid(8000 if d == 1 else (201 if d == 2 else 41))

    # ------------------------------------------------------------------ public API
    def fit(self, num_stages: int = 3) -> PINNHistory:
        """Trains up to ``num_stages`` stages; returns (and keeps) the :class:`PINNHistory`."""
        num_stages = positive_int("num_stages", num_stages)
        printer = ProgressPrinter(self.verbose)
        start = time.perf_counter()
        self.problem.check(lambda x: tf.zeros((tf.shape(x)[0], self.problem.output_dim), tf.float64))
        printer(f"MultiStagePINN: {num_stages} stage(s), d={self.problem.domain.dim}, "
                f"{'gPINN' if self.gradient_enhanced else 'PINN'}")
        for _ in range(num_stages):
            stage = self.model.num_stages
            report = self._fit_stage(stage, printer)
            self.history.stages.append(report)
            if not report.accepted:
                printer(f"stage {stage} discarded: {report.message}")
                self.history.message = f"stopped at stage {stage}: {report.message}"
                break
            printer(f"stage {stage} done: residual RMS {report.residual_rms_after:.3e}, estimated error "
                    f"{report.estimated_error:.3e}" + (f", true RMS error {report.true_rms:.3e}" if report.true_rms is not None else "")
                    + f" ({report.wall_time:.1f} s)")
        else:
            self.history.message = f"trained {num_stages} stage(s)"
        self.history.wall_time += time.perf_counter() - start
        printer(self.history.table())
        return self.history

    def predict(self, x, num_stages: int | None = None) -> np.ndarray:
        """The solution at ``x`` (first ``num_stages`` stages), float64 ``(N, m)``."""
        if self.model.num_stages == 0:
            raise ValueError("the solver has no trained stage: call `fit` first")
        x = as_float64_matrix("x", x, columns=self.problem.domain.dim)
        return self.model.predict(x, num_stages=num_stages)

    def residual(self, x, num_stages: int | None = None) -> np.ndarray:
        """The equation residual of the current model at ``x``, ``(N, k)``."""
        x = tf.constant(as_float64_matrix("x", x, columns=self.problem.domain.dim))
        partials = self._model_partials(x, self._residual_keys(), num_stages)
        return self.problem.residual_values(x, partials).numpy()

    # ------------------------------------------------------------------ internals
    def _uniform_grid(self, per_axis: int) -> np.ndarray:
        domain = self.problem.domain
        axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(domain.lower, domain.upper)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, domain.dim)

    def _residual_keys(self, plus_one: bool = False):
        keys = {tuple(0 for _ in range(self.problem.domain.dim))} | set(self.problem.orders)
        if plus_one:
            for index in list(keys):
                for axis in range(len(index)):
                    keys.add(tuple(o + (1 if a == axis else 0) for a, o in enumerate(index)))
        return sorted(keys)

    def _point_weights(self, points, points_per_axis=None) -> np.ndarray:
        """Loss weight per point ``(N, 1)``: ones, or Chebyshev weights in the training box."""
        if self.loss_weighting == "uniform":
            return np.ones((len(points), 1))
        box = self.training_domain
        scaled = 2.0 * (np.asarray(points) - box.lower) / (box.upper - box.lower) - 1.0
        return boundary_weights(np.clip(scaled, -1.0, 1.0), points_per_axis)

    def _stage_function(self, network):
        scaling = self.model.input_scaling
        return lambda x: network(scaling(x))

    def _model_partials(self, x, keys, num_stages=None) -> Partials:
        """Partials of ``sum_j eps_j u_j`` (first ``num_stages`` stages) at ``x`` for ``keys``."""
        count = self.model.num_stages if num_stages is None else num_stages
        total = None
        for network, epsilon in zip(self.model.stage_networks[:count], self.model.epsilons[:count]):
            # In blocks of rows: nested tapes keep every intermediate, (rows x width) numbers each, which
            # for a least-squares stage (1000 units) on a 161^2 grid would take tens of GB.
            rows = max(256, 2_000_000 // max(layer.units for layer in network.layers if hasattr(layer, "units")))
            blocks = [partial_derivatives(self._stage_function(network), x[lo:lo + rows], _requests(keys))
                      for lo in range(0, int(x.shape[0]), rows)]
            partials = Partials({k: tf.concat([b.values[k] for b in blocks], axis=0) for k in keys},
                                self.problem.domain.dim).scaled(tf.constant(epsilon, tf.float64))
            total = partials if total is None else total + partials
        if total is None:
            # One tensor per key: a shared one would merge the keys' gradients (beta_m) on a tape.
            total = Partials({k: tf.zeros((x.shape[0], self.problem.output_dim), tf.float64) for k in keys},
                             self.problem.domain.dim)
        return Partials(total.values, self.problem.domain.dim, self.problem.domain.axis_names)

    def _analyse(self, num_stages=None):
        """Residual RMS, per-axis f_d (input units), beta RMS per residual term, the eq. 3.19 estimate, gamma_g, filtered error."""
        x = tf.constant(self._grid)
        keys = self._residual_keys(plus_one=True)
        partials = self._model_partials(x, keys, num_stages)
        problem = self.problem
        term_keys = self._residual_keys()
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            for key in keys:
                tape.watch(partials.values[key])
            residual = problem.residual_values(x, partials)
        r = residual.numpy()
        value = r[:, 0] if r.shape[1] == 1 else np.sqrt(np.sum(r**2, axis=1))
        eps_r = spectral.rms(r)
        frequencies = spectral.dominant_frequencies(self._grid, value) if eps_r > 0 else np.zeros(problem.domain.dim)
        span = problem.domain.upper - problem.domain.lower
        frequencies = np.maximum(frequencies, 1.0 / span)  # at least one period over the domain
        # Eq. (3.19) with every derivative term of the residual, not only the highest: the sum of
        # RMS(beta_m) prod_i (2 pi f_i)^m_i over all m picks the dominant term by itself, which is what
        # Appendix C (eq. C.6) asks for when a small coefficient multiplies the highest derivative
        # (singular perturbation); for other equations the highest term dominates and this is eq. (3.19).
        betas, denominator = [], 0.0
        for key in term_keys:
            beta = tape.gradient(residual, partials.values[key], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            beta_rms = spectral.rms(beta.numpy())
            betas.append(beta_rms)
            denominator += beta_rms * float(np.prod((2.0 * math.pi * frequencies) ** np.asarray(key)))
        estimate = eps_r / denominator if denominator > 0 else eps_r
        # Eq. (3.19) divides the whole residual by its dominant frequency's factor; a residual with
        # a broad spectrum also drives low-frequency error that this misses. Dividing every spectral
        # component by its own factor sum_m RMS(beta_m) prod_i (2 pi f_i)^m_i (floored at 1, the scale
        # of a normalised equation's terms) estimates the error spectrum itself.
        error_values = self._filtered_error(value, term_keys, betas)
        estimate = max(estimate, spectral.rms(error_values))
        gradient = self._residual_gradient(tape, x, residual, partials).numpy()
        del tape
        gradient_rms = spectral.rms(np.sqrt(np.sum(gradient**2, axis=1)))
        gamma_g = (eps_r / gradient_rms) ** 2 if gradient_rms > 0 else 1.0
        return eps_r, frequencies, tuple(betas), estimate, gamma_g, error_values

    def _filtered_error(self, values, term_keys, betas) -> np.ndarray:
        """The residual on the uniform grid with each Fourier component divided by its eq. (3.19) factor."""
        domain = self.problem.domain
        shape = (self.grid_points,) * domain.dim
        grid = np.asarray(values, dtype=np.float64).reshape(shape)
        spacings = (domain.upper - domain.lower) / (self.grid_points - 1)
        spectrum = np.fft.fftn(grid)
        axes = np.meshgrid(*[np.abs(np.fft.fftfreq(n, d=h)) for n, h in zip(shape, spacings)], indexing="ij")
        factor = np.zeros(shape)
        for key, beta in zip(term_keys, betas):
            term = np.full(shape, beta)
            for axis, order in enumerate(key):
                term = term * (2.0 * math.pi * axes[axis]) ** order
            factor = factor + term
        return np.real(np.fft.ifftn(spectrum / np.maximum(factor, 1.0))).reshape(-1)

    def _residual_gradient(self, tape, x, residual, partials):
        """``grad_x r`` by the chain rule through the derivatives the residual reads: ``(N, d)``."""
        d = self.problem.domain.dim
        explicit = tape.gradient(residual, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        columns = [explicit[:, i] for i in range(d)]
        for key in self._residual_keys():
            through = tape.gradient(residual, partials.values[key], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            for i in range(d):
                higher = tuple(o + (1 if a == i else 0) for a, o in enumerate(key))
                columns[i] = columns[i] + tf.reduce_sum(through * partials.values[higher], axis=1)
        return tf.stack(columns, axis=1)

    def _collocation(self, stage, frequencies, draw: int = 0, refinement=None):
        domain = self.training_domain
        base = int(per_stage("num_collocation", self.num_collocation, stage))
        scaled = frequencies * (domain.upper - domain.lower) / 2.0
        per_axis = [spectral.min_points_for_frequency(f, self.points_safety) for f in scaled]
        wanted = min(self.max_collocation, max(base, int(np.prod(per_axis))))
        seed = self.seed + 1000 * stage + (0 if draw == 0 else 100003 * draw)
        points = domain.sample(wanted, "latin_hypercube", seed=seed)
        if domain.dim == 1:
            points = np.concatenate([points, domain.lower[None, :], domain.upper[None, :]])
        if refinement is not None:
            points = np.concatenate([points, refinement])
        return points

    def _refinement(self, stage):
        """The RAR points of stage ``stage`` (``None`` without), chosen once per stage."""
        extra = int(per_stage("rar_points", self.rar_points, stage))
        if extra > 0 and self.model.num_stages > 0:
            return self.refinement_points(extra, seed=self.seed + 1000 * stage + 1)
        return None

    def refinement_points(self, count: int, candidates: int | None = None, seed: int | None = None) -> np.ndarray:
        """RAR (residual-based adaptive refinement, section 3.3.2): the ``count`` points, among
        ``candidates`` random points of the domain (default ``20 * count``), where ``|r|`` of the
        current model is largest."""
        count = positive_int("count", count)
        candidates = positive_int("candidates", candidates or 20 * count)
        pool = self.training_domain.sample(max(candidates, count), "random", seed=seed)
        values = np.abs(self.residual(pool))
        score = values.max(axis=1)
        return pool[np.argsort(score)[::-1][:count]]

    def _fit_stage(self, stage: int, printer: ProgressPrinter) -> PINNStageReport:
        stage_start = time.perf_counter()
        setup = self._prepare_stage(stage, printer)
        return self._train_stage(stage, setup, printer, stage_start)

    def _prepare_stage(self, stage: int, printer: ProgressPrinter | None = None) -> dict:
        """Settings, network, collocation points and the compiled-ready objective of stage ``stage``."""
        problem = self.problem
        d = problem.domain.dim
        width = int(per_stage("width", self.width, stage))
        adam_steps = int(per_stage("adam_steps", self.adam_steps, stage))
        lbfgs_iterations = int(per_stage("lbfgs_iterations", self.lbfgs_iterations, stage))
        learning_rate = float(per_stage("learning_rate", self.learning_rate, stage))
        eps_r, frequencies, betas, estimate, gamma_g, residual_values = self._analyse()
        first_layer_frequencies = None
        if stage == 0:
            epsilon, activation, kappa = self.first_stage_epsilon, self.first_stage_activation, self.first_stage_kappa
            output_scale = 1.0
            condition_rms = float("nan")
            data_scale = gamma_scale = epsilon
        else:
            hand = per_stage("epsilon", self.epsilon, stage - 1)
            # Eq. (3.19) assumes the conditions are met; an error driven by the conditions (e.g. u(0)) has
            # the size of their mismatch, which the residual does not show: take the larger of the two.
            x_cond, y_cond = problem.condition_data(seed=self.seed, domain=self.training_domain)
            condition_rms = spectral.rms(y_cond - self.model.predict(x_cond))
            epsilon = max(estimate, condition_rms) if hand == "auto" else float(hand)
            # When epsilon lies above eq. (3.19)'s estimate (set by the condition mismatch, or by hand), a
            # network started at unit output would put a residual (eps / estimate) x eps_r into the
            # equation at its frequencies, which training must first cancel: start its output layer at
            # estimate / eps of its size instead.
            output_scale = estimate / epsilon if 0 < estimate < epsilon else 1.0
            activation = "sin"
            data_scale = epsilon
            # Eq. (3.32) takes L_d ~ eps_k^2 with eps_k the magnitude of eq. (3.19) (section 3.2.1), not the
            # current condition mismatch: a mismatch then costs as much as the error the residual drives,
            # so a stage does not leave its conditions' mismatch (the error on the faces, which later
            # stages can only remove through boundary layers) far above its interior error.
            gamma_scale = estimate if (hand == "auto" and estimate > 0) else epsilon
            scaled_frequencies = frequencies * (problem.domain.upper - problem.domain.lower) / 2.0
            hand_kappa = per_stage("kappa", self.kappa, stage - 1)
            if hand_kappa != "auto":
                kappa = float(hand_kappa)
            elif self.first_layer_init == "spectrum":
                kappa = 1.0
                h = self.model.scale_inputs(self._grid).numpy()
                per_axis = self.grid_points
                first_layer_frequencies = spectral.sample_spectrum_frequencies(
                    h, residual_values, width, seed=self.seed + 1000 * stage, max_frequency=per_axis / (6.0 * math.pi))
            else:
                kappa = spectral.kappa_for_frequency(float(np.max(scaled_frequencies)), fan_in=d, units=width,
                                                     factor=self.kappa_factor)
        hand_gamma = per_stage("gamma", self.gamma, stage)
        gamma = (gamma_scale**2 / (gamma_scale**2 + eps_r**2)) if hand_gamma in ("auto", "pretrain") else float(hand_gamma)
        hand_gamma_g = per_stage("gamma_g", self.gamma_g, stage)
        gamma_g = 0.0 if not self.gradient_enhanced else (gamma_g if hand_gamma_g == "auto" else float(hand_gamma_g))

        def new_network():
            built = build_stage_network(d, width=width, depth=self.depth, kappa=kappa, first_activation=activation,
                                        bias_initializer=self.bias_initializer or ("zeros" if activation == "tanh" else self.sin_bias_initializer),
                                        seed=self.seed + 1000 * stage, name=f"stage_{stage}",
                                        first_layer_frequencies=first_layer_frequencies, output_dim=problem.output_dim)
            if output_scale != 1.0:
                built.layers[-1].kernel.assign(built.layers[-1].kernel * output_scale)
                built.layers[-1].bias.assign(built.layers[-1].bias * output_scale)
            return built

        network = new_network()
        kappa_hat = (network.layers[0].kappa_hat if first_layer_frequencies is None else
                     float(2.0 * math.pi * np.sqrt(np.mean(np.sum(first_layer_frequencies**2, axis=1)))))
        refinement = self._refinement(stage)
        x_c_np = self._collocation(stage, frequencies, refinement=refinement)
        x_d_np, y_d_np = problem.condition_data(seed=self.seed + 1000 * stage, domain=self.training_domain)
        printer = printer or ProgressPrinter(0)

        # Collocation points and the frozen stages' partials there live in variables: resampling
        # (``resample_every``) assigns new values; the compiled objective reads them.
        resample_every = int(per_stage("resample_every", self.resample_every, stage))
        keys = self._residual_keys(plus_one=self.gradient_enhanced)
        x_c = tf.Variable(x_c_np, trainable=False, name="collocation")
        per_axis = len(x_c_np) ** (1.0 / d)
        w_c = tf.Variable(self._point_weights(x_c_np), trainable=False, name="collocation_weights")
        w_d = tf.constant(self._point_weights(x_d_np, per_axis))
        frozen_values = {k: tf.Variable(v, trainable=False) for k, v in self._model_partials(tf.constant(x_c_np), keys).values.items()}
        x_d, y_d = tf.constant(x_d_np), tf.constant(y_d_np)
        frozen_data = tf.constant(self.model.predict(x_d_np) if self.model.num_stages else np.zeros_like(y_d_np))
        draws = [0]

        def resample(step=None):
            draws[0] += 1
            points = self._collocation(stage, frequencies, draw=draws[0], refinement=refinement)
            x_c.assign(points)
            w_c.assign(self._point_weights(points))
            for key, value in self._model_partials(tf.constant(points), keys).values.items():
                frozen_values[key].assign(value)

        def objective(gamma, network):
            # Loss normalisation: both terms are O(1) at the stage start (eq. 3.32 balance, see module doc).
            loss_scale = (1.0 - gamma) * data_scale**2 + gamma * eps_r**2
            loss_scale = loss_scale if loss_scale > 0 else 1.0
            return self._objective(network, x_c, x_d, y_d, frozen_values, frozen_data, keys, epsilon, gamma, gamma_g,
                                   loss_scale, w_c, w_d)

        gamma_rounds = ()
        if hand_gamma == "pretrain":
            def build(trial_gamma):
                vg, trial_flat, trial_parts = objective(trial_gamma, new_network())
                return vg, trial_parts, trial_flat.pack()

            search = pretrain_equation_weight(
                build, initial_gamma=self.pretrain_initial_gamma, pretrain_steps=self.pretrain_steps,
                learning_rate=learning_rate, jit_compile=self.jit_compile, max_rounds=self.pretrain_max_rounds,
                callback=lambda i, g, r: printer(f"stage {stage}: Algorithm 3 round {i}: gamma {g:.3e}, R_c {r:.3e}"))
            gamma, gamma_rounds = search.gamma, search.rounds
        printer(f"stage {stage}: epsilon {epsilon:.3e}, residual RMS {eps_r:.3e}, f_d {np.array2string(frequencies, precision=2)}, "
                f"gamma {gamma:.2e}, gamma_g {gamma_g:.2e}, kappa_hat {kappa_hat:.2f} ({activation}), "
                f"{x_c_np.shape[0]} collocation points" + (f", resampled every {resample_every} Adam steps" if resample_every else ""))
        least_squares = stage > 0 and self.stage_solver == "least_squares"
        if least_squares:
            gamma_g = 0.0  # the solve fits the equation and conditions exactly in the output layer
        value_and_gradients, flat, parts = objective(gamma, network)
        return dict(least_squares=least_squares, objective=objective, condition_points=(x_d_np, y_d_np),
                    condition_weights=w_d, frozen_data=frozen_data, collocation_weights=w_c,
                    gamma_rounds=gamma_rounds, resample=resample, resample_every=resample_every,
                    collocation=x_c, frozen_values=frozen_values, keys=keys,
                    condition_rms=condition_rms, epsilon=epsilon, eps_r=eps_r, frequencies=frequencies, betas=betas, estimate=estimate, kappa=kappa,
                    kappa_hat=kappa_hat, gamma=gamma, gamma_g=gamma_g, network=network, num_collocation=int(x_c_np.shape[0]),
                    value_and_gradients=value_and_gradients, flat=flat, parts=parts, adam_steps=adam_steps,
                    lbfgs_iterations=lbfgs_iterations, learning_rate=learning_rate)

    def _train_stage(self, stage: int, setup: dict, printer: ProgressPrinter, stage_start: float) -> PINNStageReport:
        kappa, kappa_hat, gamma, network = (setup[k] for k in ("kappa", "kappa_hat", "gamma", "network"))
        value_and_gradients, flat, parts = setup["value_and_gradients"], setup["flat"], setup["parts"]
        adam_steps, lbfgs_iterations, learning_rate = setup["adam_steps"], setup["lbfgs_iterations"], setup["learning_rate"]
        if setup["least_squares"]:
            network, kappa, kappa_hat, failure = self._least_squares_network(stage, setup, printer)
            _, flat, parts = setup["objective"](gamma, network)
            adam = lbfgs = None
            position = flat.pack()
            losses, iterations = [np.zeros(0)], [np.zeros(0)]
        else:
            adam, lbfgs, failure, position, losses, iterations = self._optimize(
                stage, setup, value_and_gradients, flat, parts, adam_steps, lbfgs_iterations, learning_rate, printer)
        flat.assign(position)
        data_loss, equation_loss = (float(v) for v in parts(flat.pack()))
        accepted = failure is None and math.isfinite(data_loss) and math.isfinite(equation_loss)
        message = "ok" if accepted else f"non-finite loss, stage discarded, earlier stages kept ({failure})"
        return self._finish_stage(stage, setup, network, adam, lbfgs, losses, iterations, data_loss, equation_loss,
                                  accepted, message, kappa, kappa_hat, stage_start)

    def _optimize(self, stage, setup, value_and_gradients, flat, parts, adam_steps, lbfgs_iterations, learning_rate,
                  printer):
        """Adam (optionally resampling) then L-BFGS; returns ``(adam, lbfgs, failure, position, losses, iterations)``."""
        callback = printer.optimizer_callback(stage, "adam", adam_steps) if self.verbose else None
        adam = adam_minimize(value_and_gradients, flat.pack(), adam_steps, learning_rate=learning_rate,
                             decay_rate=self.decay_rate, decay_steps=self.decay_steps, jit_compile=self.jit_compile,
                             callback=callback, resample=setup["resample"] if setup["resample_every"] else None,
                             resample_every=setup["resample_every"] or None,
                             record=(lambda p: tf.stack(parts(p))) if self.record_loss_parts else None,
                             plateau_window=self.plateau_window)
        failure = adam.message if adam.failed else None
        position = adam.position
        losses = [adam.losses]
        iterations = [np.arange(1, adam.num_steps + 1)]
        lbfgs = None
        if failure is None and lbfgs_iterations > 0:
            lbfgs = lbfgs_minimize(value_and_gradients, adam.position, max_iterations=lbfgs_iterations,
                                   jit_compile=self.jit_compile,
                                   callback=printer.optimizer_callback(stage, "lbfgs", lbfgs_iterations) if self.verbose else None)
            if lbfgs.failed:
                failure = f"L-BFGS: {lbfgs.message}"
            else:
                position = lbfgs.position
                losses.append(lbfgs.losses)
                iterations.append(adam.num_steps + lbfgs.iterations)
        return adam, lbfgs, failure, position, losses, iterations

    def _least_squares_network(self, stage, setup, printer):
        """A least-squares stage: a one-layer sin network whose output layer minimises the stage loss
        of eq. (3.1) with the residual linearised at the current solution (exact for a residual affine
        in ``u`` and its derivatives): ``r(u + eps v) ~ r(u) + eps sum_m beta_m d^m v``, ``beta_m``
        pointwise as in eq. (3.17). Each factor of ``least_squares_kappa_factors`` is solved on 7/8 of
        the collocation points (and every condition point); the lowest equation residual on the other
        1/8 wins. Returns ``(network, kappa, kappa_hat, failure)``."""
        problem = self.problem
        d = problem.domain.dim
        epsilon, gamma = setup["epsilon"], setup["gamma"]
        x_c = np.asarray(setup["collocation"].numpy())
        w_c = np.asarray(setup["collocation_weights"].numpy())[:, 0]
        x_d, y_d = setup["condition_points"]
        w_d = np.asarray(setup["condition_weights"].numpy())[:, 0]
        u_d = np.asarray(setup["frozen_data"].numpy())[:, 0]
        term_keys = self._residual_keys()
        values = {k: tf.convert_to_tensor(v) for k, v in setup["frozen_values"].items()}
        with tf.GradientTape(persistent=True) as tape:
            for key in term_keys:
                tape.watch(values[key])
            residual = problem.residual_values(tf.constant(x_c), Partials(values, d, problem.domain.axis_names))
        betas = {k: tape.gradient(residual, values[k], unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
                 for k in term_keys}
        del tape
        r_prev = residual.numpy()[:, 0]
        lower, upper = np.asarray(self.model.lower), np.asarray(self.model.upper)
        slope = 2.0 / (upper - lower)  # d h / d x of the model's input scaling
        h_c, h_d = (self.model.scale_inputs(p).numpy() for p in (x_c, x_d))
        frequency = float(np.max(setup["frequencies"] / slope))
        width = max(1, min(self.least_squares_width, len(x_c) // 4))
        fit = held_out_mask(len(x_c), len(self.least_squares_kappa_factors), self.seed + 1000 * stage)
        row_c = np.sqrt(gamma * w_c / fit.sum())  # the means of eq. (3.1) over the points solved on
        row_d = np.sqrt((1.0 - gamma) * w_d / len(x_d))
        best = None
        for factor in self.least_squares_kappa_factors:
            network = feature_network(d, width, frequency, factor, self.seed + 1000 * stage, f"stage_{stage}")
            kappa = network.layers[0].kappa
            kernel, bias = network.layers[0].kernel.numpy(), network.layers[0].bias.numpy()
            z_c = kappa * (h_c @ kernel) + bias
            a_c = np.zeros((len(x_c), width + 1))
            for key in term_keys:
                order = int(sum(key))
                scale = np.prod([(kappa * slope[j] * kernel[j]) ** key[j] for j in range(d)], axis=0)
                a_c[:, :width] += betas[key][:, None] * scale * np.sin(z_c + order * math.pi / 2.0)
                if order == 0:
                    a_c[:, width] += betas[key]
            a_d = np.concatenate([np.sin(kappa * (h_d @ kernel) + bias), np.ones((len(x_d), 1))], axis=1)
            matrix = epsilon * np.concatenate([row_c[fit, None] * a_c[fit], row_d[:, None] * a_d])
            rhs = -np.concatenate([row_c[fit] * r_prev[fit], row_d * (u_d - y_d[:, 0])])
            if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(rhs))):
                continue
            coefficients = scipy.linalg.lstsq(matrix, rhs, lapack_driver="gelsy")[0]
            after = r_prev + epsilon * (a_c @ coefficients)
            score = spectral.rms(row_c[~fit] * after[~fit]) if not fit.all() else spectral.rms(row_c * after)
            printer(f"  stage {stage} | least squares, {width} sin features, kappa_hat {network.layers[0].kappa_hat:.2f}: "
                    f"equation residual RMS {spectral.rms(after):.3e}" + ("" if fit.all() else f" (held-out {score:.3e})"))
            if math.isfinite(score) and (best is None or score < best[0]):
                network.layers[-1].kernel.assign(coefficients[:width, None])
                network.layers[-1].bias.assign(coefficients[width:])
                best = (score, network, kappa)
        if best is None:
            return network, kappa, network.layers[0].kappa_hat, "least squares: non-finite rows"
        return best[1], best[2], best[1].layers[0].kappa_hat, None

    def _finish_stage(self, stage, setup, network, adam, lbfgs, losses, iterations, data_loss, equation_loss,
                      accepted, message, kappa, kappa_hat, stage_start) -> PINNStageReport:
        problem = self.problem
        epsilon, eps_r, frequencies, betas, estimate = (setup[k] for k in ("epsilon", "eps_r", "frequencies", "betas", "estimate"))
        gamma, gamma_g = setup["gamma"], setup["gamma_g"]
        if accepted:
            self.model.add_stage(network, epsilon)
            after_r, _, _, after_estimate, _, _ = self._analyse()
            if setup["least_squares"] and not after_r < eps_r:
                # A solved stage that does not lower the equation residual fitted round-off: drop it.
                self.model.pop_stage()
                accepted = False
                message = f"no improvement (residual RMS {after_r:.3e} vs {eps_r:.3e}), stage discarded"
                after_r, after_estimate = eps_r, estimate
        else:
            after_r, after_estimate = eps_r, estimate
        true_rms = true_max = None
        if problem.exact is not None and self.model.num_stages:
            exact = np.asarray(problem.exact(self._eval_grid), dtype=np.float64).reshape(-1, problem.output_dim)
            error = exact - self.model.predict(self._eval_grid)
            true_rms, true_max = spectral.rms(error), float(np.max(np.abs(error)))
        return PINNStageReport(
            stage=stage, epsilon=float(epsilon), residual_rms=float(eps_r),
            dominant_frequency=tuple(float(f) for f in frequencies), beta_rms=betas,
            beta_keys=tuple(tuple(int(o) for o in k) for k in self._residual_keys()),
            condition_rms=float(setup["condition_rms"]), kappa=float(kappa),
            kappa_hat=float(kappa_hat), gamma=float(gamma), gamma_rounds=setup["gamma_rounds"],
            loss_parts=None if adam is None else adam.records, gamma_g=float(gamma_g), num_collocation=setup["num_collocation"],
            adam_steps=0 if adam is None else adam.num_steps, lbfgs_iterations=0 if lbfgs is None else lbfgs.num_iterations,
            losses=np.concatenate(losses), loss_iterations=np.concatenate(iterations).astype(float),
            data_loss=data_loss, equation_loss=equation_loss, residual_rms_after=float(after_r),
            estimated_error=float(after_estimate), true_rms=true_rms, true_max=true_max,
            wall_time=time.perf_counter() - stage_start, accepted=accepted, message=message)

    def _objective(self, network, x_c, x_d, y_d, frozen, frozen_data, keys, epsilon, gamma, gamma_g, loss_scale, w_c, w_d):
        """``(value_and_gradients, flat, parts)`` of the stage loss over the new network's flat weights;
        ``w_c`` and ``w_d`` weight the collocation and condition points (``(N, 1)``)."""
        problem = self.problem
        flat = FlatParameters(network.trainable_variables)
        non_trainable = [tf.convert_to_tensor(v) for v in network.non_trainable_variables]
        scaling = self.model.input_scaling
        eps = tf.constant(epsilon, tf.float64)
        d = problem.domain.dim
        names = problem.domain.axis_names
        residual_keys = self._residual_keys()

        def losses(position):
            x_c_now = tf.convert_to_tensor(x_c)
            w_c_now = tf.convert_to_tensor(w_c)
            frozen_now = {k: tf.convert_to_tensor(v) for k, v in frozen.items()}

            def u_new(x):
                output, _ = network.stateless_call(flat.unpack(position), non_trainable, scaling(x))
                return output

            new = partial_derivatives(u_new, x_c_now, _requests(keys))
            values = {k: frozen_now[k] + eps * new.values[k] for k in keys}
            partials = Partials(values, d, names)
            if gamma_g > 0:
                with tf.GradientTape(persistent=True) as tape:
                    tape.watch(x_c_now)
                    for key in residual_keys:
                        tape.watch(values[key])
                    residual = problem.residual_values(x_c_now, partials)
                gradient = self._residual_gradient(tape, x_c_now, residual, partials)
                gradient_loss = tf.reduce_mean(w_c_now[:, 0] * tf.reduce_sum(tf.square(gradient), axis=1))
            else:
                residual = problem.residual_values(x_c_now, partials)
                gradient_loss = tf.constant(0.0, tf.float64)
            u_data = frozen_data + eps * u_new(x_d)
            data_loss = tf.reduce_mean(w_d * tf.square(u_data - y_d))
            equation_loss = tf.reduce_mean(w_c_now * tf.square(residual))
            return data_loss, equation_loss, gradient_loss

        def value_and_gradients(position):
            with tf.GradientTape() as tape:
                tape.watch(position)
                data_loss, equation_loss, gradient_loss = losses(position)
                loss = ((1.0 - gamma) * data_loss + gamma * (equation_loss + gamma_g * gradient_loss)) / loss_scale
            return loss, tape.gradient(loss, position)

        def parts(position):
            data_loss, equation_loss, _ = losses(position)
            return data_loss, equation_loss

        return value_and_gradients, flat, parts
