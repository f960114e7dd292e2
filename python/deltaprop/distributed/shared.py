"""Ranks on one machine reading each other's buffers: an MPI shared-memory window.

Each rank of the communicator owns one byte buffer of the window, and every rank can read every
other's in place (MPI_Win_allocate_shared). Used when all ranks share one node, so that the
parameter-sized sums and parameters of a step are read where they were written instead of being
copied through MPI messages (which on shared memory cost a copy or two of each byte).
"""
from __future__ import annotations

from typing import Any, List

import numpy as np

from .mpi import require_mpi

__all__ = ["SharedWindow", "on_one_node"]


def on_one_node(comm: Any) -> bool:
    """Whether every rank of `comm` shares one node's memory (the same answer on every rank)."""
    MPI = require_mpi()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return node.Get_size() == comm.Get_size()
    finally:
        node.Free()


class SharedWindow:
    """`nbytes` per rank in one shared window (collective: every rank of comm makes it at once).
    `buffer(r)` is rank r's bytes; `fence()` makes every rank's writes before it visible to
    every rank's reads after it; `free()` (collective) gives the memory back."""

    def __init__(self, comm: Any, nbytes: int):
        MPI = require_mpi()
        self.comm, self.nbytes = comm, int(nbytes)
        self.win = MPI.Win.Allocate_shared(self.nbytes, 1, comm=comm)
        self.win.Lock_all(MPI.MODE_NOCHECK)  # a passive epoch for the whole life: Sync needs one
        self._buffers: List[np.ndarray] = []
        for r in range(comm.Get_size()):
            memory, _ = self.win.Shared_query(r)
            self._buffers.append(np.frombuffer(memory, np.uint8)[:self.nbytes])

    def buffer(self, rank: int) -> np.ndarray:
        return self._buffers[rank]

    def fence(self) -> None:
        self.win.Sync()
        self.comm.Barrier()
        self.win.Sync()

    def free(self) -> None:
        self._buffers = []
        self.win.Unlock_all()
        self.win.Free()
