"""One epoch of synchronous data-parallel training: the `run_epoch` of the epoch driver.

Every rank holds a contiguous block of the global rows (`offsets[r]:offsets[r + 1]`) and walks
the same global batches: slices of one permutation of the global row ids (the driver's order),
each batch's rows sorted by row id. Per batch every rank computes the gradient of its rows,
the ranks add them up, and every rank applies the same update to its replica.

Deterministic mode: the batch is cut into micro-batches of `micro_batch` rows by position,
each micro-batch's gradient sum is computed whole by one rank (the one holding its middle row;
the few rows of a micro-batch that straddles two blocks are sent to it), and the sums are
added in the fixed tree of tree.py: each rank sums its whole subtrees, sends parameter
segment s of each to rank s (Alltoallv), rank s finishes segment s in the tree, and an
Allgatherv gives every rank the whole sum. Nothing depends on the number of ranks, so any
number of ranks gives the same bits. Fast mode: each rank's rows in one gradient call and an
MPI Allreduce of the gradient: one collective, but the sum's rounding depends on the rank
count and on the MPI library's algorithm.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from ..network import Network
from ..training.driver import TrainingData
from .tree import combine, cover, subtree_sum

__all__ = ["DataParallelEpoch", "MICRO_BATCH"]

MICRO_BATCH = 64  # rows per micro-batch: fixed, since it decides the summation order


class DataParallelEpoch:
    """run_epoch for the driver: `local` is this rank's block of rows, offsets (size + 1,) the
    first global row of every rank's block; the driver's `data` argument (with the global row
    count) is not read."""

    def __init__(self, comm: Any, local: TrainingData, offsets: np.ndarray, deterministic: bool = True,
                 micro_batch: int = MICRO_BATCH):
        from .mpi import mpi_type
        self.comm, self.local = comm, local
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.n = int(self.offsets[-1])
        self.deterministic, self.micro = deterministic, micro_batch
        self.mpi_type = mpi_type

    def __call__(self, network: Network, data: Any, order: Optional[np.ndarray], batch_size: int,
                 config: Any) -> float:
        total = mass = 0.0
        for r0 in range(0, self.n, batch_size):
            positions = np.arange(r0, min(r0 + batch_size, self.n), dtype=np.int64)
            ids = np.sort(positions if order is None else order[positions])
            owner = np.searchsorted(self.offsets, ids, side="right") - 1
            step = self._deterministic_step if self.deterministic else self._allreduce_step
            batch_loss, batch_mass = step(network, ids, owner, config)
            total += batch_loss * batch_mass
            mass += batch_mass
        return total / mass if mass > 0 else 0.0

    # ------------------------------------------------------------------ the update
    def _apply(self, network: Network, grad_sum: np.ndarray, loss_mass: float, mass: float,
               config: Any) -> Tuple[float, float]:
        if mass <= 0:  # every row of the batch weighs zero: no step, as a zero-weight batch gives nothing
            return 0.0, 0.0
        grad_sum /= grad_sum.dtype.type(mass)
        loss = loss_mass / mass + _l2_penalty(network, config, mass)  # the loss as a train step reports it
        network.apply_gradient(grad_sum, config, mass)
        return loss, mass

    def _rows(self, local_rows: np.ndarray) -> TrainingData:
        return TrainingData(*(None if a is None else np.ascontiguousarray(a[local_rows]) for a in self.local))

    def _gradient_sum(self, network: Network, rows: TrainingData) -> Tuple[np.ndarray, float, float]:
        """(gradient sum, loss sum, mass) of some rows: loss_and_grad's means times the mass."""
        mass = float(rows.n) if rows.weights is None else float(np.sum(rows.weights, dtype=np.float64))
        if rows.n == 0 or mass <= 0:
            return np.zeros(network.num_params, dtype=network.dtype), 0.0, 0.0
        loss, grad = network.loss_and_grad(rows.X, rows.labels, rows.values, 0.0, rows.weights)
        grad *= grad.dtype.type(mass)
        return grad, loss * mass, mass

    # ------------------------------------------------------------------ fast mode
    def _allreduce_step(self, network: Network, ids: np.ndarray, owner: np.ndarray, config: Any) -> Tuple[float, float]:
        from mpi4py import MPI
        mine = ids[owner == self.rank] - self.offsets[self.rank]
        grad, loss_mass, mass = self._gradient_sum(network, self._rows(mine))
        self.comm.Allreduce(MPI.IN_PLACE, [grad, self.mpi_type(grad.dtype)], op=MPI.SUM)  # in place: no copy
        sums = np.array([loss_mass, mass])
        self.comm.Allreduce(MPI.IN_PLACE, [sums, MPI.DOUBLE], op=MPI.SUM)
        return self._apply(network, grad, float(sums[0]), float(sums[1]), config)

    # ------------------------------------------------------------------ deterministic mode
    def _deterministic_step(self, network: Network, ids: np.ndarray, owner: np.ndarray,
                            config: Any) -> Tuple[float, float]:
        from mpi4py import MPI
        m, b, p, rank = self.micro, ids.shape[0], self.size, self.rank
        k = -(-b // m)
        leaf_of = np.arange(b) // m
        # Micro-batch j is computed by the rank holding its middle row (the most of its rows, so
        # the work is shared evenly), leaves [first[r], first[r + 1]) by rank r: contiguous, as
        # owners grow with the row id.
        starts = np.arange(k) * m
        leaf_computer = owner[(starts + np.minimum(starts + m, b)) // 2]
        computer = leaf_computer[leaf_of]  # the rank that computes each row's micro-batch
        first = np.searchsorted(leaf_computer, np.arange(p + 1), side="left")
        a, e = int(first[rank]), int(first[rank + 1])
        batch = self._gather_rows(ids, owner, computer, min(a * m, b), min(e * m, b))
        stats = np.zeros((k, 2))  # per micro-batch: loss sum, mass; filled by its rank

        def leaf(j: int) -> np.ndarray:
            lo, hi = (j - a) * m, min((j - a + 1) * m, b - a * m)
            grad, stats[j, 0], stats[j, 1] = self._gradient_sum(network, TrainingData(
                *(None if x is None else x[lo:hi] for x in batch)))
            return grad

        mine = {node: subtree_sum(node, leaf) for node in cover(a, e, k)}
        nodes = [cover(int(first[r]), int(first[r + 1]), k) for r in range(p)]
        n_params = network.num_params
        bounds = [s * n_params // p for s in range(p + 1)]
        seg = [bounds[s + 1] - bounds[s] for s in range(p)]
        dtype, kind = network.dtype, self.mpi_type(network.dtype)
        send = np.concatenate([mine[node][bounds[s]:bounds[s + 1]] for s in range(p) for node in nodes[rank]]
                              or [np.zeros(0, dtype)])
        send_counts = [len(nodes[rank]) * seg[s] for s in range(p)]
        recv_counts = [len(nodes[r]) * seg[rank] for r in range(p)]
        recv = np.empty(sum(recv_counts), dtype)
        self.comm.Alltoallv([send, (send_counts, _displacements(send_counts)), kind],
                            [recv, (recv_counts, _displacements(recv_counts)), kind])
        parts, at = {}, 0
        for r in range(p):
            for node in nodes[r]:
                parts[node] = recv[at:at + seg[rank]]
                at += seg[rank]
        segment = combine(parts, k) if k else np.zeros(seg[rank], dtype)
        grad = np.empty(n_params, dtype)
        self.comm.Allgatherv([segment, kind], [grad, (seg, bounds[:-1]), kind])
        self.comm.Allreduce(MPI.IN_PLACE, [stats, MPI.DOUBLE], op=MPI.SUM)  # one nonzero term each: exact
        loss_mass = mass = 0.0
        for j in range(k):  # in micro-batch order on every rank
            loss_mass += float(stats[j, 0])
            mass += float(stats[j, 1])
        return self._apply(network, grad, loss_mass, mass, config)

    def _gather_rows(self, ids: np.ndarray, owner: np.ndarray, computer: np.ndarray, lo: int, hi: int
                     ) -> List[Optional[np.ndarray]]:
        """The rows of positions [lo, hi) of the batch (this rank's micro-batches), in position
        order: its own rows, and those of straddling micro-batches from the ranks holding them."""
        rank = self.rank
        foreign = owner != computer
        received: List[Any] = [None] * self.size
        if foreign.any():  # every rank sees the same batch, so all of them take this branch or none
            outgoing = []
            for dest in range(self.size):
                rows = ids[foreign & (owner == rank) & (computer == dest)] - self.offsets[rank]
                outgoing.append(tuple(None if x is None else x[rows] for x in self.local) if rows.size else None)
            received = self.comm.alltoall(outgoing)
        columns: List[Optional[np.ndarray]] = []
        for i, local in enumerate(self.local):
            if local is None:
                columns.append(None)
                continue
            out = np.empty((hi - lo,) + local.shape[1:], local.dtype)
            pos = np.arange(lo, hi)
            here = owner[lo:hi] == rank
            out[here] = local[ids[pos[here]] - self.offsets[rank]]
            for src in range(self.size):
                if received[src] is not None:
                    out[owner[lo:hi] == src] = received[src][i]
            columns.append(out)
        return columns


def _l2_penalty(network: Network, config: Any, mass: float) -> float:
    """l2/2 · Σ‖W‖² of the weights before the step (l2 over the batch's mass when per sample)."""
    l2 = float(config.l2)
    if l2 == 0:
        return 0.0
    l2 = float(network.dtype.type(l2 / mass if config.l2_per_sample else l2))
    return 0.5 * l2 * sum(float(np.square(layer.W, dtype=np.float64).sum()) for layer in network.layers)


def _displacements(counts: List[int]) -> List[int]:
    return [int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]])] if counts else []
