"""deltaprop.distributed in one process: the summation tree, shard(), load_shard(), the
checks on comm= and its companions, and comm=MPI.COMM_SELF against a plain fit. The runs over
several ranks are in test_distributed_mpi.py."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.distributed.mpi import block
from deltaprop.distributed.tree import combine, combine_halves, cover, subtree_sum

MPI = pytest.importorskip("mpi4py.MPI", reason="deltaprop.distributed needs mpi4py and an MPI library "
                          "(pip install \".[mpi]\")")


def tree_reference(leaves, lo, hi):
    """The tree's sum written out directly: halves at (lo + hi) // 2."""
    if hi - lo == 1:
        return leaves[lo].copy()
    mid = (lo + hi) // 2
    return tree_reference(leaves, lo, mid) + tree_reference(leaves, mid, hi)


@pytest.mark.parametrize("k", [1, 2, 5, 8, 13])
def test_any_split_of_the_leaves_gives_the_trees_bits(rng, k):
    leaves = [rng.standard_normal(50).astype(np.float32) * 10.0 ** rng.integers(-3, 4) for _ in range(k)]
    expected = tree_reference(leaves, 0, k)
    for _ in range(20):
        cuts = np.sort(rng.integers(0, k + 1, rng.integers(0, 4)))
        bounds = [0, *cuts.tolist(), k]
        parts = {}
        for a, b in zip(bounds[:-1], bounds[1:]):
            nodes = cover(a, b, k)
            assert sum(hi - lo for lo, hi in nodes) == b - a  # whole subtrees, covering [a, b) once
            for node in nodes:
                parts[node] = subtree_sum(node, lambda j: leaves[j].copy())
        np.testing.assert_array_equal(combine(parts, k), expected)
        # The root's last addition left to the caller: the same bits once it is made.
        left, right = combine_halves(parts, k, np.empty_like(expected), lambda level: np.empty_like(expected))
        np.testing.assert_array_equal(left if right is None else left + right, expected)


def test_the_tree_sum_differs_from_a_running_sum():
    """Why the order is fixed: float addition is not associative."""
    leaves = [np.float32([1e8]), np.float32([1.0]), np.float32([-1e8]), np.float32([1.0])]
    assert combine({(j, j + 1): leaf for j, leaf in enumerate(leaves)}, 4)[0] == np.float32(0.0)
    assert ((leaves[0] + leaves[2]) + leaves[1] + leaves[3])[0] == np.float32(2.0)


@pytest.mark.parametrize("n,size", [(10, 3), (2, 4), (0, 2), (7, 1)])
def test_blocks_are_contiguous_in_rank_order_and_balanced(n, size):
    blocks = [block(n, r, size) for r in range(size)]
    assert [b.start for b in blocks] == [0] + [b.stop for b in blocks[:-1]]
    assert blocks[-1].stop == n
    assert max(b.stop - b.start for b in blocks) - min(b.stop - b.start for b in blocks) <= 1


def test_shard_of_a_single_process_is_everything():
    from deltaprop.distributed import shard
    assert shard(11, MPI.COMM_SELF) == slice(0, 11)
    with pytest.raises(TypeError, match="comm: expected an mpi4py intracommunicator"):
        shard(11, "world")
    with pytest.raises(ValueError, match="n_rows: expected an integer >= 0"):
        shard(-1, MPI.COMM_SELF)


def test_load_shard_maps_npy_and_npz(tmp_path, rng):
    from deltaprop.distributed import load_shard
    X, y = rng.standard_normal((9, 3)), rng.integers(0, 2, 9)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    np.savez_compressed(tmp_path / "c.npz", X=X, y=y)
    np.testing.assert_array_equal(load_shard(tmp_path / "x.npy", MPI.COMM_SELF)["X"], X)
    for name in ("d.npz", "c.npz"):
        arrays = load_shard(tmp_path / name, MPI.COMM_SELF)
        np.testing.assert_array_equal(arrays["X"], X)
        np.testing.assert_array_equal(arrays["y"], y)
    with pytest.raises(KeyError, match="'z' is not in"):
        load_shard(tmp_path / "d.npz", MPI.COMM_SELF, keys=["z"])
    with pytest.raises(ValueError, match="path: expected an .npy or .npz file"):
        load_shard(tmp_path / "x.csv", MPI.COMM_SELF)


def _problem(rng, n=300, loss="cross_entropy"):
    X = rng.standard_normal((n, 10)).astype(np.float32)
    if loss == "cross_entropy":
        return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    return X, np.stack([X[:, 0] * X[:, 1], X[:, 2]], axis=1)


@pytest.mark.parametrize("optimizer,loss,batch_size", [("sgd", "cross_entropy", 50), ("momentum", "mse", 77),
                                                       ("adamw", "cross_entropy", 300)])
@pytest.mark.parametrize("deterministic", [True, False])
def test_comm_self_agrees_with_a_plain_fit(rng, optimizer, loss, batch_size, deterministic):
    X, y = _problem(rng, loss=loss)
    out = 3 if loss == "cross_entropy" else 2
    plain, parallel = dp.MLP([10, 24, out], loss=loss, seed=2), dp.MLP([10, 24, out], loss=loss, seed=2)
    options = dict(epochs=4, batch_size=batch_size, optimizer=optimizer, lr=0.02, l2=1e-3, lr_schedule="cosine",
                   validation_data=(X[:40], y[:40]))
    h1 = plain.fit(X, y, **options)
    h2 = parallel.fit(X, y, comm=MPI.COMM_SELF, deterministic=deterministic, **options)
    np.testing.assert_allclose(parallel.get_params(), plain.get_params(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-5)
    np.testing.assert_allclose(h2.val_loss, h1.val_loss, rtol=1e-5)
    assert h2.lr == h1.lr


def test_balanced_class_weight_and_early_stopping_work_with_comm(rng):
    X, y = _problem(rng)
    plain, parallel = dp.MLP([10, 16, 3], seed=4), dp.MLP([10, 16, 3], seed=4)
    options = dict(epochs=30, batch_size=64, lr=0.05, class_weight="balanced", validation_data=(X[:50], y[:50]),
                   early_stopping=dp.EarlyStopping(patience=2, restore_best_weights=True))
    h1 = plain.fit(X, y, **options)
    h2 = parallel.fit(X, y, comm=MPI.COMM_SELF, **options)
    assert h2.epochs == h1.epochs
    np.testing.assert_allclose(parallel.get_params(), plain.get_params(), rtol=1e-4, atol=1e-5)


def test_a_callback_stops_the_run(rng):
    X, y = _problem(rng)
    history = dp.MLP([10, 8, 3]).fit(X, y, epochs=10, comm=MPI.COMM_SELF, callbacks=lambda h: h.epochs == 3)
    assert history.epochs == 3


def test_bad_arguments_are_named(rng):
    X, y = _problem(rng)
    net = dp.MLP([10, 8, 3])
    with pytest.raises(TypeError, match="comm: expected an mpi4py intracommunicator"):
        net.fit(X, y, comm=object())
    with pytest.raises(TypeError, match="deterministic: expected True or False"):
        net.fit(X, y, comm=MPI.COMM_SELF, deterministic="yes")
    with pytest.raises(ValueError, match="deterministic: only for data-parallel training"):
        net.fit(X, y, deterministic=False)
    with pytest.raises(ValueError, match="validation_split: not with comm="):
        net.fit(X, y, comm=MPI.COMM_SELF, validation_split=0.2)
    with pytest.raises(ValueError, match="X: expected at least 1 row over all ranks"):
        net.fit(np.zeros((0, 10), np.float32), np.zeros(0, np.int64), comm=MPI.COMM_SELF)
    with pytest.raises(ValueError, match="X: expected 10 features"):
        net.fit(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), comm=MPI.COMM_SELF)
