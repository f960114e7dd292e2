"""Saving and loading models as .npz files: plain arrays only (no pickle, nothing executes on
load), every field checked before use, written atomically (temporary file, fsync, rename)."""
from __future__ import annotations

import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .kernels import ACTIVATIONS
from .model import LOSSES, MLP

FORMAT = "deltaprop-mlp"
FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    """The file is not a readable deltaprop model (truncated, corrupt or from a newer version)."""


def save(net: MLP, path: Any) -> None:
    """Write `net` to `path` (str or os.PathLike); an existing file is replaced atomically."""
    path = os.fspath(path)
    fields = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "activations": np.array(net.hidden_activations if net.hidden_activations else [""], dtype=str),
        "loss": np.array(net.loss),
        "dtype": np.array(net.dtype.name),
        "seed": np.array(net.seed, dtype=np.int64),
        "params": net.get_params(),
    }
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".deltaprop-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **fields)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _field(data: Any, key: str, kind: str, path: str) -> np.ndarray:
    if key not in data.files:
        raise ModelFormatError(f"path: {path!r} is not a deltaprop model (missing field {key!r})")
    arr = data[key]
    if arr.dtype.kind not in kind:
        raise ModelFormatError(f"path: {path!r}: field {key!r} has unexpected dtype {arr.dtype}")
    return arr


def load(path: Any) -> MLP:
    """Read a model written by `save`. Raises FileNotFoundError for a missing file and
    ModelFormatError (a ValueError) for anything that is not a valid model file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:  # our handle: closed even when np.load fails
            data = np.load(handle, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ModelFormatError(f"path: {path!r} is not a deltaprop model (.npz) file")
            with data:
                return _build(data, path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, TypeError, UnicodeDecodeError,
    if not isinstance(arr, np.ndarray):  # a member that is not an .npy array: numpy hands back its bytes
        raise ModelFormatError(f"path: {path!r}: field {key!r} is not an array")
            OverflowError, MemoryError) as exc:
        raise ModelFormatError(f"path: {path!r} is not a readable deltaprop model: {exc}") from exc


def _build(data: Any, path: str) -> MLP:
    if str(_field(data, "format", "U", path)) != FORMAT:
        raise ModelFormatError(f"path: {path!r} is not a deltaprop model file")
    version = int(_field(data, "format_version", "iu", path))
    if version > FORMAT_VERSION:
        raise ModelFormatError(f"path: {path!r} was written by a newer deltaprop (format {version}; "
                               f"this version reads up to {FORMAT_VERSION})")
    sizes = _field(data, "sizes", "iu", path)
    if sizes.ndim != 1 or len(sizes) < 2 or (sizes < 1).any() or (sizes > 1 << 24).any():
        raise ModelFormatError(f"path: {path!r}: invalid layer sizes {sizes.tolist()}")
    acts = [str(a) for a in _field(data, "activations", "U", path).reshape(-1)]
    if len(sizes) == 2:
        acts = []
    if len(acts) != len(sizes) - 2 or any(a not in ACTIVATIONS for a in acts):
        raise ModelFormatError(f"path: {path!r}: invalid activations {acts}")
    loss = str(_field(data, "loss", "U", path))
    if loss not in LOSSES:
        raise ModelFormatError(f"path: {path!r}: unknown loss {loss!r}")
    dtype = str(_field(data, "dtype", "U", path))
    if dtype not in ("float32", "float64"):
        raise ModelFormatError(f"path: {path!r}: unknown dtype {dtype!r}")
    seed = int(_field(data, "seed", "iu", path))
    expected = int(sum(int(sizes[i + 1]) * (int(sizes[i]) + 1) for i in range(len(sizes) - 1)))
    params = _field(data, "params", "f", path)
    if params.shape != (expected,):
        raise ModelFormatError(f"path: {path!r}: expected {expected} parameters, found shape {params.shape}")
    if not np.isfinite(params).all():
        raise ModelFormatError(f"path: {path!r}: parameters contain NaN or inf")
    net = MLP([int(s) for s in sizes], acts if acts else "relu", loss, dtype, max(seed, 0))
    net.set_params(params)
    return net
