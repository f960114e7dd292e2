"""Small generated data sets (no download): two interleaved spirals, Gaussian blobs."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def two_spirals(n: int = 2000, noise: float = 0.15, turns: float = 1.75, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """n points on two interleaved spirals in 2-D, labels 0/1 (not linearly separable)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.sqrt(rng.uniform(0.05, 1.0, size=half)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    X = np.concatenate([arm, -arm]) + rng.normal(scale=noise / (turns * 2), size=(2 * half, 2))
    y = np.concatenate([np.zeros(half, dtype=np.int64), np.ones(half, dtype=np.int64)])
    perm = rng.permutation(2 * half)
    return X[perm].astype(np.float32), y[perm]


def blobs(n: int = 1000, centers: int = 3, features: int = 2, spread: float = 1.0, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around random centres; labels 0..centers-1."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-6, 6, size=(centers, features))
    y = rng.integers(0, centers, size=n)
    X = means[y] + rng.normal(scale=spread, size=(n, features))
    return X.astype(np.float32), y.astype(np.int64)
