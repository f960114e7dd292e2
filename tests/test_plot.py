"""Plots render to PNG without a display; PCA matches an eigendecomposition reference."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.datasets import blobs, two_spirals

pytest.importorskip("matplotlib")
from deltaprop import plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_pixels(path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_MAGIC
    return matplotlib.image.imread(str(path))


@pytest.fixture(scope="module")
def trained():
    X, y = two_spirals(n=400, seed=0)
    net = dp.MLP([2, 16, 16, 2], seed=0)
    hist = net.fit(X, y, epochs=4, lr=0.1, validation_data=(X, y))
    return net, hist, X, y


def test_pca_matches_covariance_eigenvectors(rng):
    A = rng.standard_normal((300, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1])
    P = plot.pca_2d(A)
    centred = A - A.mean(axis=0)
    vals, vecs = np.linalg.eigh(centred.T @ centred)
    top = vecs[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(P), np.abs(centred @ top), atol=1e-9)
    np.testing.assert_allclose(np.var(P, axis=0) * len(A), vals[::-1][:2], rtol=1e-9)


def test_pca_of_one_column_pads_with_zeros():
    P = plot.pca_2d(np.array([[1.0], [2.0], [4.0]]))
    np.testing.assert_allclose(P[:, 1], 0.0)
    np.testing.assert_allclose(np.abs(P[:, 0]), np.abs([1.0, 2.0, 4.0] - np.mean([1.0, 2.0, 4.0])))


def test_demo_figure_renders_png_headless(tmp_path, trained):
    net, hist, X, y = trained
    fig = plot.demo_figure(net, hist, X, y, title="spirals")
    assert len(fig.axes) == 4
    path = tmp_path / "demo.png"
    plot.save_figure(fig, path)
    pixels = _png_pixels(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 1200
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_decision_boundary_colours_each_class_region(tmp_path):
    X, y = blobs(n=300, centers=2, spread=0.5, seed=3)
    net = dp.MLP([2, 8, 2], seed=0)
    net.fit(X, y, epochs=20, lr=0.05)
    ax = plot.decision_boundary(net, X, y, resolution=50)
    regions = ax.images[0].get_array()
    assert set(np.unique(regions)) == {0, 1}
    assert ax.get_title() == "Decision boundary"


def test_learning_curves_plot_every_epoch(trained):
    _, hist, _, _ = trained
    loss_ax, acc_ax = plot.learning_curves(hist)
    train_line = loss_ax.get_lines()[0]
    np.testing.assert_allclose(train_line.get_ydata(), hist.train_loss)
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), hist.val_accuracy)


def test_hidden_representation_projects_the_chosen_layer(trained):
    net, _, X, y = trained
    ax = plot.hidden_representation(net, X, y, layer=0)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    expected = plot.pca_2d(net.activations(X)[0])
    order = np.concatenate([np.flatnonzero(y == c) for c in np.unique(y)])
    np.testing.assert_allclose(points, expected[order], rtol=1e-6, atol=1e-6)
    assert "Hidden layer 1" in ax.get_title()


def test_two_unit_layer_is_drawn_with_the_output_boundary():
    X, y = blobs(n=200, centers=2, seed=1)
    net = dp.MLP([2, 8, 2, 2], activation="tanh", seed=0)
    net.fit(X, y, epochs=5, lr=0.1)
    ax = plot.hidden_representation(net, X, y)
    assert ax.get_xlabel() == "unit 1"
    assert [line.get_label() for line in ax.get_lines()] == ["output boundary"]


@pytest.mark.parametrize("call, message", [
    (lambda net, X, y: plot.hidden_representation(net, X, y, layer=5), "layer: expected a hidden layer index"),
    (lambda net, X, y: plot.decision_boundary(net, np.ones((3, 3)), y[:3]), "X: decision boundaries need 2"),
    (lambda net, X, y: plot.decision_boundary(net, X, y[:-1]), "y: expected"),
    (lambda net, X, y: plot.learning_curves(dp.History()), "history: no epochs"),
])
def test_bad_arguments_are_named(trained, call, message):
    net, _, X, y = trained
    with pytest.raises(ValueError, match=message):
        call(net, X, y)


def test_cli_demo_writes_the_figure(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "out.png"
    result = subprocess.run([sys.executable, "-m", "deltaprop", "demo", "--epochs", "2", "--samples", "300",
                             "--plot", str(path)], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items()
                                 if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")})
    assert result.returncode == 0, result.stderr
    assert _png_pixels(path).shape[1] > 1000
