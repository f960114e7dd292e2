"""Saving and loading models as .npz files: plain arrays only (no pickle, nothing executes on
load), every field checked before use, written atomically (temporary file, fsync, rename).

Besides the architecture, the weights (in the model's dtype: a bf16 model keeps its float32 master
weights) and the precision of the products, a file holds the optimizer state (step count, momentum
velocity, Adam moments) and, after `fit`, the training state (epoch, the shuffling RNG's state,
schedule, early stopping, history) as JSON text, so that `fit(resume=path)` continues exactly.

This module works on a `Network` (the layer below it) and knows nothing of `MLP` or of training:
`write_model` takes the training state as a plain dict and further named arrays (`extra`) that
the layers above want kept with the model; `read_model` hands all three back. `MLP.save` and
`MLP.load` (and the `resume` of training) call these two functions.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any, Dict, Mapping, NamedTuple, Optional

import numpy as np

from . import vocabulary
from .network import Network

__all__ = ["ModelFormatError", "SavedModel", "write_model", "read_model", "FORMAT", "FORMAT_VERSION"]

FORMAT = "deltaprop-mlp"
FORMAT_VERSION = 2  # 2: optimizer and training state


class ModelFormatError(ValueError):
    """The file is not a readable deltaprop model (truncated, corrupt or from a newer version)."""


class SavedModel(NamedTuple):
    """What a model file holds: the network (with its optimizer state), the training state
    (a dict, with "best_params" as an array when early stopping kept one; None when the model
    was never trained) and the named arrays saved as `extra`."""

    network: Network
    training: Optional[Dict[str, Any]]
    extra: Dict[str, np.ndarray]


_FIELDS = ("format", "format_version", "sizes", "activations", "loss", "dtype", "seed", "params",
           "optimizer_steps", "optimizer_velocity", "optimizer_adam_m", "optimizer_adam_v",
           "training_state", "best_params", "precision")
# Precisions a file may name ("precision" is optional: files without it are "fp32"). A model is
# read onto the CPU: a GPU's "tf32" reads as "fp32" there (`.to("cuda", "tf32")` restores it).
_PRECISIONS = ("fp32", "bf16", "tf32")


def write_model(network: Network, path: Any, training: Optional[Mapping[str, Any]] = None,
                extra: Optional[Mapping[str, np.ndarray]] = None) -> None:
    """Write `network` to `path` (str or os.PathLike) with its optimizer state, the training
    state (JSON-able values; "best_params" may be an array) and the named arrays of `extra`
    (numbers or strings, no objects); an existing file is replaced atomically."""
    path = os.fspath(path)
    fields = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "sizes": np.array(network.sizes, dtype=np.int64),
        "activations": np.array(network.hidden_activations if network.hidden_activations else [""], dtype=str),
        "loss": np.array(network.loss),
        "dtype": np.array(network.dtype.name),
        "seed": np.array(network.seed, dtype=np.int64),
        "params": network.get_params(),
        "precision": np.array(network.precision),
    }
    fields.update(_state_fields(network, training))
    fields.update(_extra_fields(extra))
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


def _extra_fields(extra: Optional[Mapping[str, np.ndarray]]) -> dict:
    fields = {}
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name in _FIELDS:
            raise ValueError(f"extra: {name!r} is not a usable field name (an identifier, none of {_FIELDS})")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufU":
            raise TypeError(f"extra[{name!r}]: expected an array of numbers or strings, got dtype {arr.dtype}")
        fields[name] = arr
    return fields


def _state_fields(net: Network, training: Optional[Mapping[str, Any]]) -> dict:
    opt = net.optimizer_state()
    training = dict(training or {})
    best = training.pop("best_params", None)
    fields = {
        "optimizer_steps": np.array(opt["steps"], dtype=np.int64),
        "optimizer_velocity": opt["velocity"],
        "optimizer_adam_m": opt["adam_m"],
        "optimizer_adam_v": opt["adam_v"],
        "training_state": np.array(json.dumps(training)),
        "best_params": np.zeros(0, net.dtype) if best is None else np.asarray(best, net.dtype),
    }
    return fields


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
    if not isinstance(arr, np.ndarray):  # a member that is not an .npy array: numpy hands back its bytes
        raise ModelFormatError(f"path: {path!r}: field {key!r} is not an array")
    if arr.dtype.kind not in kind:
        raise ModelFormatError(f"path: {path!r}: field {key!r} has unexpected dtype {arr.dtype}")
    return arr


def read_model(path: Any) -> SavedModel:
    """Read a model written by `write_model`. Raises FileNotFoundError for a missing file and
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
            OverflowError, MemoryError,
            RuntimeError) as exc:  # zipfile: a member "encrypted" or "compressed" by an unknown method
        raise ModelFormatError(f"path: {path!r} is not a readable deltaprop model: {exc}") from exc


def _build(data: Any, path: str) -> SavedModel:
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
    if len(acts) != len(sizes) - 2 or any(a not in vocabulary.ACTIVATIONS for a in acts):
        raise ModelFormatError(f"path: {path!r}: invalid activations {acts}")
    loss = str(_field(data, "loss", "U", path))
    if loss not in vocabulary.LOSSES:
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
    precision = str(_field(data, "precision", "U", path)) if "precision" in data.files else "fp32"
    if precision not in _PRECISIONS or (precision == "bf16" and dtype != "float32"):
        raise ModelFormatError(f"path: {path!r}: invalid precision {precision!r} for a {dtype} model")
    net = Network([int(s) for s in sizes], acts, loss, dtype, max(seed, 0),
                  precision=precision if precision != "tf32" else "fp32")
    net.set_params(params)
    training = _load_state(net, data, path) if version >= 2 else None
    extra = {key: data[key] for key in data.files if key not in _FIELDS}
    return SavedModel(net, training, extra)


def _state_vector(data: Any, key: str, count: int, path: str) -> np.ndarray:
    arr = _field(data, key, "f", path)
    if arr.ndim != 1 or arr.shape[0] not in (0, count):
        raise ModelFormatError(f"path: {path!r}: field {key!r} has shape {arr.shape}, expected (0,) or ({count},)")
    if not np.isfinite(arr).all():
        raise ModelFormatError(f"path: {path!r}: field {key!r} contains NaN or inf")
    return arr


def _load_state(net: Network, data: Any, path: str) -> Optional[Dict[str, Any]]:
    """Optimizer state into the core; the training state returned (None when empty)."""
    count = net.num_params
    steps = int(_field(data, "optimizer_steps", "iu", path))
    if steps < 0:
        raise ModelFormatError(f"path: {path!r}: negative optimizer step count {steps}")
    vectors = {key: np.ascontiguousarray(_state_vector(data, f"optimizer_{key}", count, path), dtype=net.dtype)
               for key in ("velocity", "adam_m", "adam_v")}
    net.set_optimizer_state({"steps": steps, **vectors})
    try:
        training = json.loads(str(_field(data, "training_state", "U", path)))
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"path: {path!r}: unreadable training state: {exc}") from exc
    if not isinstance(training, dict):
        raise ModelFormatError(f"path: {path!r}: training state is not a JSON object")
    best = _state_vector(data, "best_params", count, path)
    if best.size:
        training["best_params"] = best.astype(net.dtype)
    return training or None
