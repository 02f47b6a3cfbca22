"""Where a regressor's data come from: fixed arrays, or a function sampled on a uniform grid that
may grow per stage (eq. 2.10), with the 1-D end points and d-D grid refinement built from them."""

from __future__ import annotations

import functools
import math

import numpy as np

from msnn_tf.interpolation import end_points, end_positions, grid_axes, refine_grid
from msnn_tf.validation import as_float64_matrix, positive_int

__all__ = ["DataSource", "validation_pair"]


def validation_pair(validation_data, input_dim: int):
    """``validation_data`` as a checked pair of float64 matrices ``(x_val (N, d), y_val (N, 1))``, or None."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("`validation_data` must be a pair (x_val, y_val)")
    x_val = as_float64_matrix("validation_data[0]", validation_data[0], columns=input_dim)
    y_val = as_float64_matrix("validation_data[1]", validation_data[1], columns=1)
    if x_val.shape[0] != y_val.shape[0]:
        raise ValueError(f"validation x and y must have the same length, got {x_val.shape[0]} and {y_val.shape[0]}")
    return x_val, y_val


class DataSource:
    """Fixed arrays, or a function sampled on a uniform grid that may grow per stage."""

    def __init__(self, input_dim, lower, upper, arrays=None, function=None, points_per_axis=None, schedule=None):
        self.input_dim = input_dim
        self.schedule = schedule
        self.lower = lower
        self.upper = upper
        self.arrays = arrays
        self.function = function
        self.points_per_axis = points_per_axis
        self._refined = {}

    @property
    def is_function(self) -> bool:
        return self.function is not None

    @classmethod
    def create(cls, x, y, domain, num_points):
        if callable(x):
            if y is not None:
                raise ValueError("give either a callable target or arrays (x, y), not both")
            if domain is None or len(domain) != 2:
                raise ValueError(f"a callable target needs `domain=(lower, upper)`, got {domain!r}")
            lower = np.atleast_1d(np.asarray(domain[0], dtype=np.float64))
            upper = np.atleast_1d(np.asarray(domain[1], dtype=np.float64))
            if lower.shape != upper.shape or not np.all(np.isfinite(lower)) or not np.all(np.isfinite(upper)) or not np.all(upper > lower):
                raise ValueError(f"`domain` must be finite (lower, upper) with upper > lower per axis, got {domain!r}")
            schedule = None
            if isinstance(num_points, (list, tuple)):
                if not num_points:
                    raise ValueError("`num_points` must not be an empty sequence")
                schedule = [positive_int("num_points", n) for n in num_points]
                points = schedule[0]
            else:
                points = positive_int("num_points", 1000 if num_points is None else num_points)
            if min(schedule or [points]) < 4:
                raise ValueError(f"`num_points` must be at least 4, got {num_points!r}")
            return cls(lower.size, lower, upper, function=x, points_per_axis=points, schedule=schedule)
        if y is None:
            raise ValueError("`y` is required when `x` is an array")
        x = as_float64_matrix("x", x)
        y = as_float64_matrix("y", y, columns=1)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"`x` and `y` must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
        if x.shape[0] < 4:
            raise ValueError(f"`x` must have at least 4 rows, got {x.shape[0]}")
        lower, upper = x.min(axis=0), x.max(axis=0)
        if not np.all(upper > lower):
            raise ValueError(f"`x` must span a non-empty interval on every axis, got min {lower} and max {upper}")
        return cls(x.shape[1], lower, upper, arrays=(x, y))

    def end_points(self, x, y, cells):
        """Points inside the first and last ``cells`` intervals of 1-D samples ``(x, y)``, with values:
        the function's, or interpolated from the samples (:func:`msnn_tf.interpolation.end_points`)."""
        if not self.is_function:
            return end_points(x, y, cells=cells, order=min(8, x.shape[0]))
        x_end = end_positions(x, cells)
        return x_end, as_float64_matrix("function(x)", np.asarray(self.function(x_end), dtype=np.float64).reshape(-1, 1), columns=1)

    @functools.cached_property
    def grid(self) -> list[np.ndarray] | None:
        """Per-axis coordinates of fixed data that form a full tensor-product grid, else None."""
        return None if self.is_function else grid_axes(self.arrays[0])

    def refinement_factor(self, max_factor: int, max_points: int) -> int:
        """The largest refinement per axis, at most ``max_factor``, that keeps gridded fixed data
        within ``max_points`` points; 1 when the data are not a grid (or hold fewer than 8 points on an
        axis, too few for the local interpolation)."""
        if self.grid is None or min(axis.size for axis in self.grid) < 8:
            return 1
        factor = max_factor
        while factor > 1 and self.refined_size(factor) > max_points:
            factor -= 1
        return factor

    def refined_size(self, factor: int) -> int:
        """Points of the data grid refined ``factor`` times per axis."""
        return math.prod(factor * (axis.size - 1) + 1 for axis in self.grid)

    def refined(self, factor: int, order: int):
        """The data grid refined ``factor`` times per axis, values interpolated through ``order``
        samples per axis (at most the shortest axis's; cached)."""
        order = min(order, min(axis.size for axis in self.grid))
        if (factor, order) not in self._refined:
            self._refined[factor, order] = refine_grid(*self.arrays, factor, order=order)
        return self._refined[factor, order]

    def sample(self, points_per_axis):
        if not self.is_function:
            return self.arrays
        if points_per_axis is not None:
            self.points_per_axis = int(points_per_axis)
        axes = [np.linspace(lo, hi, self.points_per_axis) for lo, hi in zip(self.lower, self.upper)]
        x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.input_dim)
        y = np.asarray(self.function(x), dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        y = as_float64_matrix("function(x)", y, columns=1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"the target function returned {y.shape[0]} values for {x.shape[0]} points")
        return x, y
