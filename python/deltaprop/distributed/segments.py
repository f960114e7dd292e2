"""The parameter segments of data-parallel training and the two ways they move between ranks.

Segment s, the parameters [bounds[s], bounds[s + 1]), is finished by rank s: it adds up the
ranks' parts of it (`reduce_scatter`), and then every rank receives every finished segment
(`allgather`). Where all ranks share one node, a rank reads the others' parts in place from a
shared-memory window (shared.py): no message, no copy for the sums, one copy per byte for the
gathered segments. Elsewhere each move is one MPI Alltoallv, each rank sending each other rank
only what that rank needs: on shared memory MPICH's Allgatherv and Allreduce of a few MB take
about twice as long as an Alltoallv moving the same bytes (a [784, 512, 512, 10] network, 2
ranks: Allgatherv of the 1.3 MB halves 0.38 ms, Alltoallv 0.15-0.2 ms; Allreduce of 2.7 MB
0.7 ms). Counts, displacements and buffers are made once and reused every step.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .mpi import mpi_type
from .shared import SharedWindow, on_one_node

__all__ = ["Segments"]

_ALIGN = 64  # bytes: each rank's regions of the window start on a cache line


def _aligned(nbytes: int) -> int:
    return -(-int(nbytes) // _ALIGN) * _ALIGN


class Segments:
    """The split of `n_params` parameters of `dtype` over the ranks of `comm`; `shared`: read
    other ranks' buffers in place when every rank is on this node. Collective: every rank makes
    it, and calls every method, at the same point of the run."""

    def __init__(self, comm: Any, n_params: int, dtype: Any, shared: bool = True):
        self.comm, self.dtype = comm, np.dtype(dtype)
        p, rank = comm.Get_size(), comm.Get_rank()
        self.rank, self._alone = rank, p == 1
        self.bounds = np.array([s * n_params // p for s in range(p + 1)], np.int64)
        seg = np.diff(self.bounds).tolist()
        self.start, self.stop = int(self.bounds[rank]), int(self.bounds[rank + 1])
        self.size = seg[rank]
        self.shared = p > 1 and shared and on_one_node(comm)
        # The window per rank: [its finished segment for allgather | what it sends]; grown as
        # the sends need (every rank asks for the same size, so all grow together).
        self._window: Optional[SharedWindow] = None
        self._gather_bytes = _aligned(max(seg) * self.dtype.itemsize)
        self._send_bytes = 0
        self._buffers: dict = {}
        starts = self.bounds[:-1].tolist()
        others = [r for r in range(p) if r != rank]
        self._type = mpi_type(self.dtype)
        # allgather: this rank's segment to every other rank; segment r arrives at its place.
        self._gather_send = ([0 if r == rank else seg[rank] for r in range(p)], [0] * p)
        self._gather_recv = ([0 if r == rank else seg[r] for r in range(p)], starts)
        # reduce_scatter: segment s of this rank's vector to rank s; the other ranks' parts of
        # this rank's segment arrive one after the other, in rank order.
        self._scatter_send = ([0 if s == rank else seg[s] for s in range(p)], starts)
        recv_displs = [0] * p
        for i, r in enumerate(others):
            recv_displs[r] = i * seg[rank]
        self._scatter_recv = ([0 if r == rank else seg[rank] for r in range(p)], recv_displs)
        self._received = np.empty(0 if self.shared else len(others) * seg[rank], self.dtype)

    def mine(self, vector: np.ndarray) -> np.ndarray:
        """This rank's segment of a parameter-sized vector (a view)."""
        return vector[self.start:self.stop]

    # ------------------------------------------------------------------ what a rank sends
    def send_buffer(self, needs: Sequence[int], dtype: Any) -> np.ndarray:
        """A buffer of needs[rank] bytes (as `dtype`) for what this rank sends this step, free to
        write now; needs: every rank's bytes (the same list on every rank). In the shared window
        where there is one: call `publish` after writing, then read other ranks' with `sent_by`."""
        nbytes = int(needs[self.rank])
        if not self.shared:
            buffer = self._buffers.get("send")
            if buffer is None or buffer.size < nbytes:
                buffer = self._buffers["send"] = np.empty(nbytes, np.uint8)
            return buffer[:nbytes].view(dtype)
        if self._window is not None:
            self._window.fence()  # every rank is done reading what this rank sent last step
        if self._window is None or max(needs) > self._send_bytes:
            self.close()
            self._send_bytes = _aligned(max(needs))
            self._window = SharedWindow(self.comm, self._gather_bytes + self._send_bytes)
        return self._window.buffer(self.rank)[self._gather_bytes:self._gather_bytes + nbytes].view(dtype)

    def publish(self) -> None:
        """Shared window: what every rank wrote into its send buffer is readable by all from here."""
        if self.shared:
            self._window.fence()

    def sent_by(self, rank: int) -> np.ndarray:
        """Shared window: rank `rank`'s send buffer (bytes, read only), after `publish`."""
        return self._window.buffer(rank)[self._gather_bytes:]

    def close(self) -> None:
        """Give the shared window back (collective); the next send_buffer makes a new one."""
        if self._window is not None:
            self._window.free()
            self._window, self._send_bytes = None, 0

    # ------------------------------------------------------------------ the two moves
    def gradient_buffer(self) -> np.ndarray:
        """A parameter-sized vector to compute this rank's gradient sum into, then pass to
        reduce_scatter (in the shared window where there is one: the others read it in place)."""
        n = int(self.bounds[-1])
        return self.send_buffer([n * self.dtype.itemsize] * (len(self.bounds) - 1), self.dtype)

    def reduce_scatter(self, vector: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """This rank's segment of the sum of every rank's `vector` (from gradient_buffer) as two
        terms (a, b): its own part with the other ranks' parts added in rank order, all but the
        last (in vector's segment, in place), and that last one (None with one rank) — so that
        the last addition can be fused with the update that reads the sum."""
        segment = self.mine(vector)
        if self._alone:
            return segment, None
        *first, last = self._parts(vector)
        for part in first:
            segment += part
        return segment, last

    def allgather(self, vector: np.ndarray) -> None:
        """Every rank's segment of `vector` (parameter-sized, its own segment filled) from that rank."""
        if self._alone:
            return
        if not self.shared:
            self.comm.Alltoallv([self.mine(vector), self._gather_send, self._type],
                                [vector, self._gather_recv, self._type])
            return
        itemsize = self.dtype.itemsize
        # Nobody reads this rank's gather region between the last step's copies and the fence
        # that send_buffer made this step, so it is free to write.
        self._window.buffer(self.rank)[:self.size * itemsize].view(self.dtype)[:] = self.mine(vector)
        self._window.fence()
        for r in range(len(self.bounds) - 1):
            if r != self.rank:
                lo, hi = int(self.bounds[r]), int(self.bounds[r + 1])
                vector[lo:hi] = self._window.buffer(r)[:(hi - lo) * itemsize].view(self.dtype)

    def _parts(self, vector: np.ndarray) -> List[np.ndarray]:
        """The other ranks' parts of this rank's segment, in rank order."""
        p, n = len(self.bounds) - 1, self.size
        if self.shared:
            self.publish()
            lo, hi = self.start * self.dtype.itemsize, self.stop * self.dtype.itemsize
            return [self.sent_by(r)[lo:hi].view(self.dtype) for r in range(p) if r != self.rank]
        self.comm.Alltoallv([vector, self._scatter_send, self._type],
                            [self._received, self._scatter_recv, self._type])
        return [self._received[i * n:(i + 1) * n] for i in range(p - 1)]
