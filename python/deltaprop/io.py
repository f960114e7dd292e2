"""Saving and loading models as .npz files: plain arrays only (no pickle, nothing executes on
load), every field checked before use, written atomically (temporary file, fsync, rename).

Besides the architecture and the weights, a file holds the optimizer state (step count, momentum
velocity, Adam moments) and, after `fit`, the training state (epoch, the shuffling RNG's state,
schedule, early stopping, history) as JSON text, so that `fit(resume=path)` continues exactly."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .kernels import ACTIVATIONS
from .model import LOSSES, MLP

FORMAT = "deltaprop-mlp"
FORMAT_VERSION = 2  # 2: optimizer and training state


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
    fields.update(_state_fields(net))
    if net.classes is not None:  # class names: a plain unicode array, no pickle
        fields["classes"] = _checked_classes(np.asarray(net.classes, dtype=str), net.sizes[-1], ValueError, "classes")
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


def _state_fields(net: MLP) -> dict:
    opt = net._net.optimizer_state()
    training = dict(getattr(net, "_training", None) or {})
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
    if "classes" in data.files:  # optional: written for models trained on class names
        net.classes = _checked_classes(_field(data, "classes", "U", path), net.sizes[-1], ModelFormatError,
                                       f"path: {path!r}: field 'classes'")
    if version >= 2:
        _load_state(net, data, path)
    return net


def _checked_classes(classes: np.ndarray, outputs: int, error: type, where: str) -> np.ndarray:
    if classes.shape != (outputs,) or len(set(classes.tolist())) != outputs:
        raise error(f"{where}: expected {outputs} distinct class names (one per output), got {classes.tolist()[:10]}")
    return classes


def _state_vector(data: Any, key: str, count: int, path: str) -> np.ndarray:
    arr = _field(data, key, "f", path)
    if arr.ndim != 1 or arr.shape[0] not in (0, count):
        raise ModelFormatError(f"path: {path!r}: field {key!r} has shape {arr.shape}, expected (0,) or ({count},)")
    if not np.isfinite(arr).all():
        raise ModelFormatError(f"path: {path!r}: field {key!r} contains NaN or inf")
    return arr


def _load_state(net: MLP, data: Any, path: str) -> None:
    """Optimizer state into the core, training state onto `net._training`."""
    count = net.num_params
    steps = int(_field(data, "optimizer_steps", "iu", path))
    if steps < 0:
        raise ModelFormatError(f"path: {path!r}: negative optimizer step count {steps}")
    vectors = [np.ascontiguousarray(_state_vector(data, key, count, path), dtype=net.dtype)
               for key in ("optimizer_velocity", "optimizer_adam_m", "optimizer_adam_v")]
    net._net.set_optimizer_state(steps, *vectors)
    try:
        training = json.loads(str(_field(data, "training_state", "U", path)))
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"path: {path!r}: unreadable training state: {exc}") from exc
    if not isinstance(training, dict):
        raise ModelFormatError(f"path: {path!r}: training state is not a JSON object")
    best = _state_vector(data, "best_params", count, path)
    if best.size:
        training["best_params"] = best.astype(net.dtype)
    net._training = training or None


def restore(net: MLP, path: Any) -> None:
    """Load the checkpoint at `path` into `net` (weights, optimizer and training state); the file's
    architecture must be the model's."""
    saved = load(path)
    mine = (net.sizes, net.hidden_activations, net.loss, net.dtype)
    theirs = (saved.sizes, saved.hidden_activations, saved.loss, saved.dtype)
    if mine != theirs:
        raise ValueError(f"resume: {os.fspath(path)!r} holds a different model (sizes {saved.sizes}, "
                         f"activations {saved.hidden_activations}, loss {saved.loss!r}, dtype "
                         f"{saved.dtype.name}) than this one (sizes {net.sizes}, activations "
                         f"{net.hidden_activations}, loss {net.loss!r}, dtype {net.dtype.name})")
    net.set_params(saved.get_params())
    state = saved._net.optimizer_state()
    net._net.set_optimizer_state(state["steps"], state["velocity"], state["adam_m"], state["adam_v"])
    net._training = getattr(saved, "_training", None)
