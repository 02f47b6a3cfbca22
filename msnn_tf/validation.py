"""Argument checks shared by the public entry points: clear errors naming argument and value."""

from __future__ import annotations

import numpy as np

__all__ = ["as_float64_matrix", "check_float_dtype", "non_negative_finite", "non_negative_int", "per_stage",
           "per_stage_values", "positive_finite", "positive_int"]


def _is_integer(value) -> bool:
    """An ``int`` or NumPy integer, not a ``bool``."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def positive_int(name: str, value) -> int:
    """``value`` as an int, or ``ValueError`` naming ``name`` when it is not a positive integer."""
    if not _is_integer(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    """``value`` as an int, or ``ValueError`` naming ``name`` when it is not a non-negative integer."""
    if not _is_integer(value) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}")
    return int(value)


def _is_finite_real(value) -> bool:
    """A finite ``int``, ``float`` or NumPy number, not a ``bool``."""
    return (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
            and bool(np.isfinite(value)))


def positive_finite(name: str, value) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` when it is not a positive finite number."""
    if not _is_finite_real(value) or value <= 0:
        raise ValueError(f"`{name}` must be positive and finite, got {value!r}")
    return float(value)


def non_negative_finite(name: str, value) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` when it is not a finite number >= 0."""
    if not _is_finite_real(value) or value < 0:
        raise ValueError(f"`{name}` must be non-negative and finite, got {value!r}")
    return float(value)


def as_float64_matrix(name: str, value, columns: int | None = None) -> np.ndarray:
    """``value`` as a finite float64 array of shape ``(N, columns)``; 1-D input becomes ``(N, 1)``.

    Raises:
        ValueError: naming ``name`` on empty, non-numeric, non-finite or wrongly shaped input.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be numeric, got {type(value).__name__}: {error}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"`{name}` must have shape (N, d) or (N,), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"`{name}` must not be empty, got shape {array.shape}")
    if columns is not None and array.shape[1] != columns:
        raise ValueError(f"`{name}` must have {columns} column(s), got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"`{name}` must be finite, got {array[index]} at index {index} ({int(bad.sum())} non-finite value(s))")
    return array


def check_float_dtype(name: str, value) -> str:
    """``"float32"`` or ``"float64"`` (a string, NumPy/TF dtype or Keras dtype policy or its config).

    Raises:
        ValueError: naming ``name`` for anything else.
    """
    text = value
    if isinstance(text, dict):  # a serialised keras DTypePolicy
        text = text.get("config", {}).get("name", text)
    text = getattr(text, "name", text)
    text = str(np.dtype(text)) if isinstance(text, type) else str(text)
    if text not in ("float32", "float64"):
        raise ValueError(f"`{name}` must be 'float32' or 'float64', got {value!r}")
    return text


def per_stage(name: str, value, stage: int):
    """``value`` if scalar, else its ``stage``-th entry (the last one repeats); an empty sequence is an error."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"`{name}` must not be an empty sequence")
        return value[min(stage, len(value) - 1)]
    return value


def per_stage_values(name: str, value, check):
    """``check(name, value)`` for a scalar, or the tuple of ``check(f"{name}[i]", entry)`` for a list or
    tuple (one entry per stage, read back by :func:`per_stage`); an empty sequence is an error."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"`{name}` must not be an empty sequence (give one value, or one per stage)")
        return tuple(check(f"{name}[{i}]", v) for i, v in enumerate(value))
    return check(name, value)
