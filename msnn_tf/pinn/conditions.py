"""Conditions of a PINN problem: the data loss ``L_d`` of eq. (3.2) and the condition rows of a solved stage.

Two kinds:

* **Value conditions** prescribe ``u`` itself: :class:`PointValues`, :class:`DirichletBoundary`,
  :class:`InitialCondition`. They sample ``(x, u)`` pairs.
* **Operator conditions** prescribe an expression in ``u`` and its derivatives:
  :class:`NeumannBoundary` (``du/dn = g``), :class:`RobinBoundary` (``alpha u + beta du/dn = g``),
  :class:`PeriodicBoundary` (values and derivatives matched across a pair of faces) and the general
  :class:`OperatorCondition` (``B(x, u, d) = g`` at chosen points). They sample
  :class:`ConditionRows`: point sets, the derivative keys needed there and a mismatch function that is
  zero when the condition holds. The mismatch enters the data loss (its mean square, beside the value
  conditions' rows), the least-squares rows of a solved stage (linearised in ``u``'s derivatives, as the
  residual is, eq. 3.17) and the condition part of ``eps_k`` (its size converted to an error of ``u`` by
  the factor of eq. 3.19).

Example (a heat equation periodic in ``x``)::

    pinn.Problem(domain=pinn.SpaceTimeBox(0, 1, 0, 0.5), residual=lambda x, u, d: d["t"] - d["xx"],
                 derivatives=["t", "xx"],
                 conditions=[pinn.InitialCondition(g), pinn.PeriodicBoundary("x")])
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from msnn_tf.derivatives import Partials, parse_derivative
from msnn_tf.pinn.domains import Box, SpaceTimeBox
from msnn_tf.validation import positive_int

__all__ = ["ConditionRows", "DirichletBoundary", "InitialCondition", "NeumannBoundary", "OperatorCondition",
           "PeriodicBoundary", "PointValues", "RobinBoundary"]


def _values(name: str, values, rows: int, output_dim: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape != (rows, output_dim):
        raise ValueError(f"`{name}` must have shape ({rows}, {output_dim}), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"`{name}` must be finite, got non-finite values")
    return values


def _check_faces(name: str, faces) -> list[tuple[int, int]] | None:
    """``faces`` as a list of ``(axis, side)`` pairs (checked against a domain later), or ``None``."""
    if faces is None:
        return None
    try:
        pairs = [tuple(face) for face in faces]
    except TypeError:
        raise ValueError(f"`{name}` must be a list of (axis, side) pairs, got {faces!r}") from None
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair) \
                or pair[0] < 0 or pair[1] not in (0, 1):
            raise ValueError(f"`{name}` must hold (axis, side) pairs with axis >= 0 and side 0 or 1, got {pair!r}")
    if not pairs:
        raise ValueError(f"`{name}` must name at least one face, got {faces!r}")
    return [(int(a), int(s)) for a, s in pairs]


def _faces_on(domain: Box, faces, kind: str) -> list[tuple[int, int]]:
    """The faces a condition covers on ``domain`` (all of them for ``None``), checked."""
    faces = domain.faces() if faces is None else faces
    for axis, side in faces:
        if axis >= domain.dim:
            raise ValueError(f"{kind}: face {(axis, side)!r} needs axis < {domain.dim} on this {domain.dim}-D domain")
    return list(faces)


def _callable(name: str, function) -> Callable:
    if not callable(function):
        raise ValueError(f"`{name}` must be callable, got {function!r}")
    return function


def _face_count(points_per_face: int, minimum: int | None) -> int:
    return points_per_face if minimum is None else max(points_per_face, int(minimum))


class PointValues:
    """``u(points) = values``: data or point conditions (the data loss ``L_d`` of eq. 3.2)."""

    def __init__(self, points, values):
        self.points = np.asarray(points, dtype=np.float64)
        self.values = np.asarray(values, dtype=np.float64)

    def sample(self, domain: Box, output_dim: int, seed: int | None = None, min_points_per_face: int | None = None):
        """``(x, u)`` arrays, checked against the domain."""
        points = domain.check_inside("PointValues.points", self.points.reshape(-1, domain.dim) if self.points.ndim == 1 else self.points)
        return points, _values("PointValues.values", self.values, points.shape[0], output_dim)

    def closed_faces(self, domain: Box) -> set:
        """In 1-D, the ends that carry a point."""
        if domain.dim != 1:
            return set()
        points = self.points.reshape(-1)
        span = domain.upper[0] - domain.lower[0]
        return {(0, side) for side, end in ((0, domain.lower[0]), (1, domain.upper[0]))
                if np.any(np.abs(points - end) <= 1e-12 * span)}


class DirichletBoundary:
    """``u = function(x)`` on the faces of the domain (all faces, or the ``(axis, side)`` pairs given).

    Args:
        function: Maps ``(N, d)`` points to ``(N,)`` or ``(N, m)`` values (NumPy).
        points_per_face: Points per face (Latin hypercube; one end point per face in 1-D). A solved
            stage in ``d >= 2`` may take more (see :meth:`msnn_tf.pinn.objective.PINNObjective.collocation`).
        faces: Optional list of ``(axis, side)`` faces, side 0 lower and 1 upper.
    """

    def __init__(self, function: Callable, points_per_face: int = 100, faces: Sequence[tuple[int, int]] | None = None):
        self.function = _callable("function", function)
        self.points_per_face = positive_int("points_per_face", points_per_face)
        self.faces = _check_faces("faces", faces)

    def sample(self, domain: Box, output_dim: int, seed: int | None = None, min_points_per_face: int | None = None):
        faces = _faces_on(domain, self.faces, "DirichletBoundary")
        points = domain.boundary(_face_count(self.points_per_face, min_points_per_face), seed=seed, faces=faces)
        return points, _values("DirichletBoundary.function(x)", self.function(points), points.shape[0], output_dim)

    def closed_faces(self, domain: Box) -> set:
        return set(_faces_on(domain, self.faces, "DirichletBoundary"))


class InitialCondition:
    """``u(x, t_start) = function(x, t_start)`` on a :class:`SpaceTimeBox`."""

    def __init__(self, function: Callable, num_points: int = 100):
        self.function = _callable("function", function)
        self.num_points = positive_int("num_points", num_points)

    def sample(self, domain: Box, output_dim: int, seed: int | None = None, min_points_per_face: int | None = None):
        if not isinstance(domain, SpaceTimeBox):
            raise ValueError(f"an InitialCondition needs a SpaceTimeBox domain, got {type(domain).__name__}")
        points = domain.initial(_face_count(self.num_points, min_points_per_face), seed=seed)
        return points, _values("InitialCondition.function(x)", self.function(points), points.shape[0], output_dim)

    def closed_faces(self, domain: Box) -> set:
        return {(domain.time_axis, 0)} if isinstance(domain, SpaceTimeBox) else set()


@dataclasses.dataclass
class ConditionRows:
    """What an operator condition contributes at a stage.

    Attributes:
        name: The condition's class name (for messages).
        points: One or more ``(N, d)`` point sets of equal length (two for a periodic pair).
        keys: Derivative multi-indices the mismatch reads at every point set (``u`` itself included).
        mismatch: ``mismatch(xs, partials) -> (N, k)`` tensor, zero where the condition holds; ``xs`` the
            point sets as tensors, ``partials`` one :class:`~msnn_tf.Partials` per set. Row ``i`` depends
            only on row ``i`` of every set (so a solved stage can linearise it pointwise).
    """

    name: str
    points: tuple
    keys: tuple
    mismatch: Callable


def _normal_rows(domain: Box, faces, points_per_face: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Points on ``faces`` and the outward unit normal at each, ``(N, d)`` both."""
    rng = np.random.default_rng(seed)
    points, normals = [], []
    for axis, side in faces:
        face_points = domain.boundary(points_per_face, seed=int(rng.integers(2**31)), faces=[(axis, side)])
        normal = np.zeros_like(face_points)
        normal[:, axis] = 1.0 if side else -1.0
        points.append(face_points)
        normals.append(normal)
    return np.concatenate(points), np.concatenate(normals)


def _first_keys(d: int, axes) -> tuple:
    zero = (0,) * d
    return (zero,) + tuple(tuple(1 if i == a else 0 for i in range(d)) for a in sorted(set(axes)))


def _normal_derivative(partials, normals: tf.Tensor, d: int) -> tf.Tensor:
    """``n . grad u`` from first derivatives (only the axes present are read)."""
    total = 0.0
    for axis in range(d):
        key = tuple(1 if i == axis else 0 for i in range(d))
        if key in partials.values:
            total = total + normals[:, axis:axis + 1] * partials.values[key]
    return total


class NeumannBoundary:
    """``du/dn = function(x)`` on faces of the domain (outward normal; all faces or the ``(axis, side)`` given).

    Args:
        function: Maps ``(N, d)`` points to ``(N,)`` or ``(N, m)`` normal derivatives (NumPy).
        points_per_face: Points per face (Latin hypercube; the end point in 1-D).
        faces: Optional ``(axis, side)`` faces, side 0 lower (normal ``-e_axis``) and 1 upper (``+e_axis``).
    """

    kind = "NeumannBoundary"

    def __init__(self, function: Callable, points_per_face: int = 100, faces: Sequence[tuple[int, int]] | None = None):
        self.function = _callable("function", function)
        self.points_per_face = positive_int("points_per_face", points_per_face)
        self.faces = _check_faces("faces", faces)

    def _coefficients(self):
        return 0.0, 1.0

    def rows(self, problem, domain: Box, seed: int | None = None, min_points_per_face: int | None = None) -> ConditionRows:
        faces = _faces_on(domain, self.faces, self.kind)
        points, normals = _normal_rows(domain, faces, _face_count(self.points_per_face, min_points_per_face), seed)
        target = tf.constant(_values(f"{self.kind}.function(x)", self.function(points), len(points), problem.output_dim))
        normal_tensor = tf.constant(normals)
        alpha, beta = self._coefficients()
        d = domain.dim
        zero = (0,) * d

        def mismatch(xs, partials):
            value = beta * _normal_derivative(partials[0], normal_tensor, d)
            if alpha:
                value = value + alpha * partials[0].values[zero]
            return value - target

        return ConditionRows(self.kind, (points,), _first_keys(d, [a for a, _ in faces]), mismatch)

    def closed_faces(self, domain: Box) -> set:
        return set(_faces_on(domain, self.faces, self.kind))


class RobinBoundary(NeumannBoundary):
    """``alpha u + beta du/dn = function(x)`` on faces of the domain (outward normal).

    Args:
        alpha: Coefficient of ``u`` (finite).
        beta: Coefficient of the normal derivative (finite; ``alpha`` and ``beta`` not both 0).
        function: Maps ``(N, d)`` points to ``(N,)`` or ``(N, m)`` values (NumPy).
        points_per_face: Points per face.
        faces: Optional ``(axis, side)`` faces.
    """

    kind = "RobinBoundary"

    def __init__(self, alpha: float, beta: float, function: Callable, points_per_face: int = 100,
                 faces: Sequence[tuple[int, int]] | None = None):
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
                raise ValueError(f"`{name}` must be a finite number, got {value!r}")
        if alpha == 0 and beta == 0:
            raise ValueError("`alpha` and `beta` must not both be 0 (the condition would read nothing)")
        super().__init__(function, points_per_face, faces)
        self.alpha, self.beta = float(alpha), float(beta)

    def _coefficients(self):
        return self.alpha, self.beta


class PeriodicBoundary:
    """``d^k u / d x_a^k`` equal on the two faces of axis ``a`` for ``k`` in ``orders``.

    Args:
        axis: The periodic axis: its index or its name (``"x"``).
        points_per_face: Point pairs (Latin hypercube on the lower face, each matched with the point
            opposite on the upper face; one pair in 1-D).
        orders: Derivative orders along ``axis`` that must match. ``None``: ``0 .. m - 1`` with ``m`` the
            residual's highest order along the axis (``u`` and ``u_x`` for a second-order equation).
    """

    kind = "PeriodicBoundary"

    def __init__(self, axis, points_per_face: int = 100, orders: Sequence[int] | None = None):
        if not (isinstance(axis, str) or (isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and axis >= 0)):
            raise ValueError(f"`axis` must be an axis index >= 0 or an axis name, got {axis!r}")
        self.axis = axis
        self.points_per_face = positive_int("points_per_face", points_per_face)
        if orders is not None:
            orders = tuple(orders)
            if not orders or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0 for k in orders):
                raise ValueError(f"`orders` must be non-negative integers, got {orders!r}")
        self.orders = orders

    def axis_index(self, domain: Box) -> int:
        if isinstance(self.axis, str):
            if self.axis not in domain.axis_names:
                raise ValueError(f"PeriodicBoundary: axis {self.axis!r} is not one of the domain's axes {domain.axis_names}")
            return domain.axis_names.index(self.axis)
        if self.axis >= domain.dim:
            raise ValueError(f"PeriodicBoundary: axis {self.axis!r} needs axis < {domain.dim} on this {domain.dim}-D domain")
        return int(self.axis)

    def matched_orders(self, problem) -> tuple[int, ...]:
        if self.orders is not None:
            return self.orders
        axis = self.axis_index(problem.domain)
        highest = max((order[axis] for order in problem.orders), default=0)
        return tuple(range(max(1, highest)))

    def rows(self, problem, domain: Box, seed: int | None = None, min_points_per_face: int | None = None) -> ConditionRows:
        axis = self.axis_index(domain)
        lower = domain.boundary(_face_count(self.points_per_face, min_points_per_face), seed=seed, faces=[(axis, 0)])
        upper = lower.copy()
        upper[:, axis] = domain.upper[axis]
        d = domain.dim
        keys = [tuple(k if i == axis else 0 for i in range(d)) for k in self.matched_orders(problem)]

        def mismatch(xs, partials):
            return tf.concat([partials[0].values[k] - partials[1].values[k] for k in keys], axis=1)

        return ConditionRows(self.kind, (lower, upper), tuple(sorted(set(keys) | {(0,) * d})), mismatch)

    def closed_faces(self, domain: Box) -> set:
        axis = self.axis_index(domain)
        return {(axis, 0), (axis, 1)}


class OperatorCondition:
    """``operator(x, u, d) = values`` at chosen points: any expression in ``u`` and its derivatives.

    Args:
        operator: ``(x, u, d) -> (N, k)`` tensor, written with TensorFlow ops as a residual is; ``d``
            holds the derivatives listed in ``derivatives``.
        points: ``(N, d)`` points inside the domain.
        derivatives: Keys of the derivatives the operator reads (``["x"]``, ``["xy"]``).
        values: Optional ``(N, k)`` right-hand side (default 0).

    Example (``u_x(0, y) + u(0, y)^2 = 1`` on 50 points of the left face)::

        pinn.OperatorCondition(lambda x, u, d: d["x"] + u**2, points, ["x"], values=np.ones(50))
    """

    kind = "OperatorCondition"

    def __init__(self, operator: Callable, points, derivatives: Sequence, values=None):
        self.operator = _callable("operator", operator)
        self.points = np.asarray(points, dtype=np.float64)
        if self.points.ndim == 1:
            self.points = self.points[:, None]
        if self.points.ndim != 2 or self.points.shape[0] == 0:
            raise ValueError(f"`points` must have shape (N, d) with N >= 1, got shape {self.points.shape}")
        self.derivatives = list(derivatives)
        self.values = None if values is None else np.asarray(values, dtype=np.float64)

    def rows(self, problem, domain: Box, seed: int | None = None, min_points_per_face: int | None = None) -> ConditionRows:
        points = domain.check_inside("OperatorCondition.points", self.points)
        d = domain.dim
        keys = tuple(sorted({(0,) * d} | {parse_derivative(k, d, domain.axis_names) for k in self.derivatives}))
        operator, axis_names, target = self.operator, domain.axis_names, None
        if self.values is not None:
            values = self.values[:, None] if self.values.ndim == 1 else self.values
            if values.ndim != 2 or values.shape[0] != len(points):
                raise ValueError(f"`OperatorCondition.values` must have shape ({len(points)}, k), got shape {self.values.shape}")
            if not np.all(np.isfinite(values)):
                raise ValueError("`OperatorCondition.values` must be finite, got non-finite values")
            target = tf.constant(values)

        def mismatch(xs, partials):
            value = tf.convert_to_tensor(operator(xs[0], partials[0].values[(0,) * d],
                                                  Partials(partials[0].values, d, axis_names)))
            if value.shape.rank == 1:
                value = value[:, None]
            if target is not None and value.shape[1] is not None and value.shape[1] != target.shape[1]:
                raise ValueError(f"OperatorCondition: the operator returns {value.shape[1]} column(s) but `values` has "
                                 f"{target.shape[1]}")
            return value if target is None else value - target

        return ConditionRows(self.kind, (points,), keys, mismatch)

    def closed_faces(self, domain: Box) -> set:
        return set()


VALUE_CONDITIONS = (PointValues, DirichletBoundary, InitialCondition)
OPERATOR_CONDITIONS = (NeumannBoundary, PeriodicBoundary, OperatorCondition)
