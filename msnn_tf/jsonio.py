"""Strict JSON for everything msnn_tf writes: histories, run directories, benchmark and metrics files.

One helper instead of one per caller: :func:`json_ready` turns arrays, tuples, NumPy scalars and
non-finite floats into strict JSON (``NaN`` and ``inf`` become ``null``, which ``json.loads`` of any
language reads), :func:`write_json` writes it atomically (a temporary file in the same folder, then
``os.replace``), so a run killed mid-write leaves the previous file, never half of one, and
:func:`read_json` reads a file back with an error that names the file when it is not valid JSON.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_bytes", "check_version", "json_ready", "read_json", "write_json"]


def json_ready(value):
    """A strict-JSON copy: arrays and tuples as lists, non-finite floats as ``None``, NumPy scalars as
    Python numbers, mappings with string keys."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def atomic_write_bytes(path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``: a
    reader (or a run killed mid-write) sees the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_json(path, data: Any, indent: int | None = 1) -> Path:
    """Writes ``json_ready(data)`` as strict JSON (``allow_nan=False``), atomically; returns the path."""
    text = json.dumps(json_ready(data), indent=indent, allow_nan=False)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def check_version(version, max_version: int, source: str, kind: str) -> None:
    """``ValueError`` naming ``source`` unless ``version`` is an integer this msnn_tf reads (at most
    ``max_version``): a file of a newer msnn_tf is refused, not half-read. ``kind`` names the format."""
    if not isinstance(version, int) or version > max_version:
        raise ValueError(f"{source} has {kind} format version {version!r}; this msnn_tf reads versions up to "
                         f"{max_version}: upgrade msnn_tf")


def read_json(path) -> Any:
    """The JSON value in ``path``; ``ValueError`` naming the file when it is missing or not valid JSON."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no JSON file at {str(path)!r}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not a valid JSON file ({error})") from None
