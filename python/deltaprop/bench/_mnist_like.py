"""A deterministic MNIST-like data set made from scikit-learn's handwritten digits (no download):
each row is one of the 1,797 8x8 digit images, scaled up to 20x20 (cubic spline), put on a 28x28
canvas and warped by a random rotation (±15°), scale (0.85-1.15), shear (±0.15) and shift (±2
px), with a stroke contrast drawn per image; pixels in [0, 1] on 256 levels, 784 features. Real
pen strokes, MNIST's geometry and sparsity (about 70% zeros), and a task of MNIST's difficulty
for a 100-unit MLP rather than a random one.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


def mnist_like(n: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(X (n, 784) float64 in [0, 1], y (n,) int labels 0-9); the same rows for the same seed."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target
    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(images), n)
    canvas = np.zeros((28, 28))
    centre = np.array([13.5, 13.5])
    out = np.empty((n, 28, 28))
    for k, s in enumerate(source):
        canvas[4:24, 4:24] = np.clip(ndimage.zoom(images[s], 2.5, order=3), 0.0, 1.0)
        angle = np.deg2rad(rng.uniform(-15.0, 15.0))
        scale, shear = rng.uniform(0.85, 1.15), rng.uniform(-0.15, 0.15)
        shift = rng.uniform(-2.0, 2.0, 2)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) / scale  # output -> input pixel
        warped = ndimage.affine_transform(canvas, matrix, offset=centre - matrix @ (centre + shift), order=1)
        out[k] = np.clip((warped - 0.15) * 1.8 * rng.uniform(0.7, 1.4), 0.0, 1.0)
    return np.round(out.reshape(n, 784) * 255.0) / 255.0, labels[source]
