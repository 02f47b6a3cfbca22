"""A PINN problem: domain, residual written with derivatives, conditions (paper, eqs. 3.1-3.2).

Example (eq. 3.3, ``u' = u + x`` on [-1, 1] with ``u(0) = 0``)::

    problem = pinn.Problem(
        domain=pinn.Interval(-1.0, 1.0),
        residual=lambda x, u, d: d["x"] - (u + x),
        derivatives=["x"],
        conditions=[pinn.PointValues([[0.0]], [[0.0]])],
        exact=lambda x: np.exp(x) - x - 1.0,
    )
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from msnn_tf.derivatives import Partials, parse_derivative, partial_derivatives
from msnn_tf.pinn.conditions import (OPERATOR_CONDITIONS, VALUE_CONDITIONS, ConditionRows, DirichletBoundary,
                                     InitialCondition, NeumannBoundary, OperatorCondition, PeriodicBoundary, PointValues,
                                     RobinBoundary)
from msnn_tf.pinn.constraints import ResidualDerivative
from msnn_tf.pinn.domains import Box
from msnn_tf.transforms import SYMMETRIES
from msnn_tf.validation import positive_finite, positive_int

__all__ = ["ConditionRows", "DirichletBoundary", "InitialCondition", "NeumannBoundary", "OperatorCondition",
           "ParameterValues", "PeriodicBoundary", "PointValues", "Problem", "RobinBoundary", "UndeclaredParameterError"]


class UndeclaredParameterError(ValueError):
    """The residual read a parameter that ``Problem(parameters=...)`` does not declare."""


class ParameterValues(Mapping):
    """The ``p`` a residual ``r(x, u, d, p)`` receives: ``p["lam"]`` is a float64 scalar tensor.

    Reading a name that the problem does not declare raises :class:`UndeclaredParameterError` (a
    ``ValueError``) naming it, instead of a ``KeyError`` deep inside a compiled loss.
    """

    def __init__(self, values: Mapping):
        self._values = {name: tf.convert_to_tensor(value, tf.float64) for name, value in values.items()}

    def __getitem__(self, name):
        if name not in self._values:
            declared = ", ".join(sorted(self._values)) or "none"
            raise UndeclaredParameterError(
                f"the residual reads the parameter {name!r}, which `parameters` does not declare (declared: {declared})")
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)


def _takes_parameters(residual) -> bool:
    """Whether ``residual`` takes a fourth positional argument (``r(x, u, d, p)``)."""
    try:
        signature = inspect.signature(residual)
    except (TypeError, ValueError):
        return False
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return True
    return sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds) >= 4


def _check_parameters(parameters) -> dict[str, float]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ValueError(f"`parameters` must map names to initial values, e.g. {{'lam': 0.3}}, got {parameters!r}")
    checked = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"`parameters` names must be non-empty strings, got {name!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"`parameters[{name!r}]` must be a finite number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"`parameters[{name!r}]` must be a finite number, got {value!r}")
        checked[name] = number
    return checked


def _check_parameter_scales(scales, parameters) -> dict[str, float]:
    checked = {name: 1.0 for name in parameters}
    if scales is None:
        return checked
    if not isinstance(scales, Mapping):
        raise ValueError(f"`parameter_scales` must map parameter names to positive numbers, got {scales!r}")
    for name, value in scales.items():
        if name not in parameters:
            raise ValueError(f"`parameter_scales` names {name!r}, which `parameters` does not declare "
                             f"(declared: {sorted(parameters)})")
        checked[name] = positive_finite(f"parameter_scales[{name!r}]", value)
    return checked


class Problem:
    """A differential equation ``r(x, u, d) = 0`` on a domain, with conditions.

    Args:
        domain: A :class:`~msnn_tf.pinn.Box` (``Interval``, ``Rectangle``, ``SpaceTimeBox``); its
            ``axis_names`` name the derivative keys.
        residual: ``r(x, u, d) -> (N, k)`` tensor: ``x`` the points ``(N, d)``, ``u`` the solution
            ``(N, m)``, ``d`` a :class:`~msnn_tf.Partials` holding the derivatives listed in
            ``derivatives`` (``d["xx"]``, ``d["t"]``, ``d.laplacian()``). Written with TensorFlow ops.
        derivatives: Keys of the derivatives the residual reads, e.g. ``["x"]`` or ``["t", "xx"]``.
        conditions: Value conditions (:class:`PointValues`, :class:`DirichletBoundary`,
            :class:`InitialCondition`) and operator conditions (:class:`NeumannBoundary`,
            :class:`RobinBoundary`, :class:`PeriodicBoundary`, :class:`OperatorCondition`); see
            :mod:`msnn_tf.pinn.conditions`.
        output_dim: Number of solution components ``m``.
        exact: Optional exact solution ``(N, d) -> (N, m)`` (NumPy), for true errors in reports.
        parameters: Unknown parameters of the equation (a combined forward-inverse problem, section 4):
            ``{name: initial value}``. They are trained with the stage networks (eqs. 4.6-4.8); the
            residual then takes a fourth argument ``p`` and reads ``p["lam"]`` (a float64 scalar tensor).
        constraints: :class:`~msnn_tf.pinn.ResidualDerivative` losses on derivatives of the residual
            at their own points (``L_s`` of eqs. 4.2 and 4.4), e.g. the smoothness constraint that fixes
            an unknown exponent.
        symmetry: ``None``, ``"odd"`` or ``"even"``: every stage network is wrapped so that the
            solution has that symmetry exactly (``y [NN(y) + NN(-y)]`` for odd, App. D); needs a 1-D
            domain symmetric about 0.
        parameter_scales: ``{name: scale}``, how far each initial value may be off: the prefactor
            ``eps_lambda`` of the parameter's correction at stage 0 (eq. 4.6, ``lambda = lambda_0 +
            eps_lambda delta``; later stages set it from ``sqrt(L_s)``). Default 1 (the paper: the
            parameter trains as freely as a weight). Adam's steps are normalised per coordinate, so
            with scale 1 the parameter moves as fast as any weight while the network is still far
            from a solution and may settle in another solution's basin; a scale of the initial
            value's uncertainty keeps it near its start until the profile has formed (from
            ``lambda = 0.23``, scale 1 ended stage 0 at 0.4999, scale 0.01 at 0.2518: the profile
            of ``lambda = 1/4``).

    A residual with three arguments ``r(x, u, d)`` keeps working when there are no parameters.

    Raises:
        ValueError: on an unknown derivative key, a non-callable residual, no conditions, a residual that
            reads an undeclared parameter, a non-finite initial parameter value, a non-positive or
            undeclared parameter scale, a constraint region outside the domain, or a symmetry other
            than ``"odd"``, ``"even"`` or ``None``.
    """

    def __init__(self, domain: Box, residual: Callable, derivatives: Sequence, conditions: Sequence,
                 output_dim: int = 1, exact: Callable | None = None, parameters: Mapping | None = None,
                 constraints: Sequence | None = None, symmetry: str | None = None,
                 parameter_scales: Mapping | None = None):
        if not isinstance(domain, Box):
            raise ValueError(f"`domain` must be a pinn.Box (Interval, Rectangle, SpaceTimeBox), got {type(domain).__name__}")
        if not callable(residual):
            raise ValueError(f"`residual` must be callable r(x, u, d), got {residual!r}")
        self.domain = domain
        self.residual = residual
        self.derivatives = list(derivatives)
        self.orders = [parse_derivative(key, domain.dim, domain.axis_names) for key in self.derivatives]
        self.conditions = list(conditions)
        if not self.conditions:
            raise ValueError("`conditions` must hold at least one condition (a PINN without one is not well posed)")
        for condition in self.conditions:
            if not isinstance(condition, VALUE_CONDITIONS + OPERATOR_CONDITIONS):
                names = ", ".join(c.__name__ for c in VALUE_CONDITIONS + OPERATOR_CONDITIONS)
                raise ValueError(f"a condition must be one of {names}, got {condition!r}")
        self.output_dim = positive_int("output_dim", output_dim)
        self.exact = exact
        self.parameters = _check_parameters(parameters)
        self.parameter_scales = _check_parameter_scales(parameter_scales, self.parameters)
        self.takes_parameters = _takes_parameters(residual)
        if self.parameters and not self.takes_parameters:
            raise ValueError("`residual` must take four arguments r(x, u, d, p) when `parameters` are declared, "
                             f"got {residual!r}")
        self.constraints = list(constraints or [])
        for constraint in self.constraints:
            if not isinstance(constraint, ResidualDerivative):
                raise ValueError(f"`constraints` must hold pinn.ResidualDerivative objects, got {constraint!r}")
            constraint.check(domain)
        if symmetry is not None and symmetry not in SYMMETRIES:
            raise ValueError(f"`symmetry` must be one of {SYMMETRIES} or None, got {symmetry!r}")
        if symmetry is not None and (domain.dim != 1 or not math.isclose(domain.lower[0], -domain.upper[0])):
            raise ValueError(f"`symmetry={symmetry!r}` needs a 1-D domain symmetric about 0, got "
                             f"[{domain.lower.tolist()}, {domain.upper.tolist()}]")
        self.symmetry = symmetry
        if self.takes_parameters:
            self._probe_parameters()
        self._check_conditions()

    def _check_conditions(self) -> None:
        """Samples every condition once (faces on this domain, shapes of the values) and evaluates each
        operator condition on a smooth trial function, so that a wrong face, a function returning the
        wrong shape or an operator reading an unknown derivative fails here, naming the condition."""
        for condition in self.conditions:
            condition.closed_faces(self.domain)  # checks the condition's faces against the domain
        self.condition_data(seed=0)
        trial = self._trial_function
        for rows in self.operator_rows(seed=0):
            xs = [tf.constant(points) for points in rows.points]
            partials = [partial_derivatives(trial, x, [dict(enumerate(k)) for k in rows.keys], self.domain.axis_names)
                        for x in xs]
            try:
                value = rows.mismatch(xs, partials)
            except KeyError as error:
                raise ValueError(f"{rows.name}: {error.args[0]}; list it in the condition's `derivatives`") from None
            if value.shape.rank != 2 or value.shape[0] != xs[0].shape[0]:
                raise ValueError(f"{rows.name} must give shape (N, k) at N points, got shape {tuple(value.shape)}")

    def _trial_function(self, z):
        """A smooth trial solution ``0.5 + 0.25 sum_i sin(z_i)`` per output, for the checks at construction."""
        return 0.5 + 0.25 * tf.tile(tf.reduce_sum(tf.sin(z), axis=1, keepdims=True), [1, self.output_dim])

    def _probe_parameters(self) -> None:
        """Evaluates the residual once on a smooth trial function, so that a residual reading an
        undeclared parameter fails here, naming it, rather than inside a compiled loss."""
        x = tf.constant(self.domain.sample(4, "random", seed=0))
        trial = self._trial_function
        try:
            self.residual_values(x, self.partials(trial, x))
        except UndeclaredParameterError:
            raise
        except Exception:  # noqa: BLE001 - other failures of the trial function are reported by `check`
            pass

    def parameter_values(self, parameters=None) -> ParameterValues:
        """The ``p`` the residual receives: ``parameters`` (``{name: value}``) or the initial values."""
        return ParameterValues(self.parameters if parameters is None else parameters)

    @property
    def highest_orders(self) -> tuple[int, ...]:
        """Per axis, the order of the highest-order derivative the residual uses (``m_i`` of eq. 3.19)."""
        top = max((sum(o) for o in self.orders), default=0)
        tops = [o for o in self.orders if sum(o) == top]
        return tuple(max(o[i] for o in tops) for i in range(self.domain.dim)) if tops else (0,) * self.domain.dim

    def open_faces(self) -> list[tuple[int, int]]:
        """The ``(axis, side)`` faces of the domain that carry no condition: no boundary condition
        (Dirichlet, Neumann, Robin, periodic) on them, not the initial face of an
        :class:`InitialCondition` and, in 1-D, no :class:`PointValues` point on them (e.g. the final
        time of an evolution problem, or both ends of an ODE with a condition inside)."""
        closed = set()
        for condition in self.conditions:
            closed.update(condition.closed_faces(self.domain))
        return [face for face in self.domain.faces() if face not in closed]

    @property
    def value_conditions(self) -> list:
        """The conditions on ``u`` itself (:class:`PointValues`, :class:`DirichletBoundary`, :class:`InitialCondition`)."""
        return [c for c in self.conditions if isinstance(c, VALUE_CONDITIONS)]

    @property
    def operator_conditions(self) -> list:
        """The conditions on derivatives (:class:`NeumannBoundary`, :class:`RobinBoundary`,
        :class:`PeriodicBoundary`, :class:`OperatorCondition`)."""
        return [c for c in self.conditions if isinstance(c, OPERATOR_CONDITIONS)]

    def condition_data(self, seed: int | None = None, domain: Box | None = None,
                       min_points_per_face: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The value conditions' points and values stacked: ``(x_d, u_d)`` of the data loss (``(0, d)`` and
        ``(0, m)`` when every condition is an operator condition).

        Args:
            seed: Seed of the samplers (condition ``i`` of :attr:`conditions` uses ``seed + i``).
            domain: Box to sample the boundary and initial conditions on (default the problem's;
                the solver passes its training box, grown past open faces).
            min_points_per_face: At least this many points per face (a solved stage asks for more).
        """
        domain = self.domain if domain is None else domain
        parts = [c.sample(domain, self.output_dim, seed=None if seed is None else seed + i,
                          min_points_per_face=min_points_per_face)
                 for i, c in enumerate(self.conditions) if isinstance(c, VALUE_CONDITIONS)]
        if not parts:
            return np.zeros((0, domain.dim)), np.zeros((0, self.output_dim))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def operator_rows(self, seed: int | None = None, domain: Box | None = None,
                      min_points_per_face: int | None = None) -> list[ConditionRows]:
        """The operator conditions' :class:`ConditionRows` (same seeds and arguments as :meth:`condition_data`)."""
        domain = self.domain if domain is None else domain
        return [c.rows(self, domain, seed=None if seed is None else seed + i, min_points_per_face=min_points_per_face)
                for i, c in enumerate(self.conditions) if isinstance(c, OPERATOR_CONDITIONS)]

    def partials(self, function: Callable, x) -> Partials:
        """The derivatives the residual needs (and ``u`` itself) of ``function`` at ``x``."""
        return partial_derivatives(function, x, [""] + self.derivatives, axis_names=self.domain.axis_names)

    def residual_values(self, x, partials: Partials, parameters=None) -> tf.Tensor:
        """``r(x, u, d)`` (or ``r(x, u, d, p)``) as an ``(N, k)`` tensor, with its shape checked.

        Args:
            x: Points ``(N, d)``.
            partials: ``u`` and the derivatives the residual reads.
            parameters: ``{name: value}`` of the unknown parameters (floats or tensors; default the
                initial values).
        """
        if self.takes_parameters:
            value = self.residual(x, partials[""], partials, self.parameter_values(parameters))
        else:
            value = self.residual(x, partials[""], partials)
        value = tf.convert_to_tensor(value)
        rows = x.shape[0]
        if value.shape.rank == 1:
            value = value[:, None]
        if value.shape.rank != 2 or (rows is not None and value.shape[0] is not None and value.shape[0] != rows):
            raise ValueError(f"the residual must return shape ({rows}, k), got shape {tuple(value.shape)}")
        return value

    def check(self, function: Callable, num_points: int = 16, seed: int = 0) -> None:
        """Evaluates the residual of ``function`` at a few points; raises a clear error if it is malformed.

        Raises:
            ValueError: if the residual returns a wrong shape or non-finite values, or ``function``
                returns a shape other than ``(N, output_dim)``.
        """
        x = tf.constant(self.domain.sample(num_points, "random", seed=seed))
        u = function(x)
        if tuple(u.shape) != (x.shape[0], self.output_dim):
            raise ValueError(f"the solution must have shape (N, {self.output_dim}), got shape {tuple(u.shape)}")
        value = self.residual_values(x, self.partials(function, x))
        if not np.all(np.isfinite(value.numpy())):
            raise ValueError("the residual returned non-finite values at sample points; check the equation for "
                             "divisions by zero or logarithms of non-positive values")
