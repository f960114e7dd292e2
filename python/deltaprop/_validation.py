"""Checks at the Python boundary: every public entry point converts and validates its inputs here,
so the compiled core only ever sees C-contiguous arrays of the right dtype and shape.

Messages name the argument, what was expected and what came.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _core

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def resolve_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected 'float32' or 'float64', got {resolved.name!r}")
    return resolved


def to_numpy(value: Any, name: str) -> np.ndarray:
    """Any array-like (buffer protocol, __array__, DLPack) as an ndarray, without copying."""
    if isinstance(value, np.ndarray):
        return value
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    try:
        if hasattr(value, "__dlpack__") and not hasattr(value, "__array__"):
            return np.from_dlpack(value)
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name}: expected an array-like of numbers, got {type(value).__name__} ({exc})") from exc


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_ndim(arr: np.ndarray, ndim: int, name: str) -> None:
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got {arr.ndim}-D with shape {_shape_text(arr.shape)}")


_CORE_ALL_FINITE = {np.dtype(np.float32): _core.all_finite_float32, np.dtype(np.float64): _core.all_finite_float64}


def all_finite(arr: np.ndarray) -> bool:
    """True when every value is finite (one vectorised pass of the core, no temporary array)."""
    check = _CORE_ALL_FINITE.get(arr.dtype)
    if check is not None and arr.flags.c_contiguous:  # one vectorised pass, no temporary
        return check(arr)
    return bool(np.isfinite(arr).all())


def value_range(arr: np.ndarray) -> Tuple[Any, Any]:
    """(min, max) of a non-empty array: one pass of the core for contiguous int64 (class labels)."""
    if arr.dtype == np.int64 and arr.flags.c_contiguous:
        return _core.value_range_int64(arr)
    return arr.min(), arr.max()


def check_finite(arr: np.ndarray, name: str) -> None:
    if arr.size and not all_finite(arr):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or inf value(s)")


def float_array(value: Any, name: str, dtype: Optional[np.dtype] = None, *, ndim: Optional[int] = None,
                allow_int: bool = False, finite: bool = False, nonempty: bool = False) -> np.ndarray:
    """A C-contiguous float array. With dtype=None the input's own float dtype is kept (integer
    input is refused unless allow_int, then converted to float64)."""
    arr = to_numpy(value, name)
    kind = arr.dtype.kind
    if kind not in "fiub" or (kind in "iub" and not allow_int) or arr.dtype == np.float16:
        expected = "a float32 or float64 array" + (" (or integers)" if allow_int else "")
        raise TypeError(f"{name}: expected {expected}, got dtype {arr.dtype.name!r}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    if ndim is not None:
        check_ndim(arr, ndim, name)
    if nonempty and arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {_shape_text(arr.shape)}")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if finite:
        check_finite(out, name)
    return out


def same_float_dtype(arrays: Sequence[np.ndarray], names: Sequence[str]) -> np.dtype:
    first = arrays[0].dtype
    for arr, name in zip(arrays[1:], names[1:]):
        if arr.dtype != first:
            raise TypeError(f"{name}: expected dtype {first.name!r} (the dtype of {names[0]}), got {arr.dtype.name!r}")
    return first


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def finite_float(value: Any, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"{name}: expected a finite number, got {number}")
    if positive and number <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {number}")
    if nonnegative and number < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {number}")
    return number


def choice(value: Any, name: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


@functools.lru_cache(maxsize=1)
def physical_memory_bytes() -> int:
    """Installed memory in bytes (0 when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 0


def check_fits_in_memory(count: int, itemsize: int, name: str, what: str) -> None:
    """MemoryError (naming the argument) when `count` values of `itemsize` bytes exceed the
    installed memory: refused up front rather than left to the allocator, which on systems
    that overcommit memory may 'succeed' and have the process killed when the pages are used."""
    nbytes = float(count) * float(itemsize)
    ram = physical_memory_bytes()
    if ram and nbytes > ram:
        raise MemoryError(f"{name}: {what} would need {nbytes / 1e9:.3g} GB, more than the "
                          f"{ram / 1e9:.3g} GB of memory installed")
