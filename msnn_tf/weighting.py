"""Per-point loss weights shared by the regressor and the PINN solver."""

from __future__ import annotations

import numpy as np

__all__ = ["boundary_weights"]


def boundary_weights(x_scaled: np.ndarray, points_per_axis: float | None = None) -> np.ndarray:
    """Chebyshev weights ``prod_i (1 - h_i^2 + delta_i)^(-1/2)`` of points ``h`` in ``[-1, 1]^d``, mean 1.

    ``delta_i = 2 / (n_i - 1)`` is one grid spacing for ``n_i = N^(1/d)`` points per axis (or
    ``points_per_axis``, e.g. for points on faces, whose spacing is that of the interior's), which keeps
    the weight of a point on the boundary finite (about ``sqrt(n_i / 2)`` times the centre's).
    Both solvers weight their mean squared losses by it (``loss_weighting="chebyshev"``): the weight of
    near-minimax least squares, which keeps a stage from leaving its largest error next to the
    boundary of the training box.

    Args:
        x_scaled: Points ``(N, d)`` in ``[-1, 1]^d``.
        points_per_axis: Grid points per axis that set ``delta`` (default ``N^(1/d)``).

    Returns:
        Weights, shape ``(N, 1)``, mean 1.
    """
    x_scaled = np.asarray(x_scaled, dtype=np.float64)
    n, d = x_scaled.shape
    per_axis = max(2.0, n ** (1.0 / d) if points_per_axis is None else float(points_per_axis))
    delta = 2.0 / (per_axis - 1.0)
    weights = np.prod(1.0 / np.sqrt(np.maximum(1.0 - x_scaled**2, 0.0) + delta), axis=1, keepdims=True)
    return weights / np.mean(weights)
