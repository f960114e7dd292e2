"""Synchronous data-parallel training over MPI (mpi4py, imported when first used).

    from mpi4py import MPI
    from deltaprop.distributed import shard
    rows = shard(len(X), MPI.COMM_WORLD)            # this rank's contiguous block of the rows
    net.fit(X[rows], y[rows], batch_size=256, comm=MPI.COMM_WORLD)

Run it with `mpiexec -n 4 python train.py`. `batch_size` is the global batch; batches come
from one seeded permutation of the global row ids per epoch; rank 0's initial weights go to
every rank; every rank applies the same update. By default (deterministic=True) the gradient
of a global batch is summed over fixed micro-batches in a fixed tree (epoch.py, tree.py), so
any number of ranks gives bitwise the same weights; deterministic=False adds up each rank's
gradient in one piece instead (faster, equal to float rounding only). An exception on one rank aborts the
job with that rank's traceback.

- tree.py — the fixed summation tree over micro-batches.
- epoch.py — `DataParallelEpoch`, the driver's run_epoch for both modes.
- segments.py — the parameter segments each rank finishes, and how sums and parameters move.
- shared.py — the shared-memory window through which ranks on one node read each other's sums.
- parallel.py — `DataParallel`: what a fit with comm= changes (global rows, broadcast,
  validation, callbacks, checkpoints).
- mpi.py — the lazy mpi4py import, `abort_on_error`, the block split behind `shard`.
- shards.py — `load_shard`: a rank's rows of an .npy / .npz file, memory-mapped.
"""
from __future__ import annotations

from typing import Any

from .._validation import positive_int
from .epoch import MICRO_BATCH, DataParallelEpoch
from .mpi import abort_on_error, block, check_comm
from .parallel import DataParallel
from .shards import load_shard

__all__ = ["shard", "load_shard", "DataParallel", "DataParallelEpoch", "MICRO_BATCH", "abort_on_error"]


def shard(n_rows: int, comm: Any) -> slice:
    """This rank's contiguous block of `n_rows` global rows, in rank order (the first
    n_rows % size ranks get one row more): slice X[shard(len(X), comm)]."""
    n_rows = positive_int(n_rows, "n_rows", minimum=0)
    comm = check_comm(comm)
    return block(n_rows, comm.Get_rank(), comm.Get_size())
