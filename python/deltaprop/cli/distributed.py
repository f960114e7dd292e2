"""`deltaprop train data.npz --distributed` under `mpiexec -n N`: each rank memory-maps its own
block of the rows, the ranks train one model together (deltaprop.distributed), rank 0 saves it.

The validation rows are a seeded random fraction of the global rows, the training rows the
rest in row order, so the trained weights do not depend on the number of ranks."""
from __future__ import annotations

import argparse
from typing import Any, Optional, Tuple

import numpy as np

__all__ = ["train_distributed"]


def train_distributed(args: argparse.Namespace, targets: Any, report: Any) -> int:
    """targets(y, loss, path) -> (loss, y, outputs, classes) as for one process; report(history)
    prints the summary line."""
    from ..distributed import abort_on_error, load_shard
    from ..distributed.mpi import require_mpi

    comm = require_mpi().COMM_WORLD
    with abort_on_error(comm):
        import deltaprop as dp

        if not args.data.lower().endswith(".npz"):
            raise ValueError(f"--distributed: expected an .npz file with arrays {args.x_key!r} and {args.y_key!r} "
                             f"(each rank maps only its rows), got {args.data!r}")
        if args.threads is not None:
            dp.set_num_threads(args.threads)
        arrays = load_shard(args.data, comm, keys=[args.x_key, args.y_key])
        X, y = arrays[args.x_key], arrays[args.y_key]
        if X.ndim != 2:
            raise ValueError(f"{args.data}: array {args.x_key!r} must be 2-D (samples, features), got shape {X.shape}")
        loss, y, outputs = _global_targets(comm, y, args.loss, args.data, targets)
        train, val, n = _split(comm, X.shape[0], args.val_split, args.seed)
        net = dp.MLP([X.shape[1], *args.hidden, outputs], activation=args.activation, loss=loss,
                     dtype=args.dtype, seed=args.seed, precision=args.precision)
        n_val = sum(comm.allgather(int(val.size)))
        if comm.Get_rank() == 0:
            print(f"{net}: {n - n_val} training rows, {n_val} validation rows on {comm.Get_size()} ranks", flush=True)
        has_val = args.val_split > 0
        history = net.fit(X[train], y[train], epochs=args.epochs, batch_size=args.batch_size,
                          optimizer=args.optimizer, lr=args.lr, seed=args.seed, verbose=not args.quiet,
                          validation_data=(X[val], y[val]) if has_val else None, comm=comm)
        if comm.Get_rank() == 0:
            net.save(args.out)
            report(history, args.out)
        comm.Barrier()
    return 0


def _global_targets(comm: Any, y: np.ndarray, loss: str, path: str, targets: Any) -> Tuple[str, np.ndarray, int]:
    """The loss, targets and output width decided from every rank's labels."""
    if y.dtype.kind in "USO":
        raise ValueError(f"{path}: --distributed needs numeric labels (class indices 0..C-1 or targets), "
                         "not class names")
    if loss == "auto":
        whole = y.ndim == 1 and bool(np.all(y == np.round(y))) and (y.size == 0 or y.min() >= 0)
        loss = "cross_entropy" if all(comm.allgather(whole)) else "mse"
    if loss == "cross_entropy" and y.ndim == 1:
        top = max(comm.allgather(int(y.max()) if y.size else 0))
        if y.size:
            loss, y, _, _ = targets(y, loss, path)
        return loss, y.astype(np.int64), max(2, top + 1)
    width = max(comm.allgather(1 if y.ndim == 1 else int(y.shape[1])))
    return loss, (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float64), width


def _split(comm: Any, n_local: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """(training rows, validation rows) of this rank's block, and the global row count."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--val-split: expected a fraction in [0, 1), got {fraction}")
    counts = comm.allgather(int(n_local))
    n, start = sum(counts), sum(counts[:comm.Get_rank()])
    n_val = int(round(n * fraction))
    if fraction > 0 and (n_val == 0 or n_val == n):
        raise ValueError(f"--val-split: {fraction} of {n} rows leaves an empty training or validation set")
    held = np.zeros(n, bool)
    held[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    mine = held[start:start + n_local]
    return np.flatnonzero(~mine), np.flatnonzero(mine), n
