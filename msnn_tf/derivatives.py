"""Exact partial derivatives of any order by nested ``tf.GradientTape`` (no finite differences).

A PINN residual (paper, section 3) is written with derivatives of the network ``u``; gPINN (eq. 3.38)
adds derivatives of the residual itself. :func:`partial_derivatives` computes the requested partials
of a batched function ``u: (N, d) -> (N, m)`` at the rows of ``x``, each of shape ``(N, m)``. Rows are
treated as independent (true for the networks here: no layer mixes rows), so the derivative of
``sum_n u(x_n)`` with respect to ``x`` gives every row's derivative in one backward pass.

Example:
    >>> d = partial_derivatives(lambda x: tf.sin(x[:, :1]) * x[:, 1:], x, ["", "x", "xx", "xt"], axis_names="xt")
    >>> u, u_x, u_xx, u_xt = d[""], d["x"], d["xx"], d["xt"]
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import tensorflow as tf

__all__ = ["Partials", "partial_derivatives", "parse_derivative"]


def parse_derivative(key, input_dim: int, axis_names: Sequence[str] | None = None) -> tuple[int, ...]:
    """The multi-index (order per axis) of a derivative key.

    Keys: a string of axis names (``"xx"`` = d^2/dx^2, ``"xt"`` = d^2/dxdt, ``""`` = the function
    itself, an optional ``"u_"`` prefix is ignored), a tuple of axis indices (``(0, 0, 1)``), or a
    multi-index given as a dict ``{axis: order}``.

    Raises:
        ValueError: naming the key for an unknown axis name, an axis index out of range or a
            negative order.
    """
    counts = [0] * input_dim
    names = list(axis_names) if axis_names is not None else None
    if isinstance(key, str):
        text = key[2:] if key.startswith("u_") else key
        if text in ("u", "") :
            return tuple(counts)
        if names is None:
            raise ValueError(f"derivative key {key!r} uses axis names but no `axis_names` were given")
        for letter in text:
            if letter not in names:
                raise ValueError(f"unknown axis {letter!r} in derivative key {key!r}; axes are {names}")
            counts[names.index(letter)] += 1
        return tuple(counts)
    if isinstance(key, dict):
        for axis, order in key.items():
            if not (isinstance(axis, int) and 0 <= axis < input_dim):
                raise ValueError(f"axis {axis!r} in derivative key {key!r} is out of range for {input_dim} inputs")
            if not (isinstance(order, int) and order >= 0):
                raise ValueError(f"derivative order must be a non-negative integer, got {order!r} in {key!r}")
            counts[axis] += order
        return tuple(counts)
    if isinstance(key, (tuple, list)):
        for axis in key:
            if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < input_dim:
                raise ValueError(f"axis {axis!r} in derivative key {key!r} is out of range for {input_dim} inputs")
            counts[axis] += 1
        return tuple(counts)
    raise ValueError(f"a derivative key must be a string, a tuple of axis indices or a dict, got {key!r}")


class Partials:
    """Read-only mapping from derivative keys to tensors of shape ``(N, m)`` (see :func:`parse_derivative`).

    Attributes:
        values: ``{multi_index: tensor}``.
        input_dim: Number of input axes ``d``.
        axis_names: Names of the axes (or ``None``).
    """

    def __init__(self, values: dict, input_dim: int, axis_names: Sequence[str] | None = None):
        self.values = dict(values)
        self.input_dim = input_dim
        self.axis_names = None if axis_names is None else tuple(axis_names)

    def index(self, key) -> tuple[int, ...]:
        return parse_derivative(key, self.input_dim, self.axis_names)

    def __getitem__(self, key) -> tf.Tensor:
        index = self.index(key)
        if index not in self.values:
            raise KeyError(f"derivative {key!r} (orders {index}) was not requested; requested: {sorted(self.values)}")
        return self.values[index]

    def __contains__(self, key) -> bool:
        try:
            return self.index(key) in self.values
        except ValueError:
            return False

    def laplacian(self, axes: Iterable[int] | None = None) -> tf.Tensor:
        """Sum of the second derivatives along ``axes`` (all axes by default); they must have been requested."""
        axes = range(self.input_dim) if axes is None else axes
        total = None
        for axis in axes:
            index = tuple(2 if i == axis else 0 for i in range(self.input_dim))
            if index not in self.values:
                raise KeyError(f"the Laplacian needs the second derivative along axis {axis}, which was not requested")
            total = self.values[index] if total is None else total + self.values[index]
        return total

    def __add__(self, other: "Partials") -> "Partials":
        """Derivatives are linear: the partials of ``u + v`` from those of ``u`` and ``v`` (common keys)."""
        common = set(self.values) & set(other.values)
        return Partials({k: self.values[k] + other.values[k] for k in common}, self.input_dim, self.axis_names)

    def scaled(self, factor) -> "Partials":
        """The partials of ``factor * u``."""
        return Partials({k: factor * v for k, v in self.values.items()}, self.input_dim, self.axis_names)

    def __repr__(self) -> str:
        return f"Partials({sorted(self.values)})"


def _path(index: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Multi-indices from 0 to ``index``, raising the lowest axis first (a canonical path)."""
    path = [tuple(0 for _ in index)]
    current = [0] * len(index)
    for axis, order in enumerate(index):
        for _ in range(order):
            current[axis] += 1
            path.append(tuple(current))
    return path


def partial_derivatives(function: Callable, x, requests, axis_names: Sequence[str] | None = None) -> Partials:
    """Partial derivatives of ``function`` at the rows of ``x``, any order and mixed, by nested tapes.

    Args:
        function: Maps a ``(N, d)`` tensor to ``(N, m)`` (row by row, e.g. a Keras network).
        x: Points, shape ``(N, d)`` (float64 unless the function computes in float32).
        requests: Derivative keys (see :func:`parse_derivative`), e.g. ``["", "x", "xx", "xxxx"]``.
        axis_names: Optional one-letter names of the ``d`` axes for string keys, e.g. ``"xt"``.

    Returns:
        :class:`Partials` holding every requested derivative (and the intermediate ones on the way),
        each of shape ``(N, m)``. Works eagerly and inside ``tf.function``; gradients with respect to
        the function's weights flow through every entry.

    Raises:
        ValueError: on a non-2-D ``x``, a key that cannot be parsed, or an ``axis_names`` of the
            wrong length.
    """
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 2:
        raise ValueError(f"`x` must have shape (N, d), got shape {tuple(x.shape)}")
    input_dim = int(x.shape[1])
    if axis_names is not None and len(axis_names) != input_dim:
        raise ValueError(f"`axis_names` must name {input_dim} axes, got {axis_names!r}")
    if isinstance(requests, (str, tuple, dict)):
        requests = [requests]
    wanted = {parse_derivative(key, input_dim, axis_names) for key in requests}
    needed = set()
    for index in wanted:
        needed.update(_path(index))
    max_order = max(sum(index) for index in needed)
    by_order = [sorted(i for i in needed if sum(i) == k) for k in range(max_order + 1)]

    def compute(order: int) -> dict:
        """Every needed derivative of total order <= ``order``, recorded on the enclosing tapes."""
        if order == 0:
            return {tuple(0 for _ in range(input_dim)): function(x)}
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            lower = compute(order - 1)
        values = dict(lower)
        parents = {}
        for index in by_order[order]:
            path = _path(index)
            parents.setdefault(path[-2], []).append(index)
        for parent, children in parents.items():
            value = lower[parent]
            # One backward pass per output column, selected by the output gradient (slicing ``value``
            # here, outside the tape, would not be recorded).
            width = int(value.shape[1])
            columns = [tape.gradient(value, x, output_gradients=tf.one_hot(
                tf.fill(tf.shape(value)[:1], j), width, dtype=value.dtype),
                unconnected_gradients=tf.UnconnectedGradients.ZERO) for j in range(width)]
            for child in children:
                axis = next(a for a in range(input_dim) if child[a] != parent[a])
                values[child] = tf.concat([c[:, axis:axis + 1] for c in columns], axis=1)
        del tape
        return values

    return Partials(compute(max_order), input_dim, axis_names)
