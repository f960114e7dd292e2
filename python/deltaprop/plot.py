"""Figures for understanding a trained network (needs matplotlib: ``pip install "deltaprop[plot]"``).

- `learning_curves(history)`: training and validation loss and accuracy per epoch.
- `decision_boundary(net, X, y)`: the class regions of a classifier with 2 inputs.
- `hidden_representation(net, X, y, layer)`: the activations of a hidden layer, projected to 2-D
  with PCA when wider. The hidden layers learn a feature map in which the classes become linearly
  separable for the output layer; this plot shows that map.
- `demo_figure(net, history, X, y)`: all of the above in one figure; `save_figure(fig, path)`.

Functions draw into a given matplotlib Axes, or create a `matplotlib.figure.Figure` (no pyplot,
no display: works headless and shows inline in notebooks). They return what they drew into.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

import numpy as np

from .history import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .model import MLP

__all__ = ["learning_curves", "decision_boundary", "hidden_representation", "pca_2d", "demo_figure",
           "save_figure", "require_matplotlib"]

_TRAIN_COLOR, _VAL_COLOR = "#1f77b4", "#d62728"


def require_matplotlib() -> None:
    """Raise ImportError with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'deltaprop[plot]' (or pip install matplotlib)") from None


def _new_figure(width: float, height: float) -> "Figure":
    require_matplotlib()
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def _axes(ax: Optional["Axes"]) -> "Axes":
    return _new_figure(5.0, 4.0).add_subplot() if ax is None else ax


def _class_colors(n_classes: int) -> Any:
    require_matplotlib()
    from matplotlib import colormaps
    return colormaps["tab10" if n_classes <= 10 else "tab20"]


def pca_2d(A: Any) -> np.ndarray:
    """Rows of A (n, d) projected on their two principal directions: (n, 2) float64, centred.

    Uses the SVD of the centred data; for d < 2 the missing coordinate is zero. The sign of
    each direction is fixed so that its largest loading is positive (stable across runs).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"A: expected a non-empty 2-D array (n, d), got shape {A.shape}")
    centred = A - A.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    directions = vt[:2]
    flip = np.sign(directions[np.arange(len(directions)), np.argmax(np.abs(directions), axis=1)])
    projected = centred @ (directions * flip[:, None]).T
    if projected.shape[1] < 2:
        projected = np.hstack([projected, np.zeros((A.shape[0], 2 - projected.shape[1]))])
    return projected


def learning_curves(history: History, axes: Optional[Sequence["Axes"]] = None) -> Tuple["Axes", ...]:
    """Loss per epoch (train and validation) and, when recorded, validation accuracy.

    axes: one Axes (loss only) or two (loss, accuracy); None creates a figure with as many as
    there are curves to draw. Returns the Axes drawn into.
    """
    if not isinstance(history, History):
        raise TypeError(f"history: expected a deltaprop History, got {type(history).__name__}")
    if not history.train_loss:
        raise ValueError("history: no epochs recorded (train for at least one epoch)")
    want = 2 if history.val_accuracy else 1
    if axes is None:
        fig = _new_figure(5.0 * want, 4.0)
        axes = fig.subplots(1, want, squeeze=False)[0]
    axes = list(axes)
    epochs = np.arange(1, len(history.train_loss) + 1)
    loss_ax = axes[0]
    loss_ax.plot(epochs, history.train_loss, color=_TRAIN_COLOR, label="train")
    if history.val_loss:
        loss_ax.plot(epochs[:len(history.val_loss)], history.val_loss, color=_VAL_COLOR, label="validation")
    if min(history.train_loss + history.val_loss) > 0 and max(history.train_loss) / min(history.train_loss) > 20:
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend()
    loss_ax.grid(alpha=0.3)
    if history.val_accuracy and len(axes) > 1:
        acc_ax = axes[1]
        acc_ax.plot(epochs[:len(history.val_accuracy)], history.val_accuracy, color=_VAL_COLOR, label="validation")
        lowest = max(0.0, min(history.val_accuracy) - 0.05)
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy", ylim=(lowest, 1.005))
        acc_ax.legend(loc="lower right")
        acc_ax.grid(alpha=0.3)
    return tuple(axes[:want])


def _labels_for_colour(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2:
        y = np.argmax(y, axis=1) if y.shape[1] > 1 else (y[:, 0] > 0.5)
    if y.shape != (n,):
        raise ValueError(f"y: expected {n} labels (one per row of X), got shape {y.shape}")
    return y.astype(np.int64)


def _scatter_classes(ax: "Axes", points: np.ndarray, labels: np.ndarray, size: float = 10.0) -> None:
    classes = np.unique(labels)
    cmap = _class_colors(int(classes.max()) + 1)
    for c in classes:
        mask = labels == c
        ax.scatter(points[mask, 0], points[mask, 1], s=size, color=cmap(int(c) % cmap.N),
                   edgecolors="white", linewidths=0.3, label=str(c))
    if len(classes) <= 3:
        ax.legend(loc="best", title="class", fontsize="small", markerscale=1.5, framealpha=0.8)
    elif len(classes) <= 20:  # outside the axes: many classes would hide the points
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="class", fontsize="small",
                  markerscale=1.5, frameon=False, ncols=1 + len(classes) // 11)


def decision_boundary(net: "MLP", X: Any, y: Any, ax: Optional["Axes"] = None, resolution: int = 300) -> "Axes":
    """The class regions of a 2-input classifier over the range of X, with the points of X
    (n, 2) coloured by their labels y (n,).

    resolution: grid points per side (the network is evaluated resolution² times).
    """
    if net.loss in ("mse", "poisson"):
        raise ValueError("net: decision boundaries need a classifier (cross_entropy or binary_cross_entropy loss)")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or net.sizes[0] != 2:
        raise ValueError(f"X: decision boundaries need 2 input features, got X of shape {X.shape} "
                         f"for a network with {net.sizes[0]} inputs")
    labels = _labels_for_colour(y, X.shape[0])
    ax = _axes(ax)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.05 * (hi - lo) + 1e-9
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    proba = net.predict_proba(grid)
    if net.loss == "binary_cross_entropy":
        regions = (proba[:, 0] > 0.5).astype(np.int64)
    else:
        regions = np.argmax(proba, axis=1)
    n_classes = max(int(regions.max()), int(labels.max())) + 1
    cmap = _class_colors(n_classes)
    from matplotlib.colors import ListedColormap
    region_colors = ListedColormap([cmap(c % cmap.N) for c in range(n_classes)])
    ax.imshow(regions.reshape(gx.shape), origin="lower", extent=(gx[0, 0], gx[0, -1], gy[0, 0], gy[-1, 0]),
              cmap=region_colors, vmin=-0.5, vmax=n_classes - 0.5, alpha=0.25, aspect="auto",
              interpolation="nearest")
    ax.contour(gx, gy, regions.reshape(gx.shape), levels=np.arange(n_classes) + 0.5, colors="black",
               linewidths=0.8)
    _scatter_classes(ax, X, labels)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title="Decision boundary")
    return ax


def hidden_representation(net: "MLP", X: Any, y: Any, layer: int = -1, ax: Optional["Axes"] = None) -> "Axes":
    """The activations a(layer) of hidden layer `layer` (0 = first hidden layer; negative counts
    back from the last hidden layer, the default) for the rows of X, coloured by labels y.

    Layers wider than 2 are projected to 2-D with PCA (`pca_2d`); a layer of width 2 is drawn
    as is, with the output layer's linear decision boundary when that is a line.
    """
    hidden = len(net.sizes) - 2
    if hidden == 0:
        raise ValueError("net: has no hidden layer to show")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -hidden <= layer < hidden:
        raise ValueError(f"layer: expected a hidden layer index in [{-hidden}, {hidden - 1}], got {layer!r}")
    layer = int(layer) % hidden
    A = net.activations(X)[layer]
    labels = _labels_for_colour(y, A.shape[0])
    ax = _axes(ax)
    width = A.shape[1]
    if width == 2:
        points = np.asarray(A, dtype=np.float64)
        ax.set(xlabel="unit 1", ylabel="unit 2")
    else:
        points = pca_2d(A)
        ax.set(xlabel="principal component 1", ylabel="principal component 2")
    _scatter_classes(ax, points, labels)
    if width == 2 and layer == hidden - 1:
        _output_boundary(net, ax, points)
    ax.set_title(f"Hidden layer {layer + 1} ({width} units{', PCA' if width > 2 else ''})")
    return ax


def _output_boundary(net: "MLP", ax: "Axes", points: np.ndarray) -> None:
    """The output layer's boundary w·a + b = 0 in a 2-unit representation (two-class problems)."""
    W, b = np.asarray(net.layers[-1].W, dtype=np.float64), np.asarray(net.layers[-1].b, dtype=np.float64)
    if net.loss == "binary_cross_entropy" and W.shape[0] == 1:
        w, c = W[0], b[0]
    elif net.loss == "cross_entropy" and W.shape[0] == 2:
        w, c = W[1] - W[0], b[1] - b[0]  # logit 1 > logit 0
    else:
        return
    x_lo, x_hi = points[:, 0].min(), points[:, 0].max()
    y_lo, y_hi = points[:, 1].min(), points[:, 1].max()
    if abs(w[1]) >= abs(w[0]) and w[1] != 0:
        xs = np.linspace(x_lo, x_hi, 2)
        ax.plot(xs, -(c + w[0] * xs) / w[1], color="black", linewidth=1.0, label="output boundary")
    elif w[0] != 0:
        ys = np.linspace(y_lo, y_hi, 2)
        ax.plot(-(c + w[1] * ys) / w[0], ys, color="black", linewidth=1.0, label="output boundary")
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi))


def demo_figure(net: "MLP", history: History, X: Any, y: Any, title: Optional[str] = None) -> "Figure":
    """One figure: learning curves, the decision boundary (2-input classifiers only) and the
    last hidden layer's representation of X (n, sizes[0]) coloured by y (n,)."""
    boundary = net.sizes[0] == 2 and net.loss not in ("mse", "poisson")   # a classifier on the plane
    panels = 1 + (1 if history.val_accuracy else 0) + (1 if boundary else 0) \
        + (1 if len(net.sizes) > 2 else 0)
    fig = _new_figure(4.2 * panels, 4.0)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    used = len(learning_curves(history, axes[:2] if history.val_accuracy else axes[:1]))
    if boundary:
        decision_boundary(net, X, y, ax=axes[used])
        used += 1
    if len(net.sizes) > 2:
        hidden_representation(net, X, y, ax=axes[used])
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig: "Figure", path: Any, dpi: int = 110) -> None:
    """Write `fig` to `path` (format from the extension, e.g. .png, .svg, .pdf) with the Agg
    renderer: no display needed."""
    fig.savefig(path, dpi=dpi)
