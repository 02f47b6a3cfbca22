"""Tabular data files for the command line: CSV with a header row, or NumPy ``.npz``.

:func:`read_table` returns the column names and a float64 matrix, checking what a file from the wild
gets wrong: an empty file, a header without data, a delimiter other than the comma, text in a numeric
column, ragged rows, NaN or infinite values. Each problem is a ``ValueError`` that names the file,
the row (1-based, the header is row 1) and the column. :func:`select_columns` splits the table into
inputs and output by column name (default: every column but the last are inputs, the last is the
output); :func:`write_table` writes a CSV whose numbers round-trip exactly (``repr`` of float64).
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

__all__ = ["read_table", "select_columns", "write_table"]

_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}


def read_table(path, min_columns: int = 2, min_rows: int = 2) -> tuple[list[str], np.ndarray]:
    """``(names, values (N, k) float64)`` of a CSV file with a header row or of an ``.npz`` file (its 1-D
    arrays of equal length are the columns, named by their keys; a 2-D array ``a`` of shape (N, m) gives
    columns ``a0 .. a{m-1}``), with ``min_columns`` columns at least (2 for training data: inputs and an
    output; 1 for points to predict at) and ``min_rows`` data rows at least.

    Raises:
        ValueError: naming the file (and row and column) for every malformed input.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no data file at {str(path)!r}")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, min_columns, min_rows)
    return _read_csv(path, min_columns, min_rows)


def _read_csv(path: Path, min_columns: int, min_rows: int) -> tuple[list[str], np.ndarray]:
    fast = _read_csv_fast(path, min_columns, min_rows)
    if fast is not None:
        return fast
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{name!r} is not a UTF-8 text (CSV) file") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{name!r} is empty: a CSV file needs a header row and at least {min_rows} data row(s)")
    header = next(csv.reader([lines[0]]))
    names = [h.strip() for h in header]
    if len(names) == 1:
        for delimiter, word in _OTHER_DELIMITERS.items():
            if delimiter in lines[0]:
                raise ValueError(f"{name!r}: the header {lines[0]!r} has one column but contains a {word}; "
                                 "columns must be separated by commas")
    if len(names) < min_columns:
        raise ValueError(f"{name!r}: the header {lines[0]!r} has {len(names)} column(s); at least one input and one "
                         "output column are needed")
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{name!r}: column names must be non-empty and distinct, got {names}")
    rows = []
    for number, row in enumerate(csv.reader(lines[1:]), start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines
        if len(row) != len(names):
            raise ValueError(f"{name!r} row {number}: {len(row)} value(s), the header has {len(names)} columns")
        values = []
        for column, cell in zip(names, row):
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(f"{name!r} row {number}, column {column!r}: {cell.strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{name!r} row {number}, column {column!r}: {cell.strip()!r} is not finite")
            values.append(value)
        rows.append(values)
    if len(rows) < min_rows:
        raise ValueError(f"{name!r} has {len(rows)} data row(s); at least {min_rows} are needed")
    return names, np.asarray(rows, dtype=np.float64)


def _read_csv_fast(path: Path, min_columns: int, min_rows: int) -> tuple[list[str], np.ndarray] | None:
    """A well-formed numeric CSV read by NumPy's C parser, streaming (1e6 rows x 2 columns: 0.6 s and the
    8 bytes per number of the result, against 5 s and ~150 bytes per number row by row); ``None`` for a
    file it does not take as is (then the row-by-row reader finds and names the problem)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            header = handle.readline()
            if len(header.splitlines()) > 1:  # a line break readline does not split on: the row-by-row reader's
                return None
            names = [h.strip() for h in next(csv.reader([header]))] if header.strip() else []
            if len(names) < min_columns or any(not n for n in names) or len(set(names)) != len(names):
                return None
            if len(names) == 1 and any(d in header for d in _OTHER_DELIMITERS):
                return None  # a file with another delimiter: the row-by-row reader says so
            with warnings.catch_warnings():  # an empty body: the row-by-row reader says so, without NumPy's warning
                warnings.simplefilter("ignore", UserWarning)
                values = np.loadtxt(handle, delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except (ValueError, UnicodeDecodeError, StopIteration):
        return None
    if values.shape[0] < max(1, min_rows) or values.shape[1] != len(names) or not np.all(np.isfinite(values)):
        return None
    return names, values


def _read_npz(path: Path, min_columns: int, min_rows: int) -> tuple[list[str], np.ndarray]:
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: np.asarray(archive[key]) for key in archive.files}
    except Exception as error:  # zipfile, pickle refusal, truncated member: one message
        raise ValueError(f"{name!r} is not a readable .npz file ({type(error).__name__}: {error})") from None
    names, columns = [], []
    for key, array in arrays.items():
        if array.ndim == 1:
            names.append(key)
            columns.append(array)
        elif array.ndim == 2:
            names += [f"{key}{j}" for j in range(array.shape[1])]
            columns += [array[:, j] for j in range(array.shape[1])]
        else:
            raise ValueError(f"{name!r}: array {key!r} has shape {array.shape}; columns must be 1-D or 2-D arrays")
    if len(names) < min_columns:
        raise ValueError(f"{name!r} holds {len(names)} column(s); at least {min_columns} are needed")
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"{name!r}: columns have different lengths {sorted(lengths)}")
    try:
        values = np.stack([c.astype(np.float64) for c in columns], axis=1)
    except (TypeError, ValueError):
        raise ValueError(f"{name!r}: every array must be numeric") from None
    if len(values) < min_rows:
        raise ValueError(f"{name!r} has {len(values)} row(s); at least {min_rows} are needed")
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name!r} row {row}, column {names[column]!r}: {values[row, column]} is not finite")
    return names, values


def select_columns(names, values, inputs=None, output=None, source: str = "data") -> tuple[np.ndarray, np.ndarray, list, str]:
    """``(x (N, d), y (N, 1), input names, output name)``: ``inputs`` (names) and ``output`` (a name);
    defaults every column but the last, and the last.

    Raises:
        ValueError: a name not in the file, or an output that is also an input.
    """
    names = list(names)
    output = names[-1] if output is None else output
    inputs = [n for n in names if n != output] if inputs is None else list(inputs)
    for wanted in [*inputs, output]:
        if wanted not in names:
            raise ValueError(f"{source}: no column {wanted!r}; the columns are {names}")
    if output in inputs or not inputs:
        raise ValueError(f"{source}: inputs {inputs} and output {output!r} must be distinct and non-empty")
    x = values[:, [names.index(n) for n in inputs]]
    y = values[:, [names.index(output)]]
    return x, y, inputs, output


def write_table(path, names, values) -> None:
    """A CSV with a header; float64 values written with ``repr`` (they parse back bit for bit)."""
    from msnn_tf.jsonio import atomic_write_bytes

    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in np.asarray(values)]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
