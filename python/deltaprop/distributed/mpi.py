"""mpi4py, imported when first needed, and the small MPI helpers around it."""
from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

__all__ = ["require_mpi", "mpi_type", "check_comm", "abort_on_error", "block"]


def require_mpi() -> Any:
    """The mpi4py.MPI module, or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as exc:  # mpi4py missing, or no MPI library for it to load
        raise ImportError(f"deltaprop.distributed needs mpi4py and an MPI library ({exc}); install them with "
                          "pip install \"deltaprop[mpi]\" (mpi4py and the MPICH wheel) or use a system MPI") from exc
    return MPI


def mpi_type(dtype: Any) -> Any:
    """The MPI datatype of a numpy float dtype."""
    MPI = require_mpi()
    return {np.dtype(np.float32): MPI.FLOAT, np.dtype(np.float64): MPI.DOUBLE}[np.dtype(dtype)]


def check_comm(comm: Any) -> Any:
    """comm as an mpi4py intracommunicator, or a TypeError naming the argument."""
    MPI = require_mpi()
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm: expected an mpi4py intracommunicator such as MPI.COMM_WORLD, got {comm!r}")
    return comm


def block(n_rows: int, rank: int, size: int) -> slice:
    """Rank `rank`'s contiguous block of n_rows rows split over `size` ranks (the first
    n_rows % size ranks get one row more)."""
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


@contextmanager
def abort_on_error(comm: Any) -> Iterator[None]:
    """An exception on one rank of a job with several ranks prints that rank's traceback and
    aborts the whole job (MPI_Abort), instead of leaving the other ranks waiting in a collective
    for ever. With one rank the exception propagates as usual."""
    try:
        yield
    except BaseException as exc:
        if comm.Get_size() == 1 or isinstance(exc, SystemExit) and not exc.code:
            raise
        sys.stderr.write(f"deltaprop.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed; "
                         "aborting the job:\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        sys.stderr.flush()
        comm.Abort(1)
        raise  # not reached: Abort ends the process
