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
from msnn_tf.pinn.constraints import ResidualDerivative
from msnn_tf.pinn.domains import Box, SpaceTimeBox
from msnn_tf.transforms import SYMMETRIES
from msnn_tf.validation import positive_int

__all__ = ["DirichletBoundary", "InitialCondition", "ParameterValues", "PointValues", "Problem", "UndeclaredParameterError"]


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


def _values(name: str, values, rows: int, output_dim: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape != (rows, output_dim):
        raise ValueError(f"`{name}` must have shape ({rows}, {output_dim}), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"`{name}` must be finite, got non-finite values")
    return values


class PointValues:
    """``u(points) = values``: data or point conditions (the data loss ``L_d`` of eq. 3.2)."""

    def __init__(self, points, values):
        self.points = np.asarray(points, dtype=np.float64)
        self.values = np.asarray(values, dtype=np.float64)

    def sample(self, domain: Box, output_dim: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(x, u)`` arrays, checked against the domain."""
        points = domain.check_inside("PointValues.points", self.points.reshape(-1, domain.dim) if self.points.ndim == 1 else self.points)
        return points, _values("PointValues.values", self.values, points.shape[0], output_dim)


class DirichletBoundary:
    """``u = function(x)`` on the faces of the domain (all faces, or the ``(axis, side)`` pairs given).

    Args:
        function: Maps ``(N, d)`` points to ``(N,)`` or ``(N, m)`` values (NumPy).
        points_per_face: Points per face (Latin hypercube; one end point per face in 1-D).
        faces: Optional list of ``(axis, side)`` faces, side 0 lower and 1 upper.
    """

    def __init__(self, function: Callable, points_per_face: int = 100, faces: Sequence[tuple[int, int]] | None = None):
        if not callable(function):
            raise ValueError(f"`function` must be callable, got {function!r}")
        self.function = function
        self.points_per_face = positive_int("points_per_face", points_per_face)
        self.faces = faces

    def sample(self, domain: Box, output_dim: int, seed: int | None = None):
        points = domain.boundary(self.points_per_face, seed=seed, faces=self.faces)
        return points, _values("DirichletBoundary.function(x)", self.function(points), points.shape[0], output_dim)


class InitialCondition:
    """``u(x, t_start) = function(x, t_start)`` on a :class:`SpaceTimeBox`."""

    def __init__(self, function: Callable, num_points: int = 100):
        if not callable(function):
            raise ValueError(f"`function` must be callable, got {function!r}")
        self.function = function
        self.num_points = positive_int("num_points", num_points)

    def sample(self, domain: Box, output_dim: int, seed: int | None = None):
        if not isinstance(domain, SpaceTimeBox):
            raise ValueError(f"an InitialCondition needs a SpaceTimeBox domain, got {type(domain).__name__}")
        points = domain.initial(self.num_points, seed=seed)
        return points, _values("InitialCondition.function(x)", self.function(points), points.shape[0], output_dim)


class Problem:
    """A differential equation ``r(x, u, d) = 0`` on a domain, with conditions.

    Args:
        domain: A :class:`~msnn_tf.pinn.Box` (``Interval``, ``Rectangle``, ``SpaceTimeBox``); its
            ``axis_names`` name the derivative keys.
        residual: ``r(x, u, d) -> (N, k)`` tensor: ``x`` the points ``(N, d)``, ``u`` the solution
            ``(N, m)``, ``d`` a :class:`~msnn_tf.Partials` holding the derivatives listed in
            ``derivatives`` (``d["xx"]``, ``d["t"]``, ``d.laplacian()``). Written with TensorFlow ops.
        derivatives: Keys of the derivatives the residual reads, e.g. ``["x"]`` or ``["t", "xx"]``.
        conditions: :class:`PointValues`, :class:`DirichletBoundary`, :class:`InitialCondition`.
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

    A residual with three arguments ``r(x, u, d)`` keeps working when there are no parameters.

    Raises:
        ValueError: on an unknown derivative key, a non-callable residual, no conditions, a residual that
            reads an undeclared parameter, a non-finite initial parameter value, a constraint region
            outside the domain, or a symmetry other than ``"odd"``, ``"even"`` or ``None``.
    """

    def __init__(self, domain: Box, residual: Callable, derivatives: Sequence, conditions: Sequence,
                 output_dim: int = 1, exact: Callable | None = None, parameters: Mapping | None = None,
                 constraints: Sequence | None = None, symmetry: str | None = None):
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
            if not hasattr(condition, "sample"):
                raise ValueError(f"a condition must be PointValues, DirichletBoundary or InitialCondition, got {condition!r}")
        self.output_dim = positive_int("output_dim", output_dim)
        self.exact = exact
        self.parameters = _check_parameters(parameters)
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

    def _probe_parameters(self) -> None:
        """Evaluates the residual once on a smooth trial function, so that a residual reading an
        undeclared parameter fails here, naming it, rather than inside a compiled loss."""
        x = tf.constant(self.domain.sample(4, "random", seed=0))
        trial = lambda z: 0.5 + 0.25 * tf.tile(tf.reduce_sum(tf.sin(z), axis=1, keepdims=True), [1, self.output_dim])
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
        """The ``(axis, side)`` faces of the domain that carry no condition: no
        :class:`DirichletBoundary` on them, not the initial face of an :class:`InitialCondition`
        and, in 1-D, no :class:`PointValues` point on them (e.g. the final time of an evolution
        problem, or both ends of an ODE with a condition inside)."""
        domain = self.domain
        closed = set()
        for condition in self.conditions:
            if isinstance(condition, DirichletBoundary):
                closed.update(tuple(f) for f in (domain.faces() if condition.faces is None else condition.faces))
            elif isinstance(condition, InitialCondition) and isinstance(domain, SpaceTimeBox):
                closed.add((domain.time_axis, 0))
            elif isinstance(condition, PointValues) and domain.dim == 1:
                points = np.asarray(condition.points, dtype=np.float64).reshape(-1)
                span = domain.upper[0] - domain.lower[0]
                for side, end in ((0, domain.lower[0]), (1, domain.upper[0])):
                    if np.any(np.abs(points - end) <= 1e-12 * span):
                        closed.add((0, side))
        return [face for face in domain.faces() if face not in closed]

    def condition_data(self, seed: int | None = None, domain: Box | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All condition points and values stacked: ``(x_d, u_d)`` of the data loss.

        Args:
            seed: Seed of the samplers (condition ``i`` uses ``seed + i``).
            domain: Box to sample the boundary and initial conditions on (default the problem's;
                the solver passes its training box, grown past open faces).
        """
        domain = self.domain if domain is None else domain
        parts = [c.sample(domain, self.output_dim, seed=None if seed is None else seed + i)
                 for i, c in enumerate(self.conditions)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

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
