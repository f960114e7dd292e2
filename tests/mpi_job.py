"""An MPI job for the data-parallel tests: `mpiexec -n N python -m mpi4py mpi_job.py MODE OUT`.

train: deterministic and fast runs on even shards (shard()) and on uneven ones (one rank may
hold no rows), each saved by rank 0 with a flag telling whether every rank ended with the
same weights; the even ones again with MPI messages in place of the shared-memory window. checkpoint: a run saved after 2 epochs (save), or resumed from it to 4 (resume).
abort: rank 1 passes bad labels, so only it raises; the job must end, not hang.
`run` is also imported by the tests for the one-process references.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import deltaprop as dp

N, FEATURES, CLASSES = 403, 12, 3  # batches of 200, 200 and 3 rows; micro-batches of 64, 64, 64, 8
FIT = dict(epochs=3, batch_size=200, optimizer="adam", lr=0.01, l2=1e-3)
# Plain SGD without L2 and without weights: each rank updates its segment of the parameters and
# the ranks exchange parameters (the other optimizers exchange the gradient sum).
PLAIN_SGD = dict(optimizer="sgd", l2=0.0, weighted=False)


def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N, FEATURES)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32)
    Xv = rng.standard_normal((101, FEATURES)).astype(np.float32)
    return X, y, w, Xv, (Xv[:, 0] > 0).astype(np.int64)


def uneven(n, rank, size):
    """Blocks of very different sizes: rank 0 gets none when there are 3 or more ranks."""
    cuts = [0] + [min(n, (0 if size > 2 else 9) + 97 * r * r) for r in range(1, size)] + [n]
    return slice(cuts[rank], cuts[rank + 1])


def run(comm, rows, deterministic=True, weighted=True, **extra):
    """A model trained on `rows` of this rank (all rows with comm=None)."""
    X, y, w, Xv, yv = data()
    net = dp.MLP([FEATURES, 16, CLASSES], seed=3)
    options = dict(FIT, sample_weight=w[rows] if weighted else None, **extra)
    if comm is not None:
        from deltaprop.distributed import shard
        options.update(comm=comm, deterministic=deterministic,
                       validation_data=(Xv[shard(len(Xv), comm)], yv[shard(len(Xv), comm)]))
    else:
        options.update(validation_data=(Xv, yv))
    history = net.fit(X[rows], y[rows], **options)
    return net, history


def main(mode, out):
    from mpi4py import MPI
    from deltaprop.distributed import shard
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()

    def keep(name, net, history=None):
        params = comm.gather(net.get_params(), root=0)
        if rank == 0:
            same = all(np.array_equal(p, params[0]) for p in params)
            np.save(os.path.join(out, f"{name}.npy"), params[0])
            np.save(os.path.join(out, f"{name}.same.npy"), np.array(same))
            if history is not None:
                np.save(os.path.join(out, f"{name}.loss.npy"), np.array(history.train_loss + history.val_loss))

    if mode == "train":
        for deterministic in (True, False):
            tag = "det" if deterministic else "fast"
            keep(f"even_{tag}", *run(comm, shard(N, comm), deterministic))
            keep(f"uneven_{tag}", *run(comm, uneven(N, rank, size), deterministic, batch_size=11))  # 37 batches
            keep(f"even_{tag}_sgd", *run(comm, shard(N, comm), deterministic, **PLAIN_SGD))
            keep(f"uneven_{tag}_sgd", *run(comm, uneven(N, rank, size), deterministic, batch_size=11, **PLAIN_SGD))
        from deltaprop.distributed import epoch
        epoch.SHARED_MEMORY = False  # the Alltoallv exchange of ranks on different nodes
        for deterministic in (True, False):
            tag = "det" if deterministic else "fast"
            keep(f"even_{tag}_messages", *run(comm, shard(N, comm), deterministic))
            keep(f"even_{tag}_sgd_messages", *run(comm, shard(N, comm), deterministic, **PLAIN_SGD))
        epoch.SHARED_MEMORY = True
    elif mode in ("save", "resume"):
        checkpoint = os.path.join(out, "checkpoint.npz")
        X, y, w, Xv, yv = data()
        options = dict(epochs=2, checkpoint=checkpoint) if mode == "save" else dict(epochs=4, resume=checkpoint)
        keep(mode, run(comm, shard(N, comm), **options)[0])
    elif mode == "abort":
        X, y, w, Xv, yv = data()
        rows = shard(N, comm)
        labels = y[rows] + (CLASSES if rank == 1 else 0)  # out of range on rank 1 only
        dp.MLP([FEATURES, 16, CLASSES]).fit(X[rows], labels, epochs=50, comm=comm)
    else:
        raise SystemExit(f"mode: expected train, save, resume or abort, got {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
