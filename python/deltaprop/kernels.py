"""The core's kernels on numpy arrays: GEMM, GEMV, dense layers, activations and losses.

Every function takes float32 or float64 arrays (all of one dtype; anything numpy can view is
accepted, non-contiguous inputs are copied) and returns results of that dtype. Shapes follow the
row-major batch convention: X (n, fan_in), W (fan_out, fan_in), b (fan_out,).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from . import _core, vocabulary
from ._validation import check_ndim, choice, finite_float, float_array, same_float_dtype, to_numpy

__all__ = [
    "ACTIVATIONS", "gemm", "gemv", "dense_forward", "dense_backward", "activation_forward",
    "activation_backward", "softmax_cross_entropy", "mse", "sigmoid_binary_cross_entropy",
    "poisson",
]

#: Precisions of gemm's products: the arrays' own dtype, or bfloat16 products of float32 arrays.
PRECISIONS = ("fp32", "bf16")

#: Activation names and their ids in the core (read from the core's vocabulary).
ACTIVATIONS = {name: int(vocabulary.activation(name)) for name in vocabulary.ACTIVATIONS}


def _core_fn(name: str, dtype: np.dtype):
    return getattr(_core, f"{name}_{dtype.name}")


def _floats(*pairs: Tuple[Any, str], ndims: Tuple[Optional[int], ...] = (), strided: bool = False) -> list:
    arrays = []
    for k, (value, name) in enumerate(pairs):
        arr = to_numpy(value, name)
        if arr.dtype.kind != "f" or arr.dtype == np.float16:
            raise TypeError(f"{name}: expected a float32 or float64 array, got dtype {arr.dtype.name!r}")
        if k < len(ndims) and ndims[k] is not None:
            check_ndim(arr, ndims[k], name)
        arrays.append(arr)
    same_float_dtype(arrays, [name for _, name in pairs])
    if strided:
        return [_rows_contiguous(a) for a in arrays]
    return [np.ascontiguousarray(a) for a in arrays]


def _rows_contiguous(arr: np.ndarray) -> np.ndarray:
    """arr itself when its rows are contiguous (a column slice of a larger matrix is: the core
    reads it with a leading dimension), else a C-contiguous copy."""
    item = arr.itemsize
    if (arr.ndim == 2 and arr.strides[1] == item and arr.strides[0] % item == 0
            and arr.strides[0] >= arr.shape[1] * item):
        return arr
    return np.ascontiguousarray(arr)


def _out_array(out: Any, shape: tuple, dtype: np.dtype, *inputs: Tuple[np.ndarray, str]) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out: expected dtype {dtype.name!r}, got {out.dtype.name!r}")
    if out.shape != shape:
        raise ValueError(f"out: expected shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out: expected a writeable C-contiguous array")
    for arr, name in inputs:  # the kernels read their inputs while writing out: no overlap
        if np.may_share_memory(out, arr):
            raise ValueError(f"out: must not share memory with {name}")
    return out


_GEMM_CORE = {np.dtype(np.float32): _core.gemm_float32, np.dtype(np.float64): _core.gemm_float64}
_NUMBER = (float, int)


def _fast_gemm(A, B, trans_a, trans_b, alpha, beta, out) -> Optional[np.ndarray]:
    """The product without the general checks, for the common call: C-contiguous 2-D ndarrays of
    one float dtype, plain numbers, no out or a separate C-contiguous one of the right shape. At
    GEMV sizes the general path's checks cost as much as the product. None: take that path
    (which also words every error)."""
    if type(A) is not np.ndarray or type(B) is not np.ndarray or A.ndim != 2 or B.ndim != 2:
        return None
    core = _GEMM_CORE.get(A.dtype)
    if core is None or B.dtype != A.dtype or not (A.flags.c_contiguous and B.flags.c_contiguous):
        return None
    if type(alpha) not in _NUMBER or type(beta) not in _NUMBER or not (math.isfinite(alpha) and math.isfinite(beta)):
        return None
    M, K = (A.shape[1], A.shape[0]) if trans_a else A.shape
    KB, N = (B.shape[1], B.shape[0]) if trans_b else B.shape
    if KB != K:
        return None
    if out is None:
        C, beta = np.empty((M, N), dtype=A.dtype), 0.0
    elif (type(out) is np.ndarray and out.dtype == A.dtype and out.shape == (M, N) and out.flags.c_contiguous
          and out.flags.writeable and not np.may_share_memory(out, A) and not np.may_share_memory(out, B)):
        C = out
    else:
        return None
    core(A, B, C, bool(trans_a), bool(trans_b), float(alpha), float(beta))
    return C


def gemm(A, B, trans_a: bool = False, trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0,
         out: Optional[np.ndarray] = None, precision: str = "fp32") -> np.ndarray:
    """C = alpha · op(A) op(B) + beta · out, op(X) = Xᵀ when its flag is set.

    A: (M, K), or (K, M) with trans_a; B: (K, N), or (N, K) with trans_b; returns (M, N).
    With out=None, beta is ignored (a fresh result). out is written in place and returned.
    A and B are read without a copy when their rows are contiguous (e.g. column slices of a
    larger matrix); other layouts are copied first.

    precision: "fp32" (default: products in the arrays' dtype) or "bf16" (float32 arrays only:
    A and B rounded to bfloat16, nearest even, the products summed in float32; the level that
    runs them is ``deltaprop.build_info()["bf16"]``).
    """
    if type(precision) is str and precision == "fp32":
        fast = _fast_gemm(A, B, trans_a, trans_b, alpha, beta, out)
        if fast is not None:
            return fast
    precision = choice(precision, "precision", PRECISIONS)
    A, B = _floats((A, "A"), (B, "B"), ndims=(2, 2), strided=True)
    if precision == "bf16" and A.dtype != np.float32:
        raise TypeError(f"A: precision='bf16' takes float32 arrays, got dtype {A.dtype.name!r}")
    alpha = finite_float(alpha, "alpha")
    beta = finite_float(beta, "beta")
    M, K = (A.shape[1], A.shape[0]) if trans_a else A.shape
    KB, N = (B.shape[1], B.shape[0]) if trans_b else B.shape
    if KB != K:
        raise ValueError(f"B: inner dimensions differ: op(A) is ({M}, {K}) but op(B) is ({KB}, {N})")
    C = _out_array(out, (M, N), A.dtype, (A, "A"), (B, "B"))
    fn = _core.gemm_bf16_float32 if precision == "bf16" else _core_fn("gemm", A.dtype)
    fn(A, B, C, bool(trans_a), bool(trans_b), alpha, beta if out is not None else 0.0)
    return C


def gemv(A, x, trans: bool = False, alpha: float = 1.0, beta: float = 0.0,
         out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = alpha · op(A) x + beta · out. A: (rows, cols); x: (cols,), or (rows,) with trans."""
    A, x = _floats((A, "A"), (x, "x"), ndims=(2, 1))
    alpha = finite_float(alpha, "alpha")
    beta = finite_float(beta, "beta")
    rows, cols = A.shape
    want = rows if trans else cols
    if x.shape[0] != want:
        raise ValueError(f"x: expected shape ({want},) for A of shape {A.shape} (trans={bool(trans)}), got {x.shape}")
    y = _out_array(out, (cols if trans else rows,), A.dtype, (A, "A"), (x, "x"))
    _core_fn("gemv", A.dtype)(A, x, y, bool(trans), alpha, beta if out is not None else 0.0)
    return y


def _activation_id(name: str) -> Any:
    return vocabulary.activation(name)


def dense_forward(X, W, b, activation: str = "identity") -> Tuple[np.ndarray, np.ndarray]:
    """Z = X Wᵀ + b and A = g(Z). X (n, in), W (out, in), b (out,) -> Z, A of shape (n, out)."""
    act = _activation_id(activation)
    X, W, b = _floats((X, "X"), (W, "W"), (b, "b"), ndims=(2, 2, 1))
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W: expected shape (?, {X.shape[1]}) to match X's {X.shape[1]} columns, got {W.shape}")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b: expected shape ({W.shape[0]},), got {b.shape}")
    Z = np.empty((X.shape[0], W.shape[0]), dtype=X.dtype)
    A = np.empty_like(Z)
    _core_fn("dense_forward", X.dtype)(X, W, b, Z, A, act)
    return Z, A


def dense_backward(X, W, dZ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dX = dZ W, dW = dZᵀ X, db = Σ_rows dZ. X (n, in), W (out, in), dZ (n, out)."""
    X, W, dZ = _floats((X, "X"), (W, "W"), (dZ, "dZ"), ndims=(2, 2, 2))
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W: expected shape (?, {X.shape[1]}) to match X's {X.shape[1]} columns, got {W.shape}")
    if dZ.shape != (X.shape[0], W.shape[0]):
        raise ValueError(f"dZ: expected shape {(X.shape[0], W.shape[0])}, got {dZ.shape}")
    dX = np.empty_like(X)
    dW = np.empty_like(W)
    db = np.empty(W.shape[0], dtype=X.dtype)
    _core_fn("dense_backward", X.dtype)(X, W, dZ, dX, dW, db)
    return dX, dW, db


def activation_forward(name: str, Z) -> np.ndarray:
    """A = g(Z) element-wise, any shape."""
    act = _activation_id(name)
    (Z,) = _floats((Z, "Z"))
    A = np.empty_like(Z)
    _core_fn("activation_forward", Z.dtype)(act, Z.reshape(-1), A.reshape(-1))
    return A


def activation_backward(name: str, Z, A, dA) -> np.ndarray:
    """dZ = dA · g'(Z). The slope is computed from A = g(Z) (Z is checked for shape only)."""
    act = _activation_id(name)
    Z, A, dA = _floats((Z, "Z"), (A, "A"), (dA, "dA"))
    for arr, nm in ((A, "A"), (dA, "dA")):
        if arr.shape != Z.shape:
            raise ValueError(f"{nm}: expected shape {Z.shape} (the shape of Z), got {arr.shape}")
    dZ = np.empty_like(dA)
    _core_fn("activation_backward", Z.dtype)(act, A.reshape(-1), dA.reshape(-1), dZ.reshape(-1))
    return dZ


def _class_labels(labels: Any, n: int, classes: int) -> np.ndarray:
    arr = to_numpy(labels, "labels")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"labels: expected shape ({n},) of class indices, got {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError("labels: expected integer class indices, got non-integral values")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class indices, got dtype {arr.dtype.name!r}")
    if n and (arr.min() < 0 or arr.max() >= classes):
        raise ValueError(f"labels: class indices must lie in [0, {classes - 1}], got range [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int64)


def softmax_cross_entropy(logits, labels) -> Tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) and its gradient with respect to the logits.

    logits (n, C); labels: integer class indices (n,) in 0..C-1, or probability rows (n, C).
    Stable for any finite logits (log-sum-exp with the row max subtracted).
    """
    (logits,) = _floats((logits, "logits"), ndims=(2,))
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits: expected a non-empty (n, C) array, got shape {logits.shape}")
    grad = np.empty_like(logits)
    lab = to_numpy(labels, "labels")
    fn = _core_fn("softmax_cross_entropy", logits.dtype)
    if lab.ndim == 2:
        probs = float_array(lab, "labels", logits.dtype, finite=True)
        if probs.shape != logits.shape:
            raise ValueError(f"labels: expected shape {logits.shape} for probability rows, got {probs.shape}")
        return fn(logits, None, probs, grad), grad
    return fn(logits, _class_labels(lab, n, c), None, grad), grad


def _pair(a, b, name_a: str, name_b: str):
    a, b = _floats((a, name_a), (b, name_b))
    if a.shape != b.shape:
        raise ValueError(f"{name_b}: expected shape {a.shape} (the shape of {name_a}), got {b.shape}")
    if a.size == 0:
        raise ValueError(f"{name_a}: expected a non-empty array")
    return a, b


def mse(pred, target) -> Tuple[float, np.ndarray]:
    """0.5 · mean((pred - target)²) and its gradient (pred - target) / pred.size."""
    pred, target = _pair(pred, target, "pred", "target")
    grad = np.empty_like(pred)
    return _core_fn("mse", pred.dtype)(pred, target, grad), grad


def sigmoid_binary_cross_entropy(logits, target) -> Tuple[float, np.ndarray]:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], mean over all
    elements (as PyTorch's BCEWithLogitsLoss), and its gradient (sigmoid(z) - t) / z.size."""
    logits, target = _pair(logits, target, "logits", "target")
    grad = np.empty_like(logits)
    return _core_fn("sigmoid_binary_cross_entropy", logits.dtype)(logits, target, grad), grad


def poisson(logits, target) -> Tuple[float, np.ndarray]:
    """Poisson negative log-likelihood of the rates exp(logits), mean over all elements of
    exp(z) - t·z (as PyTorch's PoissonNLLLoss(log_input=True)), and its gradient
    (exp(z) - t) / z.size. An overflowing rate gives an infinite loss and gradient."""
    logits, target = _pair(logits, target, "logits", "target")
    grad = np.empty_like(logits)
    return _core_fn("poisson", logits.dtype)(logits, target, grad), grad
