"""Preparing the rows of a fit: per-row weights and a held-out validation split."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._validation import check_finite, finite_float, float_array, to_numpy
from ..network import Network

__all__ = ["sample_weights", "split_validation"]


def sample_weights(net: Network, labels: Optional[np.ndarray], n: int, sample_weight: Any,
                   class_weight: Any) -> Optional[np.ndarray]:
    """Per-row weights (n,) in the model's dtype, or None when all rows weigh the same."""
    weights = None
    if sample_weight is not None:
        weights = float_array(sample_weight, "sample_weight", net.dtype, allow_int=True).reshape(-1)
        if to_numpy(sample_weight, "sample_weight").ndim > 1 or weights.shape[0] != n:
            raise ValueError(f"sample_weight: expected shape ({n},), got {np.shape(sample_weight)}")
        check_finite(weights, "sample_weight")
        if (weights < 0).any():
            raise ValueError("sample_weight: expected weights >= 0, got negative values")
    if class_weight is not None:
        if labels is None:
            raise ValueError("class_weight: needs integer class labels (cross_entropy with 1-D y)")
        classes = net.sizes[-1]
        if isinstance(class_weight, str) and class_weight == "balanced":
            counts = np.bincount(labels, minlength=classes).astype(np.float64)
            table = np.where(counts > 0, n / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
        elif isinstance(class_weight, dict):
            table = np.ones(classes)
            for cls, w in class_weight.items():
                if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)) or not 0 <= cls < classes:
                    raise ValueError(f"class_weight: keys must be class indices in [0, {classes - 1}], got {cls!r}")
                table[cls] = finite_float(w, f"class_weight[{cls}]", nonnegative=True)
        else:
            raise TypeError(f"class_weight: expected a dict {{class: weight}} or 'balanced', got {class_weight!r}")
        per_row = table[labels].astype(net.dtype)
        weights = per_row if weights is None else weights * per_row
    if weights is not None and not weights.sum() > 0:
        raise ValueError("sample_weight: the weights must not all be zero")
    return weights


def split_validation(n: int, fraction: Any, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): a seeded random `fraction` of the rows held out."""
    fraction = finite_float(fraction, "validation_split")
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction}")
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation_split: {fraction} of {n} rows leaves no training or no validation rows")
    order = np.random.default_rng([seed, 0x5eed]).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
