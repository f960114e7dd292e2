"""One epoch of synchronous data-parallel training: the `run_epoch` of the epoch driver.

Every rank holds a contiguous block of the global rows (`offsets[r]:offsets[r + 1]`) and walks
the same global batches: slices of one permutation of the global row ids (the driver's order),
each batch's rows sorted by row id. Per batch every rank computes the gradient of its rows,
the ranks add them up, and every rank applies the same update to its replica.

Deterministic mode: the batch is cut into micro-batches of `micro_batch` rows by position,
each micro-batch's gradient sum is computed whole by one rank (the one holding its middle row;
the few rows of a micro-batch that straddles two blocks are sent to it), and the sums are
added in the fixed tree of tree.py: each rank sums its whole subtrees and hands parameter
segment s of each to rank s, which finishes segment s in the tree. Nothing depends on the
number of ranks, so any number of ranks gives the same bits. Fast mode: every rank computes an
equal share of the batch's positions in one gradient call (the mass folded into
backpropagation), and rank s adds up segment s of the ranks' sums: fewer bytes and no tree,
but the sum's rounding depends on the rank count.

The segments move as segments.py says: in place through a shared-memory window when all ranks
share a node, by Alltoallv otherwise. Then with plain SGD (an update element by element) each
rank updates its own segment of the parameters alone, making the segment's last addition as it
goes (apply_gradient_sum_part), and the ranks gather the updated parameters; any other
optimizer gathers the whole gradient sum and every rank updates all parameters
(apply_gradient_sum). Either way every rank ends with the same bits. Per step a rank makes one
core call for its gradient sums (Network.tree_gradient, straight into the layout it sends) and
one for the update; the flat buffers are made once and reused, so a step allocates no
parameter-sized array.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..network import Network
from ..training.driver import TrainingData
from .segments import Segments
from .tree import Node, combine_halves, cover

__all__ = ["DataParallelEpoch", "MICRO_BATCH"]

MICRO_BATCH = 64  # rows per micro-batch: fixed, since it decides the summation order
EXCHANGE_EVERY = 32  # batches whose straddling rows are exchanged at once
SHARED_MEMORY = True  # ranks on one node read each other's sums in place (segments.py)


class DataParallelEpoch:
    """run_epoch for the driver: `local` is this rank's block of rows, offsets (size + 1,) the
    first global row of every rank's block; the driver's `data` argument (with the global row
    count) is not read. Every step works in flat buffers made once (`_buffer`) and reused."""

    def __init__(self, comm: Any, local: TrainingData, offsets: np.ndarray, deterministic: bool = True,
                 micro_batch: int = MICRO_BATCH):
        self.comm, self.local = comm, local
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.n = int(self.offsets[-1])
        self.deterministic, self.micro = deterministic, micro_batch
        self._buffers: Dict[str, np.ndarray] = {}
        self._split: Optional[Segments] = None

    def __call__(self, network: Network, data: Any, order: Optional[np.ndarray], batch_size: int,
                 config: Any) -> float:
        total = mass = 0.0
        self._loss_here = 0.0  # fast mode without weights: this rank's loss sums, added up at the end
        starts = list(range(0, self.n, batch_size))
        step = self._deterministic_step if self.deterministic else self._allreduce_step
        for g in range(0, len(starts), EXCHANGE_EVERY):
            plans = [_Plan(self, order, r0, min(r0 + batch_size, self.n)) for r0 in starts[g:g + EXCHANGE_EVERY]]
            received = self._exchange_rows(plans)
            results = [step(network, plan, rows, config) for plan, rows in zip(plans, received)]
            for batch_loss, batch_mass in results:
                total += batch_loss * batch_mass
                mass += batch_mass
        if self._split is not None:  # every rank gets here (an error on one rank aborts the job)
            self._split.close()
        if not self.deterministic and self.local.weights is None:
            total += self.comm.allreduce(self._loss_here)
        return total / mass if mass > 0 else 0.0

    def _buffer(self, name: str, size: int, dtype: Any) -> np.ndarray:
        """A flat array of `size` values kept between steps (made again only to grow)."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(size, dtype)
        return buffer[:size]

    def _segments(self, network: Network) -> Segments:
        split = self._split
        if split is None or split.bounds[-1] != network.num_params or split.dtype != network.dtype:
            if split is not None:
                split.close()
            split = self._split = Segments(self.comm, network.num_params, network.dtype, SHARED_MEMORY)
        return split

    # ------------------------------------------------------------------ the update
    def _update(self, network: Network, grad: np.ndarray, terms: Tuple[np.ndarray, Optional[np.ndarray]],
                loss_mass: float, mass: float, config: Any) -> Tuple[float, float]:
        """The step from the batch's gradient sum, whose segment for this rank is terms[0] +
        terms[1] (its last addition not yet made; terms[1] None: terms[0] is the sum); `grad` is
        the parameter-sized buffer whose segment may receive it. An element-by-element update
        (plain SGD) is applied by each rank to its segment alone, making that addition as it
        goes, and the parameters are exchanged (half a pass over them per rank with 2 ranks, no
        gradient exchange); any other gathers the whole sum first and updates on every rank."""
        if mass <= 0:  # every row of the batch weighs zero: no step, as a zero-weight batch gives nothing
            return 0.0, 0.0
        loss = loss_mass / mass + _l2_penalty(network, config, mass)  # the loss as a train step reports it
        segments = self._segments(network)
        if network.apply_gradient_sum_part(terms[0], segments.start, config, mass, terms[1]):
            with network.writable_params() as params:
                segments.allgather(params)
        else:
            segment = segments.mine(grad)
            if terms[1] is not None:
                np.add(terms[0], terms[1], out=segment)
            elif not np.may_share_memory(terms[0], segment):  # else it is the segment itself
                np.copyto(segment, terms[0])
            segments.allgather(grad)
            network.apply_gradient_sum(grad, config, mass)  # grad / mass, in place
        return loss, mass

    def _tree_gradient(self, network: Network, rows: List[Optional[np.ndarray]], first: int, total: int,
                       micro: int, out: np.ndarray, layout: Tuple[Any, Any] = (None, None),
                       mass_in_backprop: bool = False) -> np.ndarray:
        """The gradient sums of micro-batches first, first + 1, ... (their rows: X, labels,
        values, weights) added in the tree over `total` micro-batches, into `out` (one core
        call); returns their (loss sum, mass) rows, with the masses computed as they always
        were (rows, or the float64 sum of the weights)."""
        X, labels, values, weights = rows
        n = X.shape[0]
        leaves = -(-n // micro)
        stats = self._buffer("stats", 2 * leaves, np.float64).reshape(leaves, 2)
        if weights is None:
            masses = np.full(leaves, float(micro))
            masses[-1] = float(n - (leaves - 1) * micro)
        else:
            masses = np.array([float(np.sum(weights[i:i + micro], dtype=np.float64)) for i in range(0, n, micro)])
        network.tree_gradient(X, labels, values, weights, masses, micro, first, total, out, stats, *layout,
                              mass_in_backprop=mass_in_backprop)
        return stats

    # ------------------------------------------------------------------ fast mode
    def _allreduce_step(self, network: Network, plan: "_Plan", received: List[Any],
                        config: Any) -> Tuple[float, float]:
        """This rank's equal share of the batch's positions as one gradient call, the gradient
        sums added up across ranks (segments.py: each rank adds up its segment, in place in the
        reused buffer), then the update. Without weights the batch's mass is its row count,
        known everywhere, and the loss sums are added up across ranks once per epoch; with
        weights an Allreduce adds up (loss sum, mass)."""
        from mpi4py import MPI
        lo, hi = int(plan.cuts[self.rank]), int(plan.cuts[self.rank + 1])
        grad = self._segments(network).gradient_buffer()
        sums = self._buffer("sums", 2, np.float64)  # loss sum, mass
        if lo == hi:
            grad.fill(0)
            sums.fill(0)
        else:  # the share as one micro-batch: its gradient sum, the mass folded into backprop
            rows = self._batch_rows(plan, received, lo, hi)
            sums[:] = self._tree_gradient(network, rows, 0, 1, hi - lo, grad, mass_in_backprop=True)[0]
        terms = self._segments(network).reduce_scatter(grad)
        if self.local.weights is None:  # the same on every rank (DataParallel.common_weights)
            self._loss_here += float(sums[0])
            return self._update(network, grad, terms, 0.0, float(plan.b), config)
        self.comm.Allreduce(MPI.IN_PLACE, [sums, MPI.DOUBLE], op=MPI.SUM)
        return self._update(network, grad, terms, float(sums[0]), float(sums[1]), config)

    # ------------------------------------------------------------------ deterministic mode
    def _deterministic_step(self, network: Network, plan: "_Plan", received: List[Any],
                            config: Any) -> Tuple[float, float]:
        m, b, k, p, rank = self.micro, plan.b, plan.k, self.size, self.rank
        first = plan.first
        a, e = int(first[rank]), int(first[rank + 1])
        n_params, dtype = network.num_params, network.dtype
        grad = self._buffer("grad", n_params, dtype)
        if p == 1:  # the whole tree on this rank: its root is the batch's gradient sum
            stats = self._tree_gradient(network, self._batch_rows(plan, received, 0, b), 0, k, m, grad)
            return self._update(network, grad, (grad, None), *_totals(stats), config)
        nodes = [_cover(int(first[r]), int(first[r + 1]), k) for r in range(p)]
        own, leaves, size = len(nodes[rank]), e - a, dtype.itemsize
        segments = self._segments(network)
        bounds = segments.bounds
        seg = np.diff(bounds)
        # What a rank sends, in bytes: for rank s the segment s of each own subtree sum, then the
        # own micro-batches' (loss sum, mass), so that every rank gets every micro-batch's stats.
        # The core writes the subtree sums straight into this layout; the stats go in the gaps.
        # It moves by one Alltoallv, or is read in place from the shared window (segments.py). A
        # rank's own group is not sent to itself: it is read where it lies.
        groups_of = [len(nodes[r]) * seg * size + 16 * int(first[r + 1] - first[r]) for r in range(p)]
        groups = groups_of[rank]
        places = np.concatenate([[0], np.cumsum(groups)[:-1]])
        send = segments.send_buffer([int(g.sum()) for g in groups_of], dtype)
        sent = send.view(np.uint8)
        if leaves:
            stats = self._tree_gradient(network, self._batch_rows(plan, received, a * m, min(e * m, b)), a, k, m,
                                        send, (bounds, places // size))
            own_stats = stats.reshape(-1).view(np.uint8)
            for s in range(p):
                at = int(places[s] + groups[s]) - own_stats.size
                sent[at:at + own_stats.size] = own_stats
        sources = self._sources(segments, sent, groups_of, places)
        parts: Dict[Node, np.ndarray] = {}
        all_stats = []
        for r, (source, start) in enumerate(sources):
            for node in nodes[r]:
                parts[node] = source[start:start + int(seg[rank]) * size].view(dtype)
                start += int(seg[rank]) * size
            count = 16 * int(first[r + 1] - first[r])
            all_stats.append(source[start:start + count].view(np.float64).reshape(-1, 2))
        segment = grad[bounds[rank]:bounds[rank + 1]]
        terms = combine_halves(parts, k, segment, lambda level: self._buffer(f"combine{level}", segment.size, dtype))
        return self._update(network, grad, terms, *_totals(np.concatenate(all_stats)), config)

    def _sources(self, segments: Segments, sent: np.ndarray, groups_of: List[np.ndarray],
                 places: np.ndarray) -> List[Tuple[np.ndarray, int]]:
        """For each rank r: where the group that r sends to this rank lies (bytes, offset)."""
        from mpi4py import MPI
        rank = self.rank
        if segments.shared:
            segments.publish()
            return [(sent, int(places[rank])) if r == rank else
                    (segments.sent_by(r), int(np.sum(groups_of[r][:rank]))) for r in range(self.size)]
        incoming = [int(groups_of[r][rank]) for r in range(self.size)]
        incoming[rank] = 0
        recv = self._buffer("recv", sum(incoming), np.uint8)
        send_counts = groups_of[rank].tolist()
        send_counts[rank] = 0
        displacements = _displacements(incoming)
        self.comm.Alltoallv([sent, (send_counts, places.tolist()), MPI.BYTE],
                            [recv, (incoming, displacements), MPI.BYTE])
        return [(sent, int(places[rank])) if r == rank else (recv, displacements[r]) for r in range(self.size)]

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
    """One global batch: its row ids (sorted), the rank holding each, and the rank computing
    each (rows it does not hold are sent to it). Deterministic mode: micro-batch j is computed by
    the rank holding its middle row (the most of its rows, so the work is shared evenly); leaves
    [first[r], first[r + 1]) by rank r: contiguous, as owners grow with the row id. Fast mode:
    rank r computes the positions [cuts[r], cuts[r + 1]), equal shares — the rows a rank holds
    vary from batch to batch (about ±8 of 128 for 256 rows over 2 even shards), and the step
    waits for the largest share."""

    def __init__(self, epoch: DataParallelEpoch, order: Optional[np.ndarray], r0: int, r1: int):
        self.ids = np.arange(r0, r1, dtype=np.int64) if order is None else np.sort(order[r0:r1])
        self.owner = np.searchsorted(epoch.offsets, self.ids, side="right") - 1
        m = epoch.micro
        self.b = b = r1 - r0
        self.k = k = -(-b // m)
        if not epoch.deterministic:
            p = epoch.size
            self.cuts = np.array([r * b // p for r in range(p + 1)], np.int64)
            self.computer = np.searchsorted(self.cuts, np.arange(b), side="right") - 1
            self.foreign = self.owner != self.computer
            return
        starts = np.arange(k) * m
        leaf_computer = self.owner[(starts + np.minimum(starts + m, b)) // 2]
        self.computer = leaf_computer[np.arange(b) // m]
        self.foreign = self.owner != self.computer
        self.first = np.searchsorted(leaf_computer, np.arange(epoch.size + 1), side="left")


@lru_cache(maxsize=1024)
def _cover(a: int, b: int, k: int) -> Tuple[Node, ...]:
    return tuple(cover(a, b, k))


def _totals(stats: np.ndarray) -> Tuple[float, float]:
    """(loss sum, mass) of a batch: its micro-batches' in micro-batch order, added one by one."""
    loss_mass = mass = 0.0
    for loss, weight in stats.tolist():
        loss_mass += loss
        mass += weight
    return loss_mass, mass


def _l2_penalty(network: Network, config: Any, mass: float) -> float:
    """l2/2 · Σ‖W‖² of the weights before the step (l2 over the batch's mass when per sample)."""
    l2 = float(config.l2)
    if l2 == 0:
        return 0.0
    l2 = float(network.dtype.type(l2 / mass if config.l2_per_sample else l2))
    return 0.5 * l2 * sum(float(np.square(layer.W, dtype=np.float64).sum()) for layer in network.layers)


def _displacements(counts: List[int]) -> List[int]:
    return [int(x) for x in np.concatenate([[0], np.cumsum(counts)[:-1]])] if counts else []
