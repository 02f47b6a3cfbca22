"""A least-squares PINN stage: the residual linearised at the current solution, solved for the output
layer of a one-layer ``sin`` network.

``r(u + eps v) ~ r(u) + eps sum_m beta_m d^m v`` with ``beta_m = dr/du^(m)`` pointwise (eq. 3.17): for
``v = sum_i c_i sin(kappa (h W_i) + b_i) + c_0`` the stage loss of eq. (3.1) is quadratic in the
coefficients ``c``, so one linear least-squares solve minimises it (exact for equations linear in
``u``; one Gauss-Newton step otherwise, its error second order in ``eps``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from msnn_tf import spectral
from msnn_tf.derivatives import Partials
from msnn_tf.engine import LeastSquaresCandidate
from msnn_tf.least_squares import QR_FIRST_NUMBERS, feature_derivative_factors, feature_network, qr_least_squares
from msnn_tf.pinn.constraints import residual_derivative
from msnn_tf.pinn.stage_loss import linearize_condition
from msnn_tf.transforms import SymmetricNetwork

__all__ = ["LinearizedStage", "ParameterLinearizedStage"]


def _linearized_operators(operator_points, input_dim, axis_names, scale) -> list:
    """Per operator condition: ``(mismatch (N, k), {(set, key): beta (N, k)}, scaled point sets, weights (N,))``."""
    operators = []
    for state in operator_points:
        mismatch, betas = linearize_condition(state, input_dim, axis_names)
        sets = tuple(scale(np.asarray(x)) for x in state.points)
        operators.append((mismatch, betas, sets, np.asarray(state.weights)[:, 0]))
    return operators


def _condition_count(num_value_rows: int, operators) -> int:
    """Rows of the data loss: value-condition rows plus every operator condition's ``N k``."""
    return num_value_rows + sum(m.shape[0] * m.shape[1] for m, _, _, _ in operators)


def _operator_row(weight: float, w: np.ndarray, count: int) -> np.ndarray:
    """The weight ``sqrt(weight w / count)`` of an operator condition's rows, rows of the data loss."""
    return np.sqrt(weight * w / count)


def _operator_blocks(operators, columns, weight: float, count: int, frozen=None) -> tuple[list, list]:
    """The least-squares rows of the operator conditions: per mismatch column ``j`` the linearised
    condition ``sum_(set, key) beta[:, j] d^key v(x_set)`` against ``-mismatch[:, j]``, each row weighted
    ``sqrt(weight w / count)`` as a row of the data loss. ``columns(h, key)`` gives the features' ``d^key``
    at scaled points ``h``. ``frozen`` (per operator condition, its frozen partials per set): one more
    column, the linearised condition applied to the frozen stages themselves."""
    blocks, rhs = [], []
    for index, (mismatch, betas, sets, w) in enumerate(operators):
        row = _operator_row(weight, w, count)
        cached = {}
        for j in range(mismatch.shape[1]):
            total = 0.0
            for (i, key), beta in betas.items():
                if not np.any(beta[:, j]):
                    continue
                if (i, key) not in cached:
                    cached[(i, key)] = columns(sets[i], key)
                total = total + beta[:, j, None] * cached[(i, key)]
            if np.isscalar(total):
                continue
            if frozen is not None:
                prior = sum(beta[:, j] * np.asarray(frozen[index][i][key])[:, 0] for (i, key), beta in betas.items())
                total = np.concatenate([total, np.reshape(prior, (-1, 1))], axis=1)
            blocks.append(row[:, None] * total)
            rhs.append(-row * mismatch[:, j])
    return blocks, rhs


class LinearizedStage:
    """The rows of a least-squares stage; :meth:`solve` is the candidate solve of
    :func:`~msnn_tf.engine.select_least_squares`.

    Args:
        analyzer: The :class:`~msnn_tf.pinn.analysis.ResidualAnalyzer`.
        plan: The stage's :class:`~msnn_tf.engine.StagePlan` (epsilon, gamma in ``extras``, f_d, width, seed).
        collocation: ``(x_c, w_c)`` as arrays (weights ``(N, 1)``).
        conditions: ``(x_d, y_d, w_d)`` as arrays.
        frozen_values: The frozen stages' partials at ``x_c`` per key.
        frozen_data: The frozen stages' values at ``x_d``.
        operator_points: The operator conditions' :class:`~msnn_tf.pinn.stage_loss.OperatorPoints`.
        strategy: A ``tf.distribute.Strategy``: the QR of the rows runs on its replicas (TSQR).
        rescale: Whether the solve may also rescale the frozen stages when the residual and conditions
            are linear in ``u`` (:meth:`is_linear`): their sum ``u`` is one more column,
            ``u + eps (v + c u)``, so the model becomes ``(1 + eps c) u + eps v``
            (:attr:`frozen_scale` of a candidate's ``result``; ``StagedModel.scale_stage_outputs``
            applies it). A trained tanh stage 0 carries content that sin features do not represent:
            on ``heat_periodic_1d`` one solved stage left 2.9e-9 RMS error with stage 0 kept as it was
            and 1.8e-15 with this column, whose coefficient then removed stage 0 (``1 + eps c`` ~ 0).
    """

    def __init__(self, analyzer, plan, collocation, conditions, frozen_values, frozen_data, operator_points=(),
                 strategy=None, rescale: bool = False):
        self.strategy = strategy
        self.rescale = bool(rescale)
        problem, model = analyzer.problem, analyzer.model
        self.plan = plan
        self.d = problem.domain.dim
        self.x_c, w_c = (np.asarray(v) for v in collocation)
        self.w_c = w_c[:, 0]
        x_d, self.y_d, w_d = (np.asarray(v) for v in conditions)
        self.w_d = w_d[:, 0]
        self.u_d = np.asarray(frozen_data)[:, 0]
        self.term_keys = analyzer.residual_keys()
        self.analyzer_problem = problem
        values = {k: tf.convert_to_tensor(v) for k, v in frozen_values.items()}
        self.betas, self.r_prev = self._linearization(values)
        lower, upper = np.asarray(model.lower), np.asarray(model.upper)
        self.slope = 2.0 / (upper - lower)  # d h / d x of the model's input scaling
        self.h_c, self.h_d = (model.scale_inputs(p).numpy() for p in (self.x_c, x_d))
        self.frequency = float(np.max(np.asarray(plan.dominant_frequency) / self.slope))
        self.scale = lambda x: model.scale_inputs(x).numpy()
        self.operator_points = tuple(operator_points)
        self.operators = _linearized_operators(operator_points, self.d, problem.domain.axis_names, self.scale)
        self.count = _condition_count(len(self.h_d), self.operators)
        self.frozen_values = values
        #: Whether the residual and conditions are linear in ``u`` (:meth:`is_linear`, checked once).
        self.linear = self.is_linear()
        # Rescaling moves u by O(1): exact for a linear equation, outside the linearisation otherwise
        # (burgers_1d: 3.5e-13 with the column, 2.0e-13 without, the Gauss-Newton steps mending it).
        self.rescale = self.rescale and self.linear

    def _linearization(self, values) -> tuple[dict, np.ndarray]:
        """``(beta_m per term key, r)`` at the collocation points for the partials ``values`` of ``u``."""
        problem = self.analyzer_problem
        with tf.GradientTape(persistent=True) as tape:
            for key in self.term_keys:
                tape.watch(values[key])
            residual = problem.residual_values(tf.constant(self.x_c), Partials(values, self.d, problem.domain.axis_names))
        betas = {k: tape.gradient(residual, values[k], unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
                 for k in self.term_keys}
        del tape
        return betas, residual.numpy()[:, 0]

    def _columns(self, z, kappa, kernel, key) -> np.ndarray:
        """``d^key`` of every column (the sin features at pre-activations ``z``, then the output bias)."""
        order = int(sum(key))
        scale = feature_derivative_factors(kappa, kernel, self.slope, key)
        return np.concatenate([scale * np.sin(z + order * math.pi / 2.0), np.full((len(z), 1), 1.0 if order == 0 else 0.0)],
                              axis=1)

    def _feature_columns(self, network):
        """``columns(h, key)``: the ``d^key`` of a candidate network's columns (its ``sin`` features, then
        the output bias) at scaled points ``h``, ``len(h) x (width + 1)``."""
        layer = network.layers[0]
        kappa, kernel, bias = layer.kappa, layer.kernel.numpy(), layer.bias.numpy()
        return lambda h, key: self._columns(kappa * (h @ kernel) + bias, kappa, kernel, key)

    def _row_weights(self, fit) -> tuple[np.ndarray, np.ndarray]:
        """``(row_c, row_d)``: the weights of the equation rows (the means of eq. (3.1) over the collocation
        points in ``fit``) and of the value-condition rows."""
        gamma = self.plan.extras["gamma"]
        return np.sqrt(gamma * self.w_c / fit.sum()), np.sqrt((1.0 - gamma) * self.w_d / self.count)

    def _system(self, network, betas, residual, coefficients, fit, columns=None, operators=None):
        """The weighted least-squares rows of the stage for the correction of the output layer
        ``coefficients`` (``None``: zero) with the residual linearised as ``betas``, ``residual`` at the
        collocation points (``columns``: the features' ``d^key`` there per term key, if already computed)
        and the operator conditions linearised as ``operators`` (default: at the frozen stages):
        ``(matrix, rhs, equation columns a_c, row weights of the collocation points)``."""
        plan, epsilon = self.plan, self.plan.epsilon
        row_c, row_d = self._row_weights(fit)
        columns_at = self._feature_columns(network)
        a_c = np.zeros((len(self.x_c), plan.width + 1))
        for key in self.term_keys:
            a_c += betas[key][:, None] * (columns[key] if columns is not None else columns_at(self.h_c, key))
        a_d = columns_at(self.h_d, (0,) * self.d)
        if self.rescale:  # the frozen stages' column: the linearised residual and conditions applied to u
            prior = sum(betas[key] * self.frozen_values[key].numpy()[:, 0] for key in self.term_keys)
            a_c = np.concatenate([a_c, prior[:, None]], axis=1)
            a_d = np.concatenate([a_d, self.u_d[:, None]], axis=1)
        blocks, rhs = _operator_blocks(self.operators if operators is None else operators, columns_at,
                                       1.0 - plan.extras["gamma"], self.count,
                                       frozen=tuple(p.frozen for p in self.operator_points) if self.rescale else None)
        data_mismatch = self.u_d - self.y_d[:, 0]
        if coefficients is not None:  # value conditions are linear in v: their mismatch moves by eps A c
            data_mismatch = data_mismatch + epsilon * (a_d @ coefficients)
        matrix = epsilon * np.concatenate([row_c[fit, None] * a_c[fit], row_d[:, None] * a_d] + blocks)
        rhs = np.concatenate([-row_c[fit] * residual[fit], -row_d * data_mismatch] + rhs)
        return matrix, rhs, a_c, row_c

    def _solve_rows(self, network, fit, min_qr_numbers=QR_FIRST_NUMBERS):
        """Solves the stage's rows on the collocation points in ``fit`` for ``network``'s features and sets
        its output layer: ``(coefficients, residual after at every collocation point, row weights)``, or
        ``None`` for non-finite rows (``min_qr_numbers``: see :func:`~msnn_tf.least_squares.qr_least_squares`)."""
        matrix, rhs, a_c, row_c = self._system(network, self.betas, self.r_prev, None, fit)
        if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(rhs))):
            return None
        coefficients = qr_least_squares(matrix, rhs, min_qr_numbers=min_qr_numbers, strategy=self.strategy)
        del matrix, rhs
        self._assign(network, coefficients)
        return coefficients, self.r_prev + self.plan.epsilon * (a_c @ coefficients), row_c

    def solve(self, factor: float, fit: np.ndarray) -> LeastSquaresCandidate:
        """Solves the candidate of ``kappa_hat = factor pi f_d`` on the collocation points in ``fit`` (and
        every condition point); its score is the weighted equation residual on the other points."""
        plan, width = self.plan, self.plan.width
        network = feature_network(self.d, width, self.frequency, factor, plan.seed, f"stage_{plan.stage}")
        heading = f"least squares, {width} sin features, kappa_hat {network.layers[0].kappa_hat:.2f}"
        solved = self._solve_rows(network, fit)
        if solved is None:
            return LeastSquaresCandidate(network, math.nan, True, f"{heading}: non-finite rows")
        coefficients, after, row_c = solved
        score = spectral.rms(row_c[~fit] * after[~fit]) if not fit.all() else spectral.rms(row_c * after)
        message = (f"{heading}: equation residual RMS {spectral.rms(after):.3e}"
                   + ("" if fit.all() else f" (held-out {score:.3e})") + self._scale_text(coefficients))
        return LeastSquaresCandidate(network, score, False, message, self._frozen_coefficient(coefficients))

    def _frozen_coefficient(self, coefficients) -> float | None:
        """The coefficient ``c`` of the frozen stages' column (``None`` without :attr:`rescale`)."""
        return float(coefficients[self.plan.width + 1]) if self.rescale else None

    def frozen_scale(self, candidate: LeastSquaresCandidate) -> float:
        """The factor ``1 + eps c`` the candidate puts on the frozen stages (1 without :attr:`rescale`)."""
        return 1.0 if candidate.result is None else 1.0 + self.plan.epsilon * float(candidate.result)

    def _scale_text(self, coefficients) -> str:
        if not self.rescale:
            return ""
        return f", frozen stages x {1.0 + self.plan.epsilon * self._frozen_coefficient(coefficients):.3e}"

    def _coefficients(self, candidate: LeastSquaresCandidate) -> np.ndarray:
        """A candidate's coefficients as the system orders them: output kernel, bias (and ``c``)."""
        layer = candidate.network.layers[-1]
        extra = [float(candidate.result)] if self.rescale else []
        return np.concatenate([layer.kernel.numpy()[:, 0], layer.bias.numpy(), extra])

    @staticmethod
    def _assign(network, coefficients) -> None:
        width = network.layers[-1].kernel.shape[0]
        network.layers[-1].kernel.assign(coefficients[:width, None])
        network.layers[-1].bias.assign(coefficients[width:width + 1])

    def _with_frozen(self, columns, frozen) -> np.ndarray:
        """``columns`` (the features' ``d^key`` at some points) with the frozen stages' ``d^key`` there
        appended when the solve rescales them."""
        return np.concatenate([columns, np.asarray(frozen).reshape(-1, 1)], axis=1) if self.rescale else columns

    def _partials_with(self, columns, coefficients) -> dict:
        """The partials of ``u + eps v`` at the collocation points per term key (``v`` the candidate
        whose features' ``d^key`` are ``columns[key]``, with output layer ``coefficients``)."""
        epsilon = self.plan.epsilon
        partials = {}
        for key in self.term_keys:
            frozen = self.frozen_values[key].numpy()
            partials[key] = tf.constant(frozen + epsilon * (self._with_frozen(columns[key], frozen) @ coefficients)[:, None])
        return partials

    def is_linear(self) -> bool:
        """Whether the residual is linear (affine) in ``u`` and its derivatives: its ``beta_m`` at the
        collocation points do not move (to 1e-13 of their size) when every partial of ``u`` is moved by
        an O(1) amount."""
        def unmoved(old, new) -> bool:
            size = max([float(np.max(np.abs(b))) for b in old.values()] + [0.0]) or 1.0
            return all(float(np.max(np.abs(new[k] - old[k]))) <= 1e-13 * size for k in old)

        def move(values):
            return {k: tf.convert_to_tensor(v) + 0.5 + 0.25 * tf.abs(tf.convert_to_tensor(v)) for k, v in values.items()}

        if not unmoved(self.betas, self._linearization(move(self.frozen_values))[0]):
            return False
        problem = self.analyzer_problem
        for state, (_, betas, _, _) in zip(self.operator_points, self.operators):
            moved = dataclasses.replace(state, frozen=tuple(move(f) for f in state.frozen))
            if not unmoved(betas, linearize_condition(moved, self.d, problem.domain.axis_names)[1]):
                return False
        return True

    def _operators_with(self, network, coefficients) -> list:
        """The operator conditions linearised at ``u + eps v`` (``v`` the candidate with output layer
        ``coefficients``), as :func:`_linearized_operators` gives them at ``u``."""
        columns_at, epsilon = self._feature_columns(network), self.plan.epsilon
        states = []
        for state in self.operator_points:
            frozen = []
            for x, values in zip(state.points, state.frozen):
                h = self.scale(np.asarray(x))
                frozen.append({k: tf.constant(np.asarray(v) + epsilon * (self._with_frozen(columns_at(h, k), v)
                                                                          @ coefficients)[:, None])
                               for k, v in values.items()})
            states.append(dataclasses.replace(state, frozen=tuple(frozen)))
        return _linearized_operators(states, self.d, self.analyzer_problem.domain.axis_names, self.scale)

    def _merit(self, residual, data_mismatch, operators) -> float:
        """The square root of the stage loss of eq. (3.1) (its weighted rows over every collocation point):
        equation residual, value-condition mismatch and operator-condition mismatch."""
        row_c, row_d = self._row_weights(np.ones(len(residual), bool))
        total = np.sum((row_c * residual) ** 2) + np.sum((row_d * data_mismatch) ** 2)
        for mismatch, _, _, w in operators:
            total += np.sum((_operator_row(1.0 - self.plan.extras["gamma"], w, self.count)[:, None] * mismatch) ** 2)
        return math.sqrt(total)

    def solve_on_all(self, candidate: LeastSquaresCandidate, fit: np.ndarray) -> tuple[LeastSquaresCandidate, list[str]]:
        """The chosen candidate's features solved once more on every collocation point, the held-out
        eighth that chose it included, by a pivoted QR of the whole matrix (LAPACK ``gelsy``; the
        candidates' faster QR-first solve, :func:`~msnn_tf.least_squares.qr_least_squares`, leaves about
        twice its error: 1.1e-13 against 5.4e-14 on ``advection_diffusion_2d``'s features; with a
        ``tf.distribute.Strategy`` the factorisation stays on its replicas). For a residual and conditions
        linear in ``u``; :meth:`refine`'s Gauss-Newton steps re-solve otherwise.
        Returns ``(candidate, progress lines)``."""
        if candidate.failed or not self.linear:
            return candidate, []
        solved = self._solve_rows(candidate.network, np.ones(len(self.x_c), bool), min_qr_numbers=math.inf)
        if solved is None:
            return candidate, []
        coefficients, after, _ = solved
        line = (f"solved again on all {len(self.x_c)} collocation points (pivoted QR): equation residual RMS "
                f"{spectral.rms(after):.3e}{self._scale_text(coefficients)}")
        return dataclasses.replace(candidate, message=f"{candidate.message}; {line}",
                                   result=self._frozen_coefficient(coefficients)), [line]

    def refine(self, candidate: LeastSquaresCandidate,
               max_steps: int = 4) -> tuple[LeastSquaresCandidate, list[str]]:
        """Gauss-Newton steps on the chosen candidate's output layer (same features): the residual and
        the operator conditions are linearised again at ``u + eps v`` and the correction of the
        coefficients solved on every collocation point. A step is taken when it lowers the stage loss
        of eq. (3.1) (equation and conditions); the steps stop after the first that lowers it less than
        twofold, or after ``max_steps``.

        One solve is exact when the residual and the conditions are linear in ``u`` (their ``beta_m``
        do not move, :meth:`is_linear`: no step is taken); for a nonlinear one (``u u_x`` of viscous
        Burgers) its error is second order in ``eps`` and stops the stage there: on ``burgers_1d`` the
        first solved stage left 1.6e-9 RMS error with a residual of 4e-8 after one solve.

        Returns:
            ``(candidate, progress lines)``: the refined candidate (the given one if no step helped).
        """
        if candidate.failed or max_steps <= 0 or self.linear:
            return candidate, []
        network, epsilon = candidate.network, self.plan.epsilon
        coefficients = self._coefficients(candidate)
        columns_at = self._feature_columns(network)
        columns = {key: columns_at(self.h_c, key) for key in self.term_keys}  # the features stay: computed once
        a_d = self._with_frozen(columns_at(self.h_d, (0,) * self.d), self.u_d)
        every = np.ones(len(self.x_c), bool)

        def state(c):
            betas, residual = self._linearization(self._partials_with(columns, c))
            operators = self._operators_with(network, c)
            merit = self._merit(residual, self.u_d - self.y_d[:, 0] + epsilon * (a_d @ c), operators)
            return betas, residual, operators, merit

        betas, residual, operators, current = state(coefficients)
        lines = []
        for step in range(1, max_steps + 1):
            matrix, rhs, _, _ = self._system(network, betas, residual, coefficients, every, columns, operators)
            if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(rhs))):
                break
            trial = coefficients + qr_least_squares(matrix, rhs, strategy=self.strategy)
            del matrix, rhs
            trial_state = state(trial)
            value = trial_state[3]
            if not (math.isfinite(value) and value < current):
                lines.append(f"Gauss-Newton step {step}: stage loss^(1/2) {value:.3e} not below {current:.3e}, not taken")
                break
            lines.append(f"Gauss-Newton step {step}: equation residual RMS {spectral.rms(residual):.3e} -> "
                         f"{spectral.rms(trial_state[1]):.3e}, stage loss^(1/2) {current:.3e} -> {value:.3e}")
            gain = current / value
            coefficients, (betas, residual, operators, current) = trial, trial_state
            if gain < 2.0:
                break
        self._assign(network, coefficients)
        message = "; ".join([candidate.message] + lines) + (self._scale_text(coefficients) if lines else "")
        return dataclasses.replace(candidate, message=message, result=self._frozen_coefficient(coefficients)), lines


class ParameterLinearizedStage:
    """A least-squares stage of a 1-D problem with unknown parameters, constraints or symmetry (issue 16,
    item 7): one Gauss-Newton step of the whole stage loss of eq. (4.2).

    The residual is linearised in the new network and the parameters,
    ``r(u + eps v, lambda + eps delta) ~ r + eps sum_m beta_m d^m v + eps delta dr/dlambda``, and so is
    every constraint, ``D^n r(u + eps v, lambda + eps delta) ~ D^n r + eps J_n[v] + eps delta
    d(D^n r)/dlambda`` (``J_n`` the derivative of :func:`~msnn_tf.pinn.constraints.residual_derivative`
    along ``v``'s Taylor jets, by forward-mode differentiation). ``v`` is a one-layer ``sin`` network
    inside the problem's symmetry, whose features and their derivatives are analytic: for
    ``s_j(h) = sin(a_j h + b_j)``, ``s_j^(m) = a_j^m sin(a_j h + b_j + m pi / 2)``; the odd form
    ``h [s(h) + s(-h)]`` has ``m``-th derivative ``h e^(m) + m e^(m-1)`` with ``e = s(h) + s(-h)``.
    The columns are the features' coefficients (output kernel and bias) and ``delta`` per parameter;
    the rows the collocation points (weight ``gamma``), the conditions (``1 - gamma``) and the
    constraint points (``gamma_s``), as means, so the solve minimises the linearised eq. (4.2).

    Args:
        objective: The :class:`~msnn_tf.pinn.objective.PINNObjective` (problem, model, analyzer).
        plan: The stage's plan (epsilon, gamma, f_d, width, seed).
        work: The stage's state (points, frozen values, constraints with their weights, parameters).
    """

    def __init__(self, objective, plan, work):
        problem, model = objective.problem, objective.model
        if problem.domain.dim != 1 or problem.output_dim != 1:
            raise ValueError("a least-squares stage with parameters, constraints or symmetry needs a 1-D problem with "
                             f"one output, got d={problem.domain.dim}, m={problem.output_dim}")
        self.problem, self.plan, self.work = problem, plan, work
        self.strategy = objective.strategy
        self.parameters = dict(objective.current_parameters())
        self.names = list(problem.parameters)
        self.x_c = work.collocation.numpy()
        self.w_c = work.collocation_weights.numpy()[:, 0]
        x_d, y_d = work.conditions
        self.w_d = work.condition_weights.numpy()[:, 0]
        self.mismatch = work.frozen_data.numpy()[:, 0] - np.asarray(y_d)[:, 0]
        self.term_keys = objective.analyzer.residual_keys()
        lower, upper = float(model.lower[0]), float(model.upper[0])
        self.slope = 2.0 / (upper - lower)
        self.scale = lambda x: self.slope * (np.asarray(x)[:, 0] - lower) - 1.0
        self.h_c, self.h_d = self.scale(self.x_c), self.scale(x_d)
        params = {k: tf.constant(v, tf.float64) for k, v in self.parameters.items()}
        values = {k: tf.convert_to_tensor(work.frozen_values[k]) for k in self.term_keys}
        x_c = tf.constant(self.x_c)
        with tf.GradientTape(persistent=True) as tape:
            for key in self.term_keys:
                tape.watch(values[key])
            residual = problem.residual_values(x_c, Partials(values, 1, problem.domain.axis_names), params)
        self.betas = {k: tape.gradient(residual, values[k], unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
                      for k in self.term_keys}
        del tape
        self.r_prev = residual.numpy()[:, 0]
        self.r_lambda = np.stack([self._parameter_derivative(
            lambda p: problem.residual_values(x_c, Partials(values, 1, problem.domain.axis_names), p), name)
            for name in self.names], axis=1) if self.names else np.zeros((len(self.x_c), 0))
        self.constraints = []
        for state in work.constraints:
            gamma_s = state.gamma_s(plan.extras["gamma"])
            jets = {k: tf.convert_to_tensor(v) for k, v in state.frozen.items()}
            value = residual_derivative(problem, state.points, jets, state.order, params).numpy()[:, 0]
            columns = np.stack([self._parameter_derivative(
                lambda p, s=state, j=jets: residual_derivative(problem, s.points, j, s.order, p), name)
                for name in self.names], axis=1) if self.names else np.zeros((len(value), 0))
            self.constraints.append((state, jets, gamma_s, value, columns))
        self.frequency = float(np.max(np.asarray(plan.dominant_frequency)) / self.slope)
        self.operators = _linearized_operators(work.operator_points, 1, problem.domain.axis_names, self.scale)
        self.count = _condition_count(len(self.h_d), self.operators)

    def _parameter_derivative(self, function, name) -> np.ndarray:
        """``d function(p) / d p[name]`` at the current parameters, per row (forward mode)."""
        primal = tf.constant(self.parameters[name], tf.float64)
        with tf.autodiff.ForwardAccumulator(primal, tf.constant(1.0, tf.float64)) as accumulator:
            value = function({**{k: tf.constant(v, tf.float64) for k, v in self.parameters.items()}, name: primal})
        return accumulator.jvp(value, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]

    def _features(self, h, a, b, order) -> np.ndarray:
        """``d^order / dx^order`` of every column (``W`` sin features, then the output bias), ``(N, W + 1)``."""
        def plain(m, sign):
            # m-th derivative in h of s(sign h), s(z) = sin(a z + b); the bias column is 1.
            z = a[None, :] * (sign * h[:, None]) + b[None, :]
            values = (sign * a[None, :]) ** m * np.sin(z + m * math.pi / 2.0)
            constant = np.full((len(h), 1), 1.0 if m == 0 else 0.0)
            return np.concatenate([values, constant], axis=1)

        symmetry = self.problem.symmetry
        if symmetry is None:
            columns = plain(order, 1.0)
        else:
            even = lambda m: plain(m, 1.0) + plain(m, -1.0)
            columns = even(order) if symmetry == "even" else (
                h[:, None] * even(order) + (order * even(order - 1) if order > 0 else 0.0))
        return columns * self.slope**order

    def solve(self, factor: float, fit: np.ndarray) -> LeastSquaresCandidate:
        """Solves the candidate of ``kappa_hat = factor pi f_d`` on the collocation points in ``fit`` (and
        every condition and constraint point); its score is the linearised residual on the others."""
        plan, problem, width = self.plan, self.problem, self.plan.width
        epsilon, gamma = plan.epsilon, plan.extras["gamma"]
        network = feature_network(1, width, self.frequency, factor, plan.seed, f"stage_{plan.stage}")
        layer = network.layers[0]
        a, b = layer.kappa * layer.kernel.numpy()[0], layer.bias.numpy()
        a_c = sum(self.betas[key][:, None] * self._features(self.h_c, a, b, key[0]) for key in self.term_keys)
        a_c = np.concatenate([a_c, self.r_lambda], axis=1)
        a_d = np.concatenate([self._features(self.h_d, a, b, 0), np.zeros((len(self.h_d), len(self.names)))], axis=1)
        row_c = np.sqrt(gamma * self.w_c / fit.sum())
        row_d = np.sqrt((1.0 - gamma) * self.w_d / self.count)
        blocks = [row_c[fit, None] * a_c[fit], row_d[:, None] * a_d]
        rhs = [-row_c[fit] * self.r_prev[fit], -row_d * self.mismatch]
        # Operator conditions do not read the parameters: zero columns for their deltas.
        operator_blocks, operator_rhs = _operator_blocks(
            self.operators, lambda h, key: np.concatenate([self._features(h, a, b, key[0]),
                                                           np.zeros((len(h), len(self.names)))], axis=1),
            1.0 - gamma, self.count)
        blocks += operator_blocks
        rhs += operator_rhs
        for state, jets, gamma_s, value, columns in self.constraints:
            h_s = self.scale(state.points.numpy())
            count, size = len(h_s), width + 1
            tangents = {k: tf.constant(self._features(h_s, a, b, k[0]).T.reshape(-1, 1)) for k in jets}
            primals = {k: tf.tile(v, [size, 1]) for k, v in jets.items()}
            points = tf.tile(tf.convert_to_tensor(state.points), [size, 1])
            keys = sorted(jets)
            params = {k: tf.constant(v, tf.float64) for k, v in self.parameters.items()}
            with tf.autodiff.ForwardAccumulator([primals[k] for k in keys], [tangents[k] for k in keys]) as accumulator:
                derived = residual_derivative(problem, points, primals, state.order, params)
            along = accumulator.jvp(derived, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()[:, 0]
            row_s = math.sqrt(gamma_s / count)
            blocks.append(row_s * np.concatenate([along.reshape(size, count).T, columns], axis=1))
            rhs.append(-row_s * value)
        matrix = epsilon * np.concatenate(blocks)
        rhs = np.concatenate(rhs)
        heading = f"least squares, {width} sin features, kappa_hat {layer.kappa_hat:.2f}"
        if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(rhs))):
            return LeastSquaresCandidate(network, math.nan, True, f"{heading}: non-finite rows")
        solution = qr_least_squares(matrix, rhs, strategy=self.strategy)
        coefficients, deltas = solution[:width + 1], solution[width + 1:]
        after = self.r_prev + epsilon * (a_c @ solution)
        score = spectral.rms(row_c[~fit] * after[~fit]) if not fit.all() else spectral.rms(row_c * after)
        network.layers[-1].kernel.assign(coefficients[:width, None])
        network.layers[-1].bias.assign(coefficients[width:])
        if problem.symmetry is not None:
            network = SymmetricNetwork(network, problem.symmetry, name=f"stage_{plan.stage}_{problem.symmetry}")
        parameters = {name: self.parameters[name] + epsilon * float(d) for name, d in zip(self.names, deltas)}
        message = (f"{heading}: linearised residual RMS {spectral.rms(after):.3e}"
                   + ("" if fit.all() else f" (held-out {score:.3e})")
                   + "".join(f", {k} {v:.16g}" for k, v in parameters.items()))
        return LeastSquaresCandidate(network, score, False, message, result=parameters)
