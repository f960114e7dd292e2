"""Class names as labels: a label column of names trains a classifier whose outputs are the
sorted distinct names (`MLP.classes`, saved with the model); data given to that model later is
encoded with the same names, and its predictions are written back as names."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["is_names", "listing", "encode_for_training", "encode_for_model"]


def is_names(y: np.ndarray) -> bool:
    return y.dtype.kind == "U"


def listing(names: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(repr(str(name)) for name in names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def encode_for_training(y: np.ndarray, path: str) -> Tuple[np.ndarray, np.ndarray]:
    """(classes: the sorted distinct names, labels: each row's index into classes)."""
    if y.ndim != 1:
        raise ValueError(f"{path}: class names must be one label per row, got an array of shape {y.shape}")
    classes, labels = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{path}: the labels name a single class ({listing(classes)}); a classifier needs at least 2")
    return classes, labels.reshape(-1).astype(np.int64)


def encode_for_model(y: np.ndarray, classes: Optional[np.ndarray], path: str) -> np.ndarray:
    """Labels for a model trained on `classes` (None: on numbers) as class indices."""
    if classes is None:
        raise ValueError(f"{path}: the labels are class names ({listing(np.unique(y))}) but the model was trained "
                         f"on numeric labels")
    if not is_names(y):
        raise ValueError(f"{path}: the labels are numbers but the model's classes are names ({listing(classes)})")
    order = np.argsort(classes)
    found = np.searchsorted(classes, y, sorter=order).clip(0, len(classes) - 1)
    labels = order[found]
    unseen = np.unique(y[classes[labels] != y])
    if unseen.size:
        raise ValueError(f"{path}: {'class' if unseen.size == 1 else 'classes'} {listing(unseen)} not seen in "
                         f"training (the model knows {listing(classes)})")
    return labels.astype(np.int64)
