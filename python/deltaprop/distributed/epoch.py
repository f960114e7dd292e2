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
EXCHANGE_EVERY = 32  # batches whose straddling rows are exchanged at once


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
        starts = list(range(0, self.n, batch_size))
        for g in range(0, len(starts), EXCHANGE_EVERY):
            plans = [_Plan(self, order, r0, min(r0 + batch_size, self.n)) for r0 in starts[g:g + EXCHANGE_EVERY]]
            if self.deterministic:
                received = self._exchange_rows(plans)
                results = [self._deterministic_step(network, plan, rows, config) for plan, rows in zip(plans, received)]
            else:
                results = [self._allreduce_step(network, plan, config) for plan in plans]
            for batch_loss, batch_mass in results:
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
    def _allreduce_step(self, network: Network, plan: "_Plan", config: Any) -> Tuple[float, float]:
        from mpi4py import MPI
        mine = plan.ids[plan.owner == self.rank] - self.offsets[self.rank]
        grad, loss_mass, mass = self._gradient_sum(network, self._rows(mine))
        self.comm.Allreduce(MPI.IN_PLACE, [grad, self.mpi_type(grad.dtype)], op=MPI.SUM)  # in place: no copy
        sums = np.array([loss_mass, mass])
        self.comm.Allreduce(MPI.IN_PLACE, [sums, MPI.DOUBLE], op=MPI.SUM)
        return self._apply(network, grad, float(sums[0]), float(sums[1]), config)

    # ------------------------------------------------------------------ deterministic mode
    def _deterministic_step(self, network: Network, plan: "_Plan", received: List[Any],
                            config: Any) -> Tuple[float, float]:
        from mpi4py import MPI
        m, b, k, p, rank = self.micro, plan.b, plan.k, self.size, self.rank
        first = plan.first
        a, e = int(first[rank]), int(first[rank + 1])
        batch = self._batch_rows(plan, received, min(a * m, b), min(e * m, b))
        stats = np.zeros((e - a, 2))  # per own micro-batch: loss sum, mass

        def leaf(j: int) -> np.ndarray:
            lo, hi = (j - a) * m, min((j - a + 1) * m, b - a * m)
            grad, stats[j - a, 0], stats[j - a, 1] = self._gradient_sum(network, TrainingData(
                *(None if x is None else x[lo:hi] for x in batch)))
            return grad

        mine = {node: subtree_sum(node, leaf) for node in cover(a, e, k)}
        nodes = [cover(int(first[r]), int(first[r + 1]), k) for r in range(p)]
        n_params, dtype = network.num_params, network.dtype
        bounds = [s * n_params // p for s in range(p + 1)]
        seg = [bounds[s + 1] - bounds[s] for s in range(p)]
        # One Alltoallv, in bytes: to rank s the segment s of each own subtree sum, then the
        # own micro-batches' (loss sum, mass), so that every rank gets every micro-batch's stats.
        own_stats = stats.reshape(-1).view(np.uint8)
        send = np.concatenate([self._message(mine, nodes[rank], bounds, s, own_stats) for s in range(p)])
        send_counts = [len(nodes[rank]) * seg[s] * dtype.itemsize + own_stats.size for s in range(p)]
        recv_counts = [len(nodes[r]) * seg[rank] * dtype.itemsize + 16 * int(first[r + 1] - first[r])
                       for r in range(p)]
        recv = np.empty(sum(recv_counts), np.uint8)
        self.comm.Alltoallv([send, (send_counts, _displacements(send_counts)), MPI.BYTE],
                            [recv, (recv_counts, _displacements(recv_counts)), MPI.BYTE])
        parts, all_stats, at = {}, [], 0
        for r in range(p):
            for node in nodes[r]:
                parts[node] = recv[at:at + seg[rank] * dtype.itemsize].view(dtype)
                at += seg[rank] * dtype.itemsize
            size = 16 * int(first[r + 1] - first[r])
            all_stats.append(recv[at:at + size].view(np.float64).reshape(-1, 2))
            at += size
        segment = combine(parts, k) if k else np.zeros(seg[rank], dtype)
        grad = np.empty(n_params, dtype)
        self.comm.Allgatherv([segment, self.mpi_type(dtype)], [grad, (seg, bounds[:-1]), self.mpi_type(dtype)])
        loss_mass = mass = 0.0
        for row in np.concatenate(all_stats):  # in micro-batch order on every rank
            loss_mass += float(row[0])
            mass += float(row[1])
        return self._apply(network, grad, loss_mass, mass, config)

    @staticmethod
    def _message(mine: Any, nodes: List[Any], bounds: List[int], s: int, own_stats: np.ndarray) -> np.ndarray:
        pieces = [mine[node][bounds[s]:bounds[s + 1]].view(np.uint8) for node in nodes]
        return np.concatenate(pieces + [own_stats]) if pieces else own_stats

    def _exchange_rows(self, plans: List["_Plan"]) -> List[List[Any]]:
        """For each batch, the rows this rank needs from each other rank (the foreign rows of the
        micro-batches it computes): one exchange for a group of batches, not one per step."""
        if not any(plan.foreign.any() for plan in plans):  # the same answer on every rank
            return [[None] * self.size for _ in plans]
        rank = self.rank
        outgoing = []
        for dest in range(self.size):
            parcel = []
            for plan in plans:
                rows = plan.ids[plan.foreign & (plan.owner == rank) & (plan.computer == dest)] - self.offsets[rank]
                parcel.append(tuple(None if x is None else x[rows] for x in self.local) if rows.size else None)
            outgoing.append(parcel)
        incoming = self.comm.alltoall(outgoing)
        return [[incoming[src][i] for src in range(self.size)] for i in range(len(plans))]

    def _batch_rows(self, plan: "_Plan", received: List[Any], lo: int, hi: int) -> List[Optional[np.ndarray]]:
        """The rows of positions [lo, hi) of the batch (this rank's micro-batches), in position
        order: its own rows, and those of straddling micro-batches from the ranks holding them."""
        rank, owner = self.rank, plan.owner[lo:hi]
        columns: List[Optional[np.ndarray]] = []
        for i, local in enumerate(self.local):
            if local is None:
                columns.append(None)
                continue
            here = owner == rank
            if here.all():
                columns.append(local[plan.ids[lo:hi] - self.offsets[rank]])
                continue
            out = np.empty((hi - lo,) + local.shape[1:], local.dtype)
            out[here] = local[plan.ids[lo:hi][here] - self.offsets[rank]]
            for src in range(self.size):
                if received[src] is not None:
                    out[owner == src] = received[src][i]
            columns.append(out)
        return columns


class _Plan:
    """One global batch: its row ids (sorted), the rank holding each, and in deterministic mode
    the rank computing each row's micro-batch. Micro-batch j is computed by the rank holding its
    middle row (the most of its rows, so the work is shared evenly); leaves [first[r],
    first[r + 1]) by rank r: contiguous, as owners grow with the row id."""

    def __init__(self, epoch: DataParallelEpoch, order: Optional[np.ndarray], r0: int, r1: int):
        positions = np.arange(r0, r1, dtype=np.int64)
        self.ids = np.sort(positions if order is None else order[positions])
        self.owner = np.searchsorted(epoch.offsets, self.ids, side="right") - 1
        m = epoch.micro
        self.b = b = r1 - r0
        self.k = k = -(-b // m)
        starts = np.arange(k) * m
        leaf_computer = self.owner[(starts + np.minimum(starts + m, b)) // 2]
        self.computer = leaf_computer[np.arange(b) // m]
        self.foreign = self.owner != self.computer
        self.first = np.searchsorted(leaf_computer, np.arange(epoch.size + 1), side="left")


def _l2_penalty(network: Network, config: Any, mass: float) -> float:
    """l2/2 · Σ‖W‖² of the weights before the step (l2 over the batch's mass when per sample)."""
    l2 = float(config.l2)
    if l2 == 0:
        return 0.0
    l2 = float(network.dtype.type(l2 / mass if config.l2_per_sample else l2))
    return 0.5 * l2 * sum(float(np.square(layer.W, dtype=np.float64).sum()) for layer in network.layers)


def _displacements(counts: List[int]) -> List[int]:
    return [int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]])] if counts else []
