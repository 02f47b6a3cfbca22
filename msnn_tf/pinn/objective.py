"""The PINN objective of the stage engine (Algorithm 4): equation residuals and conditions.

Stage ``k`` reads the residual of the current model (:class:`~msnn_tf.pinn.analysis.ResidualAnalyzer`),
sets ``eps_k`` (eq. 3.19, or the conditions' mismatch when larger), ``gamma`` (eq. 3.32 or Algorithm
3), ``gamma_g`` (eq. 3.40) and the first layer from the residual's spectrum, draws collocation points
(eq. 2.10, RAR, resampling), and trains ``u_k = u_{k-1} + eps_k v`` (eqs. 3.41-3.42) with every earlier
stage frozen, or solves it by least squares with the residual linearised (:mod:`msnn_tf.pinn.linearized`).

A combined forward-inverse problem (section 4) adds, at every stage, the unknown parameters
``lambda = lambda_prev + eps_lambda delta`` to the trained vector (``eps_lambda = 1`` at stage 0,
``sqrt(L_s)`` of the current model after it, the paper's estimate of the parameter error, or
``eps_k`` without constraints), the constraint losses ``gamma_s L_s`` at their own points (eq. 4.2),
the problem's symmetry around every stage network, and a second, low-frequency network
``eps_lambda U_lambda`` when the parameter's error budget exceeds the residual's (eq. 4.8).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.engine import (StageObjective, StageOutcome, StagePlan, first_layer_start, kappa_hat_of, select_least_squares,
                            train_adam_lbfgs)
from msnn_tf.networks import build_stage_network
from msnn_tf.optimizers import levenberg_marquardt_minimize
from msnn_tf.pinn.analysis import Analysis, ResidualAnalyzer, uniform_grid
from msnn_tf.pinn.constraints import residual_derivative, taylor_indices
from msnn_tf.pinn.linearized import LinearizedStage, ParameterLinearizedStage
from msnn_tf.pinn.stage_loss import ConstraintPoints, OperatorPoints, StageParameters, linearize_condition, stage_loss
from msnn_tf.pinn.weights import pretrain_equation_weight
from msnn_tf.reporting import PINNStageReport
from msnn_tf.staged_model import StagedModel
from msnn_tf.transforms import NetworkSum, SymmetricNetwork, core_networks
from msnn_tf.validation import positive_int
from msnn_tf.weighting import boundary_weights

__all__ = ["AUTO_LEAST_SQUARES_WIDTH", "LADDER_EXTENSIONS", "MIN_SOLVED_GAIN", "POINTS_PER_FEATURE", "PINNObjective",
           "ROUNDOFF_FACTOR"]

#: A solved stage must lower the equation residual's RMS by at least this factor to be kept.
MIN_SOLVED_GAIN = 2.0

#: Training stops when the equation residual's RMS is at most this many ``eps`` times its terms' size.
#: 64 until solved stages could rescale the frozen ones: eq. (3.44)'s stage 1 then left 2.7e-14 on the
#: grid against 64 eps x 1.31 = 1.9e-14 (error 8.7e-16 either way) and a second solved stage took 74 s
#: to be discarded.
ROUNDOFF_FACTOR = 128.0

#: ``least_squares_width="auto"``: features of a solved stage by input dimension (the last entry for higher ones);
#: 2500 in 2-D took viscous Burgers from 3.5e-12 (2000) to 2e-13 (docs/pde_suite.md, item 7).
AUTO_LEAST_SQUARES_WIDTH = (1000, 2500, 3000)

#: Collocation points per feature of a solved stage in ``d >= 2`` under ``stage_solver="auto"``.
POINTS_PER_FEATURE = 6

#: A solved stage's ladder of ``kappa_hat / (pi f_d)`` goes on upwards while its top is best, at most this
#: many factors more (:func:`~msnn_tf.engine.select_least_squares`).
LADDER_EXTENSIONS = 3


@dataclasses.dataclass
class _StageState:
    """The points, frozen partials and loss of the stage being solved (runtime state, not the plan)."""

    network: Any
    collocation: tf.Variable
    collocation_weights: tf.Variable
    conditions: tuple  # (x_d, y_d) arrays
    condition_weights: tf.Tensor
    frozen_values: dict
    frozen_data: tf.Tensor
    keys: list
    resample: Callable
    resample_every: int
    make_loss: Callable  # (gamma, network) -> (value_and_gradients, flat, parts)
    parameters: StageParameters | None = None
    constraints: list = dataclasses.field(default_factory=list)
    operator_points: tuple = ()


class PINNObjective(StageObjective):
    """Trains a :class:`~msnn_tf.pinn.Problem` with the settings of a :class:`~msnn_tf.engine.PINNSettings`.

    Attributes:
        model: The :class:`~msnn_tf.StagedModel` (kept across ``fit`` calls: a later call adds stages).
        analyzer: The residual analysis on the uniform grid.
        training_domain: The domain grown past its open faces by ``open_margin``.
        strategy: A ``tf.distribute.Strategy`` over whose replicas the collocation points are split, or ``None``.
    """

    def __init__(self, problem, settings, strategy=None):
        self.problem = problem
        self.settings = settings
        self.strategy = strategy
        domain, d = problem.domain, problem.domain.dim
        self.training_domain = domain.expanded(problem.open_faces(), settings.open_margin)
        self.model = StagedModel(d, lower=domain.lower.tolist(), upper=domain.upper.tolist(), output_dim=problem.output_dim)
        grid_points = settings.grid_points or (2001 if d == 1 else (161 if d == 2 else 31))
        self.analyzer = ResidualAnalyzer(problem, self.model, grid_points)
        self.eval_grid = uniform_grid(domain, 8000 if d == 1 else (201 if d == 2 else 41))
        self.work: _StageState | None = None
        self._analysis = (None, None)

    def title(self, num_stages: int) -> str:
        return (f"MultiStagePINN: {num_stages} stage(s), d={self.problem.domain.dim}, "
                f"{'gPINN' if self.settings.gradient_enhanced else 'PINN'}")

    @property
    def later_stages_solved(self) -> bool:
        """Whether stages >= 1 are least-squares stages: ``stage_solver="least_squares"``, or ``"auto"``
        for a problem the solve covers (one output; ``parameters``, ``constraints`` or ``symmetry``
        only in 1-D). A solved stage takes the smooth residual a trained stage 0 leaves (1e-6..1e-3
        relative) to round-off in one or two solves of ~0.3 s on a 1-D problem (eq. 3.3: 3.0e-5 ->
        5.8e-16 in two), where the paper's trained stages take minutes."""
        s, problem = self.settings, self.problem
        if s.stage_solver != "auto":
            return s.stage_solver == "least_squares"
        special = bool(problem.parameters or problem.constraints or problem.symmetry)
        return problem.output_dim == 1 and (problem.domain.dim == 1 or not special)

    @property
    def least_squares_width(self) -> int:
        """Features of a solved stage: ``least_squares_width``, or for ``"auto"`` the entry of
        :data:`AUTO_LEAST_SQUARES_WIDTH` for the problem's dimension."""
        width = self.settings.least_squares_width
        if width != "auto":
            return int(width)
        return AUTO_LEAST_SQUARES_WIDTH[min(self.problem.domain.dim, len(AUTO_LEAST_SQUARES_WIDTH)) - 1]

    def current_parameters(self) -> dict[str, float]:
        """The unknown parameters' values of the current model (initial values before any stage)."""
        return self.analyzer.parameters()

    def analysis(self) -> Analysis:
        """The residual analysis of the current model (kept until the model's stages change)."""
        key = tuple(zip(self.model.stage_networks, self.model.epsilons))
        cached_key, cached = self._analysis
        parameters = (self.model.stage_parameters, self.model.output_revision)
        if cached_key is None or len(cached_key[0]) != len(key) or cached_key[1] != parameters or any(
                a[0] is not b[0] or a[1] != b[1] for a, b in zip(cached_key[0], key)):
            cached = self.analyzer.analyse()
            self._analysis = ((key, parameters), cached)
        return cached

    # ------------------------------------------------------------------ points
    def point_weights(self, points, points_per_axis=None) -> np.ndarray:
        """Loss weight per point ``(N, 1)``: ones, or Chebyshev weights in the training box."""
        if self.settings.loss_weighting == "uniform":
            return np.ones((len(points), 1))
        box = self.training_domain
        scaled = 2.0 * (np.asarray(points) - box.lower) / (box.upper - box.lower) - 1.0
        return boundary_weights(np.clip(scaled, -1.0, 1.0), points_per_axis)

    def collocation(self, stage, frequencies, draw: int = 0, refinement=None) -> np.ndarray:
        """Collocation points of a stage: Latin hypercube, at least eq. (2.10)'s count for ``frequencies``
        (capped by ``max_collocation``), the box ends in 1-D, and the RAR points. With
        ``stage_solver="auto"`` a solved stage in ``d >= 2`` takes :data:`POINTS_PER_FEATURE` points per
        feature of :attr:`least_squares_width` (above ``max_collocation`` if need be; a hand-set solver keeps
        ``num_collocation``): on eq. (3.44) (Fig. 13) eq. (2.10) alone gave stage 1 1292 points, hence 323
        features, and it stopped at 1.9e-12 RMS; on a 2-D Poisson problem with a trigonometric solution
        2000 features at 4 points each left 1.2e-14 (max 1.2e-12 at the corners), at 6 points 3.3e-15.
        In 1-D the eq. (2.10) count suffices (64 features took eq. 3.3 from 2e-7 to 5e-16)."""
        s, domain = self.settings, self.training_domain
        base = int(s.value("num_collocation", stage))
        solved_density = stage > 0 and domain.dim >= 2 and s.stage_solver == "auto" and self.later_stages_solved
        if solved_density:
            base = max(base, POINTS_PER_FEATURE * self.least_squares_width)
        scaled = frequencies * (domain.upper - domain.lower) / 2.0
        per_axis = [spectral.min_points_for_frequency(f, s.points_safety) for f in scaled]
        wanted = max(base, int(np.prod(per_axis)))
        wanted = max(min(s.max_collocation, wanted), base if solved_density else 0)
        seed = s.stage_seed(stage) + (0 if draw == 0 else 100003 * draw)
        points = domain.sample(wanted, "latin_hypercube", seed=seed)
        if domain.dim == 1:
            points = np.concatenate([points, domain.lower[None, :], domain.upper[None, :]])
        if refinement is not None:
            points = np.concatenate([points, refinement])
        return points

    def residual(self, x, num_stages=None) -> np.ndarray:
        """The equation residual of the current model at ``x`` (checked float64 ``(N, d)``), ``(N, k)``."""
        x = tf.constant(x)
        partials = self.analyzer.model_partials(x, self.analyzer.residual_keys(), num_stages)
        parameters = self.current_parameters()
        if num_stages is not None and self.problem.parameters:
            parameters = {**self.problem.parameters,
                          **{k: v for p in self.model.stage_parameters[:num_stages] if p for k, v in p.items()}}
        return self.problem.residual_values(x, partials, parameters).numpy()

    def refinement_points(self, count: int, candidates: int | None = None, seed: int | None = None) -> np.ndarray:
        """RAR (section 3.3.2): the ``count`` points, among ``candidates`` random points of the training
        domain (default ``20 * count``), where ``|r|`` of the current model is largest."""
        count = positive_int("count", count)
        candidates = positive_int("candidates", candidates or 20 * count)
        pool = self.training_domain.sample(max(candidates, count), "random", seed=seed)
        score = np.abs(self.residual(pool)).max(axis=1)
        return pool[np.argsort(score)[::-1][:count]]

    # ------------------------------------------------------------------ planning
    def _magnitudes(self, stage, analysis: Analysis):
        """``(epsilon, condition_rms, output_scale, data_scale, gamma_scale)`` of a stage."""
        s = self.settings
        if stage == 0:
            epsilon = s.first_stage_epsilon
            return epsilon, math.nan, 1.0, epsilon, epsilon
        hand, estimate = s.value("epsilon", stage), analysis.estimate
        # Eq. (3.19) assumes the conditions are met; an error driven by the conditions (e.g. u(0)) has
        # the size of their mismatch, which the residual does not show: take the larger of the two.
        condition_rms = self.condition_error(analysis, s.seed)
        epsilon = max(estimate, condition_rms) if hand == "auto" else float(hand)
        # When epsilon lies above eq. (3.19)'s estimate (set by the condition mismatch, or by hand), a
        # network started at unit output would put a residual (eps / estimate) x eps_r into the
        # equation at its frequencies, which training must first cancel: start its output layer at
        # estimate / eps of its size instead.
        output_scale = estimate / epsilon if 0 < estimate < epsilon else 1.0
        # Eq. (3.32) takes L_d ~ eps_k^2 with eps_k the magnitude of eq. (3.19) (section 3.2.1), not the
        # current condition mismatch: a mismatch then costs as much as the error the residual drives,
        # so a stage does not leave its conditions' mismatch far above its interior error.
        gamma_scale = estimate if (hand == "auto" and estimate > 0) else epsilon
        return epsilon, condition_rms, output_scale, epsilon, gamma_scale

    def _first_layer(self, stage, analysis: Analysis, width):
        """``(activation, kappa, first-layer frequencies or None)`` of a stage."""
        s, problem = self.settings, self.problem
        if stage == 0:
            return s.first_stage_activation, s.first_stage_kappa, None
        hand_kappa = s.value("kappa", stage)
        if hand_kappa != "auto":
            return "sin", float(hand_kappa), None
        scaled = analysis.frequencies * (problem.domain.upper - problem.domain.lower) / 2.0
        kappa, frequencies = first_layer_start(s, stage, self.model.scale_inputs(self.analyzer.grid).numpy(),
                                               analysis.error_values, float(np.max(scaled)), self.analyzer.grid_points,
                                               width)
        return "sin", kappa, frequencies

    def _network_factory(self, stage, width, depth, activation, kappa, frequencies, output_scale, parameter_coefficient=None):
        """A function building the stage network: the network fitted to the residual, plus (eq. 4.8) a
        low-frequency ``tanh`` network with ``parameter_coefficient`` (its prefactor over ``eps_k``) when given,
        inside the problem's symmetry."""
        s = self.settings
        # A tanh network with zero biases is odd, so y [NN(y) + NN(-y)] would start at exactly 0 (and
        # NN(y) + NN(-y) too): inside a symmetry, biases start from their Glorot normal instead.
        tanh_bias = "zeros" if self.problem.symmetry is None else "glorot"

        def new_network():
            built = build_stage_network(
                self.problem.domain.dim, width=width, depth=depth, kappa=kappa, first_activation=activation,
                bias_initializer=s.bias_initializer or (tanh_bias if activation == "tanh" else s.sin_bias_initializer),
                seed=s.stage_seed(stage), name=f"stage_{stage}", first_layer_frequencies=frequencies,
                output_dim=self.problem.output_dim)
            if output_scale != 1.0:
                built.layers[-1].kernel.assign(built.layers[-1].kernel * output_scale)
                built.layers[-1].bias.assign(built.layers[-1].bias * output_scale)
            if parameter_coefficient is not None:
                low = build_stage_network(
                    self.problem.domain.dim, width=width, depth=depth, kappa=s.first_stage_kappa, first_activation="tanh",
                    bias_initializer=s.bias_initializer or tanh_bias, seed=s.stage_seed(stage) + 500,
                    name=f"stage_{stage}_parameter", output_dim=self.problem.output_dim)
                built = NetworkSum([built, low], [1.0, parameter_coefficient], name=f"stage_{stage}_sum")
            if self.problem.symmetry is not None:
                built = SymmetricNetwork(built, self.problem.symmetry, name=f"stage_{stage}_{self.problem.symmetry}")
            return built

        return new_network

    def _constraint_points(self, stage, analysis) -> tuple:
        """The constraints' points at a stage, the frozen stages' derivatives there and ``gamma_s / gamma``
        (``"auto"``: ``||r||^2 / ||D^key r||^2`` of the current model, 1 when both vanish)."""
        problem, s = self.problem, self.settings
        states = []
        for i, constraint in enumerate(problem.constraints):
            order, weight = constraint.order(problem.domain), constraint.weight_at(stage)
            if weight == 0:
                continue  # switched off at this stage
            points = tf.constant(constraint.points(seed=s.stage_seed(stage) + 17 + i, stage=stage))
            indices = taylor_indices(self.analyzer.residual_keys(), order)
            frozen = {k: tf.constant(v) for k, v in self.analyzer.model_partials(points, indices).values.items()}
            # An "auto" weight's gamma_s / gamma is set by _weigh_constraints.
            states.append(ConstraintPoints(order, points, frozen,
                                           weight=None if weight == "auto" else float(weight), index=i))
        return tuple(states)

    def _weigh_constraints(self, work, analysis: Analysis, stage: int, constraint_losses) -> None:
        """``gamma_s / gamma`` of each ``"auto"`` constraint (eq. 4.2; the paper gives no formula).

        Stage ``k >= 1``: ``||r||^2 / L_s,i`` of the model so far (``eps_r^2`` on the analysis grid over
        that constraint's own loss at the stage's points, ``constraint_losses[i]``): each constraint
        starts as large as the equation term and all fall together (the rule of eq. 3.40 for the gPINN
        term, ``||r||^2 / ||grad r||^2``, applied to each constraint). Per constraint, not over their sum:
        beside ``d^3 r / dy^3`` (``sqrt(L_s) ~ 1e-10`` after Fig. 14's second stage) a ``dr/dy``
        constraint (``~ 2e-12`` there) would get ~1e-4 of its own weight (measured on Fig. 14's third
        stage: lambda 2.5e-12 off with the summed rule, 3.8e-13 with this one). Stage 0, from a random
        network far from any solution, has no model to measure: ``prod_i (2 pi f_i)^(-2 n_i)`` for a
        constraint of order ``n`` at one period over the domain (the same rule with
        ``||D^n r|| ~ (2 pi f)^n ||r||``).

        Measured on eq. (4.1) from lambda = 0.45 (stage 0): weights near ``gamma`` drive lambda to 1/4
        or below, where ``d^3 r / dy^3`` is also small; 1e-3..3e-2 ``gamma`` lead it to 1/2 (this rule:
        0.066 ``gamma``). From the same stage 0 (lambda 3.2e-7 off), a second stage with the spectral
        rule (6e-8 ``gamma``) let lambda drift to 6.8e-7 off; with ``gamma_s = 1 - gamma`` (the
        constraint as a condition) the trained networks met the constraint at its points and the
        residual did not fall; with this rule the residual fell 6x, and least-squares stages took
        lambda to 4.6e-13 and 1.9e-13 off (the condition-like weight: 4.8e-13, then no gain).
        """
        for i, state in enumerate(work.constraints):
            if state.weight is not None:  # hand-set gamma_s
                continue
            if stage > 0 and constraint_losses[i] > 0 and analysis.residual_rms > 0:
                ratio = analysis.residual_rms**2 / constraint_losses[i]
            else:
                ratio = float(np.prod([(2.0 * math.pi * f) ** (-2.0 * n) for f, n in zip(analysis.frequencies, state.order)]))
            work.constraints[i] = dataclasses.replace(work.constraints[i], relative_weight=ratio)

    def _weights_per_constraint(self, states, gamma) -> tuple:
        """``gamma_s`` of every constraint of the problem at a stage, 0.0 for one switched off there."""
        weights = [0.0] * len(self.problem.constraints)
        for state in states:
            weights[state.index] = float(state.gamma_s(gamma))
        return tuple(weights)

    def constraint_loss(self, states=None) -> float:
        """``L_s`` of the current model: the constraints' mean squares summed (eq. 4.4), from ``states``
        (:meth:`_constraint_points` of the current model, whose frozen derivatives are the model's) or at
        a fresh draw for the next stage."""
        if not self.problem.constraints:
            return math.nan
        return sum(self.constraint_losses(states))

    def constraint_losses(self, states=None) -> list:
        """Each constraint's mean square ``mean_j |D^n r(x_j)|^2`` for the current model, in the order of
        ``states`` (the constraints on at the stage; their sum is :meth:`constraint_loss`); ``[]``
        without constraints."""
        if not self.problem.constraints:
            return []
        if states is None:
            states = self._constraint_points(self.next_stage, self.analysis())
        parameters = self.current_parameters()
        return [float(tf.reduce_mean(tf.square(residual_derivative(self.problem, c.points, c.frozen, c.order, parameters))))
                for c in states]

    def _stage_state(self, stage, analysis, epsilon, gamma_g, loss_scales, network, parameter_scale=None,
                     constraints=()) -> _StageState:
        """Collocation and condition points, their weights, the frozen stages' values there (in
        variables that resampling reassigns) and the loss factory of a stage."""
        s, problem, d = self.settings, self.problem, self.problem.domain.dim
        rar = int(s.value("rar_points", stage))
        refinement = (self.refinement_points(rar, seed=s.stage_seed(stage) + 1)
                      if rar > 0 and self.model.num_stages > 0 else None)
        x_c_np = self.collocation(stage, analysis.frequencies, refinement=refinement)
        per_face = self.condition_points_per_face(stage, len(x_c_np))
        x_d_np, y_d_np = problem.condition_data(seed=s.stage_seed(stage), domain=self.training_domain,
                                                min_points_per_face=per_face)
        operator_points = tuple(self._operator_points(rows) for rows in problem.operator_rows(
            seed=s.stage_seed(stage), domain=self.training_domain, min_points_per_face=per_face))
        keys = self.analyzer.residual_keys(plus_one=s.gradient_enhanced)
        x_c = tf.Variable(x_c_np, trainable=False, name="collocation")
        w_c = tf.Variable(self.point_weights(x_c_np), trainable=False, name="collocation_weights")
        w_d = tf.constant(self.point_weights(x_d_np, len(x_c_np) ** (1.0 / d)))
        frozen_values = {k: tf.Variable(v, trainable=False)
                         for k, v in self.analyzer.model_partials(tf.constant(x_c_np), keys).values.items()}
        frozen_data = tf.constant(self.model.predict(x_d_np) if self.model.num_stages else np.zeros_like(y_d_np))
        draws = [0]

        def resample(step=None):
            draws[0] += 1
            points = self.collocation(stage, analysis.frequencies, draw=draws[0], refinement=refinement)
            x_c.assign(points)
            w_c.assign(self.point_weights(points))
            for key, value in self.analyzer.model_partials(tf.constant(points), keys).values.items():
                frozen_values[key].assign(value)

        data_scale, eps_r = loss_scales
        constraint_states = list(constraints)  # the plan sets the "auto" weights in place
        parameters = None
        if parameter_scale is not None:
            parameters = StageParameters(dict(self.current_parameters()), dict(parameter_scale),
                                         {name: tf.Variable(tf.constant(0.0, tf.float64), name=f"delta_{name}")
                                          for name in parameter_scale})

        def make_loss(gamma, stage_network, gamma_g=gamma_g, frozen_scale=1.0, residual_rows=False):
            # Loss normalisation: both terms are O(1) at the stage start (eq. 3.32 balance).
            loss_scale = (1.0 - gamma) * data_scale**2 + gamma * eps_r**2
            points = (x_c, w_c, tf.constant(x_d_np), tf.constant(y_d_np), w_d)
            if parameters is not None:
                for variable in parameters.variables.values():
                    variable.assign(0.0)
            frozen, data, operators = frozen_values, frozen_data, operator_points
            if frozen_scale != 1.0:  # a solved stage that rescales the frozen stages (LinearizedStage)
                frozen = {k: v * frozen_scale for k, v in frozen_values.items()}
                data = frozen_data * frozen_scale
                operators = tuple(dataclasses.replace(p, frozen=tuple({k: v * frozen_scale for k, v in f.items()}
                                                                      for f in p.frozen)) for p in operator_points)
            return stage_loss(self.analyzer, stage_network, points, frozen, data, keys, epsilon, gamma,
                              gamma_g, loss_scale if loss_scale > 0 else 1.0, parameters, tuple(constraint_states),
                              operators, strategy=self.strategy, jit_compile=s.jit_compile, residual_rows=residual_rows)

        return _StageState(network, x_c, w_c, (x_d_np, y_d_np), w_d, frozen_values, frozen_data, keys, resample,
                           int(s.value("resample_every", stage)), make_loss, parameters, constraint_states,
                           operator_points)

    def _operator_points(self, rows) -> OperatorPoints:
        """An operator condition's rows with the current model's partials at its point sets."""
        points = tuple(tf.constant(p) for p in rows.points)
        frozen = tuple({k: tf.constant(v) for k, v in self.analyzer.model_partials(x, list(rows.keys)).values.items()}
                       for x in points)
        return OperatorPoints(rows, points, frozen, tf.constant(self.point_weights(rows.points[0])))

    def condition_points_per_face(self, stage: int, num_collocation: int) -> int | None:
        """At least this many condition points per face: ``None`` (each condition's own count) except for
        a solved stage in ``d >= 2`` under ``stage_solver="auto"``, which takes ``N_c^((d-1)/d)`` per face, the
        collocation density carried to the faces (its thousands of features would otherwise oscillate
        between the boundary points)."""
        d = self.problem.domain.dim
        if stage == 0 or d < 2 or self.settings.stage_solver != "auto" or not self.later_stages_solved:
            return None
        return int(math.ceil(num_collocation ** ((d - 1.0) / d)))

    def condition_error(self, analysis: Analysis, seed: int) -> float:
        """RMS of the conditions' mismatch as an error of ``u``: value conditions' ``g - u`` as is, each
        operator condition's mismatch divided row by row by its eq. (3.19) factor
        ``sum |beta| prod_i (2 pi f_i)^(m_i)`` over the derivatives it reads (a Neumann mismatch ``m``
        at frequency ``f`` is an error ``m / (2 pi f)`` of ``u``)."""
        problem = self.problem
        x_cond, y_cond = problem.condition_data(seed=seed, domain=self.training_domain)
        errors = [(y_cond - self.model.predict(x_cond)).reshape(-1)] if len(x_cond) else []
        frequencies = np.asarray(analysis.frequencies, dtype=np.float64)
        for rows in problem.operator_rows(seed=seed, domain=self.training_domain):
            mismatch, betas = linearize_condition(self._operator_points(rows), problem.domain.dim, problem.domain.axis_names)
            factor = np.zeros_like(mismatch)
            for (_, key), beta in betas.items():
                factor += np.abs(beta) * float(np.prod((2.0 * math.pi * frequencies) ** np.asarray(key)))
            errors.append((mismatch / np.where(factor > 0, factor, 1.0)).reshape(-1))
        return spectral.rms(np.concatenate(errors)) if errors else 0.0

    def plan_stage(self, stage: int) -> StagePlan:
        s = self.settings
        analysis = self.analysis()
        eps_r = analysis.residual_rms
        width, depth = int(s.value("width", stage)), int(s.value("depth", stage))
        learning_rate = float(s.value("learning_rate", stage))
        epsilon, condition_rms, output_scale, data_scale, gamma_scale = self._magnitudes(stage, analysis)
        activation, kappa, frequencies = self._first_layer(stage, analysis, width)
        hand_gamma, hand_gamma_g = s.value("gamma", stage), s.value("gamma_g", stage)
        gamma = (gamma_scale**2 / (gamma_scale**2 + eps_r**2)) if hand_gamma in ("auto", "pretrain") else float(hand_gamma)
        if hand_gamma in ("auto", "pretrain") and eps_r == 0:
            gamma = 0.5  # a zero model that solves the equation (e.g. U = 0 of eq. 4.1): only the conditions speak
        gamma_g = 0.0 if not s.gradient_enhanced else (analysis.gamma_g if hand_gamma_g == "auto" else float(hand_gamma_g))
        least_squares = stage > 0 and self.later_stages_solved
        constraints = self._constraint_points(stage, analysis)
        constraint_losses = self.constraint_losses(constraints) if constraints and stage > 0 else []
        constraint_rms = math.sqrt(sum(constraint_losses)) if constraint_losses else math.nan
        parameter_scale, parameter_network, notes = self._parameter_plan(stage, analysis, epsilon, constraint_rms)
        if least_squares:
            parameter_network = None  # the solve corrects the parameters directly (a column each)
        new_network = self._network_factory(stage, width, depth, activation, kappa, frequencies, output_scale,
                                            parameter_network)
        network = kappa_hat = None
        if not least_squares:
            network = new_network()
            kappa_hat = kappa_hat_of(core_networks(network)[0], frequencies)
        # The solve fits the equation and conditions exactly in the output layer: no gPINN term.
        work = self._stage_state(stage, analysis, epsilon, 0.0 if least_squares else gamma_g, (data_scale, eps_r), network,
                                 parameter_scale, constraints)
        self.work = work
        gamma_rounds = ()
        self._weigh_constraints(work, analysis, stage, constraint_losses)  # gamma_s / gamma: independent of gamma
        if hand_gamma == "pretrain":
            def build(trial_gamma):
                value_and_gradients, flat, parts = work.make_loss(trial_gamma, new_network())
                return value_and_gradients, (lambda p: parts(p)[:2]), flat.pack()

            search = pretrain_equation_weight(
                build, initial_gamma=s.pretrain_initial_gamma, pretrain_steps=s.pretrain_steps,
                # A distributed loss compiles its replicas' parts itself (XLA does not span devices).
                learning_rate=learning_rate, jit_compile=s.jit_compile and self.strategy is None,
                max_rounds=s.pretrain_max_rounds,
                callback=lambda i, g, r: notes.append(f"stage {stage}: Algorithm 3 round {i}: gamma {g:.3e}, R_c {r:.3e}"))
            gamma, gamma_rounds = search.gamma, search.rounds
        num_collocation = int(work.collocation.shape[0])
        summary = (f"stage {stage}: epsilon {epsilon:.3e}, residual RMS {eps_r:.3e}, f_d "
                   f"{np.array2string(analysis.frequencies, precision=2)}, gamma {gamma:.2e}, gamma_g {gamma_g:.2e}, "
                   + ("least squares" if least_squares else f"kappa_hat {kappa_hat:.2f} ({activation})")
                   + f", {num_collocation} collocation points"
                   + (f", resampled every {work.resample_every} Adam steps" if work.resample_every else "")
                   + "".join(f", {name} {work.parameters.base[name]:.15g} (scale {scale:.2e})"
                             for name, scale in (parameter_scale or {}).items())
                   + (f", sqrt(L_s) {constraint_rms:.3e}" if math.isfinite(constraint_rms) else "")
                   + (f", + parameter network (prefactor / eps {parameter_network:.2e})" if parameter_network else ""))
        return StagePlan(
            stage=stage, solver="least_squares" if least_squares else "adam_lbfgs", epsilon=float(epsilon),
            dominant_frequency=tuple(float(f) for f in analysis.frequencies), kappa=None if least_squares else float(kappa),
            kappa_hat=None if least_squares else float(kappa_hat), first_activation=activation,
            width=max(1, min(self.least_squares_width, num_collocation // 4)) if least_squares else width,
            depth=1 if least_squares else depth, adam_steps=0 if least_squares else int(s.value("adam_steps", stage)),
            lbfgs_iterations=0 if least_squares else int(s.value("lbfgs_iterations", stage)), learning_rate=learning_rate,
            seed=s.stage_seed(stage), num_points=num_collocation, summary=summary, notes=tuple(notes),
            extras=dict(gamma=float(gamma), gamma_g=0.0 if least_squares else float(gamma_g), gamma_rounds=gamma_rounds,
                        residual_rms=float(eps_r), estimate=float(analysis.estimate), beta_rms=analysis.beta_rms,
                        condition_rms=float(condition_rms), parameter_scale=dict(parameter_scale or {}),
                        parameter_network=parameter_network, constraint_rms=float(constraint_rms),
                        constraint_weights=self._weights_per_constraint(work.constraints, gamma),
                        levenberg_marquardt_iterations=0 if least_squares else int(
                            s.value("levenberg_marquardt_iterations", stage))))

    def _parameter_plan(self, stage, analysis: Analysis, epsilon, constraint_rms):
        """``(scale per parameter or None, prefactor / eps_k of a parameter network or None, notes)``.

        ``eps_lambda`` (eq. 4.6) is the problem's ``parameter_scales`` at stage 0 (default 1: the
        parameter trains from its initial value as freely as a weight),
        ``sqrt(L_s)`` of the current model later (the paper's estimate of the parameter's error,
        Fig. 14b), or ``eps_k`` for a problem without constraints. A second network ``eps_lambda
        U_lambda`` (eq. 4.8) joins when ``parameter_network`` says so; ``"auto"``: when the error that
        an error ``eps_lambda`` of the parameter drives (eq. 3.19 applied to ``dr/dlambda``, the source
        ``r_lambda`` of eq. 4.7) exceeds the residual's estimate.
        """
        names = list(self.problem.parameters)
        if not names:
            return None, None, []
        if stage == 0:
            return dict(self.problem.parameter_scales), None, []
        scale = constraint_rms if math.isfinite(constraint_rms) and constraint_rms > 0 else epsilon
        budget = max(scale * analysis.sensitivities[name][2] for name in names)
        choice = self.settings.value("parameter_network", stage)
        wanted = choice == "always" or (choice == "auto" and budget > analysis.estimate)
        note = (f"stage {stage}: parameter error budget {budget:.3e} vs residual's {analysis.estimate:.3e}: "
                + ("two networks (eq. 4.8)" if wanted else "one network"))
        # The prefactor of U_lambda is that budget, the eq. (3.19) estimate of the error the parameter's
        # uncertainty drives, as eps_k is the estimate of the error the residual drives (the paper
        # multiplies U_lambda by eps_lambda itself, which starts it above the error it fixes by the
        # factor 1 / (RMS(dr/dlambda) / sum_m RMS(beta_m) (2 pi f_lambda)^m)).
        return {name: scale for name in names}, (budget / epsilon if wanted else None), [note]

    # ------------------------------------------------------------------ solving
    def solve_stage(self, plan, hooks, stage_start) -> StageOutcome:
        s, work = self.settings, self.work
        gamma, trained, frozen_scale, lm = plan.extras["gamma"], None, 1.0, None
        if plan.solver == "least_squares":
            x_d, y_d = work.conditions
            problem = self.problem
            if problem.parameters or problem.constraints or problem.symmetry:
                linear = ParameterLinearizedStage(self, plan, work)
            else:
                linear = LinearizedStage(self.analyzer, plan, (work.collocation.numpy(), work.collocation_weights.numpy()),
                                         (x_d, y_d, work.condition_weights.numpy()), work.frozen_values,
                                         work.frozen_data.numpy(), work.operator_points, strategy=self.strategy,
                                         rescale=s.rescale_frozen_stages and self.model.num_stages > 0
                                         and self.model.outputs_scalable and not any(self.model.output_offset))
            choice = select_least_squares(s.least_squares_kappa_factors, linear.solve, plan.num_points, plan.seed, hooks,
                                          max_extensions=LADDER_EXTENSIONS)
            candidate, failure = choice.candidate, choice.failure
            if failure is None and isinstance(linear, LinearizedStage):
                candidate, lines = linear.solve_on_all(candidate, choice.fit)
                candidate, steps = linear.refine(candidate, max_steps=s.gauss_newton_steps)
                for line in lines + steps:
                    hooks.message("least_squares", line)
                frozen_scale = linear.frozen_scale(candidate)
            network = candidate.network
            _, flat, parts = work.make_loss(gamma, network, frozen_scale=frozen_scale)
            if work.parameters is not None and candidate.result is not None:
                for name, value in candidate.result.items():  # delta of the solve, in the flat vector's units
                    base, scale = work.parameters.base[name], work.parameters.scale[name]
                    work.parameters.variables[name].assign((value - base) / scale)
        else:
            network = work.network
            lm_iterations = plan.extras["levenberg_marquardt_iterations"]
            value_and_gradients, flat, parts, *rows = work.make_loss(gamma, network, residual_rows=lm_iterations > 0)
            trained = train_adam_lbfgs(
                value_and_gradients, flat.pack(), adam_steps=plan.adam_steps, lbfgs_iterations=plan.lbfgs_iterations,
                learning_rate=plan.learning_rate, settings=s, hooks=hooks, stage_start=stage_start,
                resample=work.resample, resample_every=work.resample_every,
                record=(lambda p: tf.stack(parts(p))) if s.record_loss_parts else None, plateau_window=s.plateau_window,
                # constraints nest derivative tapes to high order: compile the loss, not each loop around it
                compile_loss_only=bool(work.constraints), loops_compiled=self.strategy is None,
                min_block_gain=s.block_gain(self.later_stages_solved))
            failure = trained.failure
            position = trained.position
            if failure is None and lm_iterations > 0 and not hooks.stop:
                lm = levenberg_marquardt_minimize(
                    rows[0].values_and_jacobian, rows[0].values, position.numpy(), max_iterations=lm_iterations,
                    callback=hooks.optimizer("levenberg_marquardt", lm_iterations))
                hooks.message("levenberg_marquardt", f"Levenberg-Marquardt: loss {lm.initial_value:.3e} -> "
                              f"{lm.objective_value:.3e} in {lm.num_iterations} iterations ({lm.wall_time:.1f} s): {lm.message}")
                if not lm.failed:
                    position = tf.constant(lm.position)
            flat.assign(position)
        values = [float(v) for v in parts(flat.pack())]
        data_loss, equation_loss = values[:2]
        constraint_loss = sum(values[2:]) if len(values) > 2 else math.nan
        parameters = None if work.parameters is None else work.parameters.current()
        finite = all(math.isfinite(v) for v in values) and all(math.isfinite(v) for v in (parameters or {}).values())
        if failure is None and not finite:
            failure = (f"data loss {data_loss}, equation loss {equation_loss}"
                       + (f", constraint loss {constraint_loss}" if len(values) > 2 else "")
                       + "".join(f", {k} {v}" for k, v in (parameters or {}).items()))
        return StageOutcome(network, failure, None, dict(trained=trained, data_loss=data_loss, equation_loss=equation_loss,
                                                         constraint_loss=constraint_loss, levenberg_marquardt=lm), parameters,
                            frozen_scale=frozen_scale if failure is None else 1.0)

    # ------------------------------------------------------------------ measuring and reporting
    def measure(self, plan) -> Analysis:
        return self.analysis()

    def rejection(self, plan, before: Analysis, after: Analysis) -> str | None:
        """A solved stage that lowers the equation residual by less than :data:`MIN_SOLVED_GAIN` fitted
        round-off (or the previous stage's noise between its points) and is discarded, which ends the
        fit: on a 2-D Poisson problem a second solved stage took the residual from 6.6e-11 to 5.7e-11
        and the true error from 1.9e-15 to 5.2e-15."""
        if plan.solver == "least_squares" and not after.residual_rms * MIN_SOLVED_GAIN <= before.residual_rms:
            return (f"no improvement (residual RMS {after.residual_rms:.3e} vs {before.residual_rms:.3e}, less than "
                    f"{MIN_SOLVED_GAIN:g}x lower), stage discarded")
        return None

    def stop_reason(self, report) -> str | None:
        """Round-off reached: after a stage, the equation residual on the analysis grid is at most
        :data:`ROUNDOFF_FACTOR` ``eps`` times the size of its terms (``sum_m RMS(beta_m d^m u)``), where
        no further stage can lower it (Fig. 13's problem: 1.1e-14 after stage 1 against terms of size
        1.3; the second solved stage, 54 s, was then discarded). Only when the next stage would be solved:
        trained runs keep the paper's stage count (the recorded reproductions)."""
        if not self.later_stages_solved:
            return None
        analysis = self.analysis()
        level = ROUNDOFF_FACTOR * float(np.finfo(np.float64).eps) * analysis.term_scale
        if self.model.num_stages and analysis.residual_rms <= level:
            return (f"round-off reached after stage {report.stage} (equation residual RMS {analysis.residual_rms:.3e} "
                    f"<= {ROUNDOFF_FACTOR:g} eps x term size {analysis.term_scale:.3e})")
        return None

    def report(self, plan, outcome, after: Analysis, accepted, message, wall_time) -> PINNStageReport:
        problem, trained = self.problem, outcome.details["trained"]
        adam = None if trained is None else trained.adam
        lbfgs = None if trained is None else trained.lbfgs
        losses, iterations = [np.zeros(0)], [np.zeros(0)]
        if adam is not None:
            losses, iterations = [adam.losses], [np.arange(1, adam.num_steps + 1)]
            if lbfgs is not None and not lbfgs.failed:
                losses.append(lbfgs.losses)
                iterations.append(adam.num_steps + lbfgs.iterations)
        lm = outcome.details.get("levenberg_marquardt")
        if lm is not None and lm.losses.size:
            done = (adam.num_steps if adam is not None else 0) + (lbfgs.num_iterations if lbfgs is not None else 0)
            losses.append(lm.losses)
            iterations.append(done + np.arange(1, lm.losses.size + 1))
        layer = core_networks(outcome.network)[0].layers[0]
        kappa, kappa_hat = (plan.kappa, plan.kappa_hat) if plan.kappa is not None else (layer.kappa, layer.kappa_hat)
        true_rms = true_max = None
        if problem.exact is not None and self.model.num_stages:
            exact = np.asarray(problem.exact(self.eval_grid), dtype=np.float64).reshape(-1, problem.output_dim)
            error = exact - self.model.predict(self.eval_grid)
            true_rms, true_max = spectral.rms(error), float(np.max(np.abs(error)))
        extras = plan.extras
        return PINNStageReport(
            stage=plan.stage, epsilon=plan.epsilon, residual_rms=extras["residual_rms"],
            dominant_frequency=plan.dominant_frequency, beta_rms=extras["beta_rms"],
            beta_keys=tuple(tuple(int(o) for o in k) for k in self.analyzer.residual_keys()),
            condition_rms=extras["condition_rms"], kappa=float(kappa), kappa_hat=float(kappa_hat), gamma=extras["gamma"],
            gamma_rounds=extras["gamma_rounds"], loss_parts=None if adam is None else adam.records,
            gamma_g=extras["gamma_g"], num_collocation=plan.num_points, adam_steps=0 if adam is None else adam.num_steps,
            lbfgs_iterations=0 if lbfgs is None else lbfgs.num_iterations, losses=np.concatenate(losses),
            loss_iterations=np.concatenate(iterations).astype(float), data_loss=outcome.details["data_loss"],
            equation_loss=outcome.details["equation_loss"], residual_rms_after=float(after.residual_rms),
            estimated_error=float(after.estimate), true_rms=true_rms, true_max=true_max, wall_time=wall_time,
            accepted=accepted, message=message, parameters=self._parameter_report(plan, outcome, accepted),
            constraint_loss=(None if not self.problem.constraints or not math.isfinite(outcome.details["constraint_loss"])
                             else outcome.details["constraint_loss"]),
            constraint_weights=tuple(extras["constraint_weights"]),
            num_networks=len(core_networks(outcome.network)),
            frozen_scale=float(outcome.frozen_scale) if accepted else 1.0,
            levenberg_marquardt_iterations=0 if lm is None else int(lm.losses.size))

    def _parameter_report(self, plan, outcome, accepted) -> dict:
        """Per parameter: value after the stage, correction, scale and ``sqrt(L_s)`` (``None`` without constraints)."""
        scales = plan.extras["parameter_scale"]
        if not scales or outcome.parameters is None:
            return {}
        constraint = outcome.details["constraint_loss"]
        estimated = math.sqrt(constraint) if math.isfinite(constraint) else None
        base = self.work.parameters.base
        return {name: {"value": outcome.parameters[name] if accepted else base[name],
                       "correction": outcome.parameters[name] - base[name] if accepted else 0.0,
                       "scale": scales[name], "estimated_error": estimated}
                for name in scales}
