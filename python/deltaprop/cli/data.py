"""Reading data sets for the command line: CSV (one row per sample, a label column chosen by name
or index) and NPZ (arrays chosen by key). Features are numbers; labels may be numbers or class
names (text). Problems raise ValueError with a message naming the file and what is wrong, which
the command line prints as one line."""
from __future__ import annotations

import csv
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

__all__ = ["Table", "load_table", "column_index", "split_labels", "features_for", "train_validation_split"]


class Table:
    """A data set read from a file. CSV: `values` (n, columns) float64 and the column names (from
    the header, else "0", "1", …); a column with a cell that is not a number is NaN in `values`
    and kept as text in `text` (column index -> str array), with each row's line in the file in
    `lines`. NPZ: `X` and `y` as stored (y may hold class names as a str array)."""

    def __init__(self, path: str, values: Optional[np.ndarray] = None, names: Optional[List[str]] = None,
                 X: Optional[np.ndarray] = None, y: Optional[np.ndarray] = None,
                 text: Optional[Dict[int, np.ndarray]] = None, lines: Optional[np.ndarray] = None):
        self.path = path
        self.values = values
        self.names = names
        self.X = X
        self.y = y
        self.text = text or {}
        self.lines = lines


def _existing_file(path: str) -> str:
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, expected a .csv or .npz file")
    return path


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(first: List[str], second: Optional[List[str]]) -> bool:
    """The first row names the columns when a cell of it is not a number where the next row has a
    number (a column of class names holds words in both rows)."""
    words = [j for j, cell in enumerate(first) if not _is_number(cell)]
    if not words or not second or len(second) != len(first):
        return bool(words)
    return any(_is_number(second[j]) for j in words)


def _read_csv(path: str, delimiter: str) -> Table:
    with open(path, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        first, second = next(reader, None), next(reader, None)
    if not first:
        raise ValueError(f"{path}: the file is empty")
    has_header = _is_header(first, second)
    names = [c.strip() for c in first] if has_header else [str(i) for i in range(len(first))]
    try:
        values = np.loadtxt(path, delimiter=delimiter, skiprows=int(has_header), dtype=np.float64, ndmin=2)
    except ValueError:  # a cell that is not a number (class names?) or a ragged row
        return _read_csv_cells(path, delimiter, names, has_header)
    if values.shape[0] == 0:
        raise ValueError(f"{path}: no data rows")
    if values.shape[1] != len(names):
        raise ValueError(f"{path}: the header has {len(names)} columns but the rows have {values.shape[1]}")
    return Table(path, values=values, names=names)


def _read_csv_cells(path: str, delimiter: str, names: List[str], has_header: bool) -> Table:
    """The slower reader for a file with cells that are not numbers: every cell as text (csv
    module: quoting), then each column as numbers where all its cells are."""
    rows, lines = [], []
    with open(path, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            if row and not row[0].lstrip().startswith("#"):  # blank and comment lines, as loadtxt
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    if has_header:
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise ValueError(f"{path}: no data rows")
    for row, line in zip(rows, lines):
        if len(row) != len(names):
            raise ValueError(f"{path}: line {line} has {len(row)} columns, the first row has {len(names)}")
    cells = np.array(rows, dtype=str)
    values = np.full(cells.shape, np.nan)
    text = {}
    for j in range(cells.shape[1]):
        try:
            values[:, j] = cells[:, j].astype(np.float64)
        except ValueError:
            text[j] = cells[:, j]
    return Table(path, values=values, names=names, text=text, lines=np.array(lines))


def _require_numeric(table: Table, label: Optional[int] = None) -> None:
    """Raise for the first cell that is not a number outside column `label`."""
    for j in sorted(table.text):
        if j != label:
            i = next(i for i, cell in enumerate(table.text[j]) if not _is_number(cell))
            raise ValueError(f"{table.path}: line {table.lines[i]}: {str(table.text[j][i])!r} in column "
                             f"{table.names[j]!r} is not a number (feature columns must be numeric)")


def _class_names(table: Table, index: int) -> np.ndarray:
    """The text label column `index` as class names: no empty cell, no numbers among names."""
    cells, name = table.text[index], table.names[index]
    empty = np.flatnonzero(cells == "")
    if empty.size:
        raise ValueError(f"{table.path}: line {table.lines[empty[0]]}: empty label in column {name!r}")
    numbers = [i for i, cell in enumerate(cells) if _is_number(cell)]
    if numbers:
        word = next(i for i, cell in enumerate(cells) if not _is_number(cell))
        raise ValueError(f"{table.path}: the label column {name!r} mixes numbers ({str(cells[numbers[0]])!r} on line "
                         f"{table.lines[numbers[0]]}) and class names ({str(cells[word])!r} on line "
                         f"{table.lines[word]}): use one kind")
    return cells


def _read_npz(path: str, x_key: str, y_key: Optional[str]) -> Table:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected a .npz archive of arrays, found a single .npy array")
    with data:
        keys = list(data.files)
        for key in (x_key, y_key):
            if key is not None and key not in keys:
                raise ValueError(f"{path}: no array {key!r} (the file holds {', '.join(map(repr, keys)) or 'nothing'})")
        X = _npz_array(data, x_key, path)
        y = _npz_array(data, y_key, path) if y_key is not None else None
    if X.ndim != 2:
        raise ValueError(f"{path}: array {x_key!r} must be 2-D (samples, features), got shape {X.shape}")
    if y is not None and y.shape[:1] != X.shape[:1]:
        raise ValueError(f"{path}: {y_key!r} has {y.shape[0] if y.ndim else 0} rows but {x_key!r} has {X.shape[0]}")
    return Table(path, X=X, y=y)


def _npz_array(data: np.lib.npyio.NpzFile, key: str, path: str) -> np.ndarray:
    try:
        arr = data[key]
    except ValueError as exc:  # object arrays need pickle, which is never enabled
        raise ValueError(f"{path}: array {key!r} cannot be read without pickle ({exc}); store class names "
                         f"as a str array, e.g. y.astype(str)") from None
    return np.char.decode(arr, "utf-8") if arr.dtype.kind == "S" else arr


def load_table(path: str, *, delimiter: Optional[str] = None, x_key: str = "X", y_key: Optional[str] = "y") -> Table:
    """Read a .npz archive (arrays `x_key`, `y_key`; y_key=None reads X only) or a delimited text
    file (comma by default, tab for .tsv); a first row that is not all numbers is the header."""
    _existing_file(path)
    if path.lower().endswith(".npz"):
        return _read_npz(path, x_key, y_key)
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
    return _read_csv(path, delimiter)


def column_index(table: Table, column: str) -> int:
    """The index of a column given by header name or by integer position (negative counts
    from the end)."""
    names = table.names or []
    if column in names:
        return names.index(column)
    try:
        index = int(column)
    except ValueError:
        raise ValueError(f"{table.path}: no column named {column!r} (columns: {', '.join(names)})") from None
    if not -len(names) <= index < len(names):
        raise ValueError(f"{table.path}: column index {index} is out of range for {len(names)} columns")
    return index % len(names)


def split_labels(table: Table, label_column: str) -> Tuple[np.ndarray, np.ndarray]:
    """(X, y) from a table: NPZ arrays as stored; for CSV, y is the label column (numbers, or
    class names as a str array) and X the rest."""
    if table.values is None:
        if table.y is None:
            raise ValueError(f"{table.path}: no labels")
        return table.X, table.y
    index = column_index(table, label_column)
    if table.values.shape[1] < 2:
        raise ValueError(f"{table.path}: expected feature columns besides the label column, found only one column")
    _require_numeric(table, label=index)
    y = _class_names(table, index) if index in table.text else table.values[:, index]
    return np.delete(table.values, index, axis=1), y


def features_for(table: Table, n_features: int, label_column: Optional[str]) -> np.ndarray:
    """The feature matrix for a model with `n_features` inputs: all columns when the count fits,
    else all but the label column (given, or the last one)."""
    X = table.X if table.values is None else table.values
    if X.shape[1] == n_features:
        if label_column is not None and table.values is not None:
            raise ValueError(f"{table.path}: has {X.shape[1]} columns, all needed as features by the "
                             f"model; there is no label column {label_column!r} to drop")
        _require_numeric(table)
        return X
    if table.values is not None and X.shape[1] == n_features + 1:
        index = column_index(table, "-1" if label_column is None else label_column)
        _require_numeric(table, label=index)
        return np.delete(X, index, axis=1)
    raise ValueError(f"{table.path}: the model expects {n_features} features per row, the file has "
                     f"{X.shape[1]} columns")


def train_validation_split(X: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> Tuple[np.ndarray, ...]:
    """A random split: (X_train, y_train, X_val, y_val); fraction 0 gives empty validation arrays."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--val-split: expected a fraction in [0, 1), got {fraction}")
    n = X.shape[0]
    n_val = int(round(n * fraction))
    if fraction > 0 and (n_val == 0 or n_val == n):
        raise ValueError(f"--val-split: {fraction} of {n} rows leaves an empty training or validation set")
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]
