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

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from msnn_tf.derivatives import Partials, parse_derivative, partial_derivatives
from msnn_tf.pinn.domains import Box, SpaceTimeBox
from msnn_tf.validation import positive_int

__all__ = ["DirichletBoundary", "InitialCondition", "PointValues", "Problem"]


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

    Raises:
        ValueError: on an unknown derivative key, a non-callable residual, no conditions.
    """

    def __init__(self, domain: Box, residual: Callable, derivatives: Sequence, conditions: Sequence,
                 output_dim: int = 1, exact: Callable | None = None):
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

    def residual_values(self, x, partials: Partials) -> tf.Tensor:
        """``r(x, u, d)`` as an ``(N, k)`` tensor, with its shape checked."""
        value = tf.convert_to_tensor(self.residual(x, partials[""], partials))
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
