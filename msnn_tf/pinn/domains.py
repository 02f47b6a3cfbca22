"""Domains of PINN problems (intervals, rectangles, space-time boxes) and their samplers.

Collocation points for the equation loss (eq. 3.2) are drawn inside a :class:`Box` by one of three
samplers: a uniform grid, independent uniform draws, or a Latin hypercube (the reference code's
choice). Resampling every ``k`` Adam steps (the paper's "Adam (SGD)", section 3.3.1) calls the same
sampler with a new seed.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np

from msnn_tf.validation import positive_int

__all__ = ["Box", "Interval", "Rectangle", "SAMPLERS", "SpaceTimeBox"]

SAMPLERS = ("uniform", "random", "latin_hypercube")


class Box:
    """An axis-aligned box ``[lower, upper]`` in ``d`` dimensions with named axes.

    Args:
        lower: Lower corner (scalar or length ``d``).
        upper: Upper corner; larger than ``lower`` on every axis.
        axis_names: One name per axis (a string of letters such as ``"xt"``); used for derivative
            keys in residuals (``d["xx"]``). Defaults to ``"x"``, ``"xy"``, ``"xyz"``.

    Raises:
        ValueError: on non-finite or non-increasing bounds, or axis names of the wrong length.
    """

    def __init__(self, lower, upper, axis_names: Sequence[str] | None = None):
        lower = np.atleast_1d(np.asarray(lower, dtype=np.float64))
        upper = np.atleast_1d(np.asarray(upper, dtype=np.float64))
        if lower.ndim != 1 or lower.shape != upper.shape or lower.size == 0:
            raise ValueError(f"`lower` and `upper` must be scalars or vectors of one length, got {lower!r} and {upper!r}")
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(upper > lower)):
            raise ValueError(f"the box needs finite bounds with upper > lower on every axis, got lower={lower}, upper={upper}")
        self.lower = lower
        self.upper = upper
        if axis_names is None:
            axis_names = "xyzw"[: lower.size] if lower.size <= 4 else [f"x{i}" for i in range(lower.size)]
        if len(axis_names) != lower.size or len(set(axis_names)) != lower.size:
            raise ValueError(f"`axis_names` must give {lower.size} distinct names, got {axis_names!r}")
        self.axis_names = tuple(axis_names)

    @property
    def dim(self) -> int:
        return int(self.lower.size)

    def contains(self, x, tolerance: float = 1e-12) -> np.ndarray:
        """Boolean mask of the rows of ``x`` inside the box (closed, up to ``tolerance`` relative)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        slack = tolerance * (self.upper - self.lower)
        return np.all((x >= self.lower - slack) & (x <= self.upper + slack), axis=1)

    def check_inside(self, name: str, x) -> np.ndarray:
        """``x`` as ``(N, d)`` float64, or ``ValueError`` naming ``name`` and the first point outside."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self.dim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"`{name}` must have shape (N, {self.dim}), got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"`{name}` must be finite, got non-finite coordinates")
        inside = self.contains(x)
        if not np.all(inside):
            first = x[np.argmin(inside)]
            raise ValueError(f"`{name}` has points outside the domain [{self.lower}, {self.upper}], e.g. {first}")
        return x

    def sample(self, num_points: int, method: str = "latin_hypercube", seed: int | None = None) -> np.ndarray:
        """``num_points`` points inside the box, shape ``(num_points, d)``.

        Args:
            num_points: Number of points (for ``"uniform"``: the grid has ``ceil(num_points^(1/d))``
                points per axis, so at least ``num_points`` in total).
            method: ``"uniform"`` (grid including the faces), ``"random"`` (independent uniform draws)
                or ``"latin_hypercube"`` (one point per stratum of every axis, randomly paired).
            seed: Seed of the random methods.
        """
        num_points = positive_int("num_points", num_points)
        if method not in SAMPLERS:
            raise ValueError(f"`method` must be one of {SAMPLERS}, got {method!r}")
        d = self.dim
        if method == "uniform":
            per_axis = max(2, int(math.ceil(num_points ** (1.0 / d) - 1e-9)))
            axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(self.lower, self.upper)]
            return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        rng = np.random.default_rng(seed)
        if method == "random":
            unit = rng.uniform(size=(num_points, d))
        else:
            unit = np.empty((num_points, d))
            for axis in range(d):
                unit[:, axis] = (rng.permutation(num_points) + rng.uniform(size=num_points)) / num_points
        return self.lower + unit * (self.upper - self.lower)

    def faces(self) -> list[tuple[int, int]]:
        """Every face of the box as ``(axis, side)``, side 0 lower and 1 upper."""
        return [(axis, side) for axis in range(self.dim) for side in (0, 1)]

    def _check_face(self, face) -> tuple[int, int]:
        axis, side = face
        if not (0 <= axis < self.dim and side in (0, 1)):
            raise ValueError(f"a face is (axis, side) with 0 <= axis < {self.dim} and side 0 or 1, got {(axis, side)!r}")
        return axis, side

    def expanded(self, faces: Sequence[tuple[int, int]], margin: float) -> "Box":
        """A copy of the box (same class and axis names) moved outwards by ``margin`` times the
        axis span at each ``(axis, side)`` face listed (side 0 lower, 1 upper)."""
        if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
            raise ValueError(f"`margin` must be a finite number >= 0, got {margin!r}")
        span = self.upper - self.lower
        lower, upper = self.lower.copy(), self.upper.copy()
        for axis, side in map(self._check_face, faces):
            if side:
                upper[axis] += margin * span[axis]
            else:
                lower[axis] -= margin * span[axis]
        box = copy.copy(self)
        box.lower, box.upper = lower, upper
        return box

    def boundary(self, points_per_face: int, seed: int | None = None, faces: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
        """Points on the faces of the box: per face ``(axis, side)`` (side 0 lower, 1 upper).

        In 1-D every face is a single end point. In higher dimensions each face gets
        ``points_per_face`` Latin-hypercube points (a uniform grid would repeat the edges).
        """
        points_per_face = positive_int("points_per_face", points_per_face)
        d = self.dim
        faces = self.faces() if faces is None else list(faces)
        rng = np.random.default_rng(seed)
        parts = []
        for axis, side in map(self._check_face, faces):
            if d == 1:
                parts.append(np.array([[self.upper[0] if side else self.lower[0]]]))
                continue
            face = Box(np.delete(self.lower, axis), np.delete(self.upper, axis)).sample(
                points_per_face, "latin_hypercube", seed=int(rng.integers(2**31)))
            value = self.upper[axis] if side else self.lower[axis]
            parts.append(np.insert(face, axis, value, axis=1))
        return np.concatenate(parts, axis=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lower={self.lower.tolist()}, upper={self.upper.tolist()}, axis_names={''.join(self.axis_names)!r})"


class Interval(Box):
    """``[lower, upper]`` with axis name ``"x"`` (or ``axis_name``)."""

    def __init__(self, lower: float, upper: float, axis_name: str = "x"):
        super().__init__([lower], [upper], axis_names=(axis_name,))


class Rectangle(Box):
    """``[x_min, x_max] x [y_min, y_max]`` with axis names ``"xy"`` (or ``axis_names``)."""

    def __init__(self, lower, upper, axis_names: Sequence[str] = "xy"):
        super().__init__(lower, upper, axis_names=axis_names)
        if self.dim != 2:
            raise ValueError(f"a Rectangle has 2 axes, got lower={lower!r}")


class SpaceTimeBox(Box):
    """Space box times ``[t_start, t_end]``; the time axis comes last and is named ``"t"``.

    Args:
        space_lower: Lower corner of the space box.
        space_upper: Upper corner of the space box.
        t_start: Initial time.
        t_end: Final time.
        space_names: Names of the space axes (``"x"``, ``"xy"``, ...).
    """

    def __init__(self, space_lower, space_upper, t_start: float, t_end: float, space_names: Sequence[str] | None = None):
        space_lower = np.atleast_1d(np.asarray(space_lower, dtype=np.float64))
        space_upper = np.atleast_1d(np.asarray(space_upper, dtype=np.float64))
        if space_names is None:
            space_names = "xyz"[: space_lower.size]
        super().__init__(np.append(space_lower, t_start), np.append(space_upper, t_end),
                         axis_names=tuple(space_names) + ("t",))

    @property
    def time_axis(self) -> int:
        return self.dim - 1

    def initial(self, num_points: int, seed: int | None = None) -> np.ndarray:
        """Latin-hypercube points of the space box at ``t = t_start``."""
        return self.boundary(num_points, seed=seed, faces=[(self.time_axis, 0)])

    def spatial_boundary(self, points_per_face: int, seed: int | None = None) -> np.ndarray:
        """Points on the space faces, all times."""
        return self.boundary(points_per_face, seed=seed, faces=[(a, s) for a in range(self.time_axis) for s in (0, 1)])
