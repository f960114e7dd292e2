"""`DataParallel`: what `fit(comm=...)` changes in a training run, in one place.

Each rank passes its own rows; the run sees the global rows: the global row count (for the
data order, samples_seen and the schedules), rank 0's weights broadcast to every rank,
class_weight='balanced' from the global class counts, global validation scores, callbacks'
stop requests agreed by all ranks, checkpoints written by rank 0 alone, and a progress bar on
rank 0. Every decision the driver takes then comes out the same on every rank, so all of them
join every collective and no rank waits for ever.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..network import Network
from ..training.driver import TrainingData
from .epoch import DataParallelEpoch
from .mpi import check_comm, mpi_type, require_mpi

__all__ = ["DataParallel", "GlobalRows"]


class GlobalRows:
    """What the driver sees of the data: the global row count (the rows stay with each rank)."""

    def __init__(self, local: TrainingData, n: int):
        self.local, self.n = local, n


class DataParallel:
    """comm: an mpi4py intracommunicator; deterministic: the summation order of epoch.py
    (results independent of the rank count) or False for one sum of each rank's gradient."""

    def __init__(self, comm: Any, deterministic: Any = True):
        self.comm = check_comm(comm)
        if not isinstance(deterministic, bool):
            raise TypeError(f"deterministic: expected True or False, got {deterministic!r}")
        self.deterministic = deterministic
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    # ------------------------------------------------------------------ data
    def check_data(self, net: Network, X: Any, y: Any, names: Tuple[str, str] = ("X", "y")
                   ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """net.check_data, except that a rank may hold no rows at all."""
        if np.ndim(X) == 2 and np.shape(X)[0] == 0:
            if np.shape(X)[1] != net.sizes[0]:
                raise ValueError(f"{names[0]}: expected {net.sizes[0]} features (columns), got shape {np.shape(X)}")
            if np.shape(y)[:1] != (0,):
                raise ValueError(f"{names[1]}: expected 0 rows (one per row of {names[0]}), got shape {np.shape(y)}")
            X = np.zeros((0, net.sizes[0]), net.dtype)
            if net.loss == "cross_entropy" and np.ndim(y) == 1:
                return X, np.zeros(0, np.int64), None
            return X, None, np.zeros((0, net.sizes[-1]), net.dtype)
        return net.check_data(X, y, names)

    def agree(self, flag: bool, what: str) -> None:
        """Raise on every rank (never on some only) unless all ranks give the same flag."""
        flags = self.comm.allgather(bool(flag))
        if len(set(flags)) > 1:
            raise ValueError(f"{what}: give it on every rank or on none (given on ranks "
                             f"{[r for r, f in enumerate(flags) if f]} of {self.size})")

    def offsets(self, n_local: int) -> np.ndarray:
        """The first global row of each rank's block, and the global row count last."""
        return np.concatenate([[0], np.cumsum(self.comm.allgather(int(n_local)))]).astype(np.int64)

    def balanced_class_weight(self, labels: Optional[np.ndarray], classes: int) -> Dict[int, float]:
        """class_weight='balanced' over the global rows: {class: n / (classes present · count)}."""
        if labels is None:
            raise ValueError("class_weight: needs integer class labels (cross_entropy with 1-D y)")
        counts = np.bincount(labels, minlength=classes).astype(np.float64)
        self.comm.Allreduce(require_mpi().IN_PLACE, counts)
        n = counts.sum()
        return {c: float(n / (np.count_nonzero(counts) * counts[c])) if counts[c] > 0 else 0.0
                for c in range(classes)}

    def common_weights(self, weights: Optional[np.ndarray], n_local: int, dtype: Any) -> Optional[np.ndarray]:
        """Per-row weights on every rank as soon as one rank has them (ones where a rank has none)."""
        if any(self.comm.allgather(weights is not None)):
            return np.ones(n_local, dtype) if weights is None else weights
        return None

    def run_epoch(self, local: TrainingData) -> Tuple[DataParallelEpoch, GlobalRows]:
        offsets = self.offsets(local.n)
        if offsets[-1] == 0:
            raise ValueError("X: expected at least 1 row over all ranks, got 0")
        return DataParallelEpoch(self.comm, local, offsets, self.deterministic), GlobalRows(local, int(offsets[-1]))

    # ------------------------------------------------------------------ the run
    def broadcast(self, net: Network) -> None:
        """Rank 0's weights on every rank."""
        params = net.get_params()
        self.comm.Bcast([params, mpi_type(params.dtype)], root=0)
        net.set_params(params)

    def validation(self, net: Network, val: Tuple[np.ndarray, Any, Any]) -> Callable[[], Dict[str, float]]:
        """Scores over every rank's validation rows: each rank's sums, added in rank order."""
        n_local = int(val[0].shape[0])

        def scores() -> Dict[str, float]:
            local = net.evaluate(*val) if n_local else {}
            sums = [(n_local, local.get("loss", 0.0) * n_local, local.get("accuracy", 0.0) * n_local)]
            rows = loss = correct = 0.0
            for n, l, c in self.comm.allgather(sums[0]):
                rows, loss, correct = rows + n, loss + l, correct + c
            result = {"loss": loss / rows}
            if net.loss != "mse":
                result["accuracy"] = correct / rows
            return result

        return scores

    def callbacks(self, callbacks: List[Callable[[Any], Any]]) -> List[Callable[[Any], Any]]:
        """One callback running them all; a stop asked for on any rank stops every rank."""
        if not callbacks:
            return []

        def agreed(history: Any) -> bool:
            stop = False
            for callback in callbacks:
                try:
                    stop = bool(callback(history)) or stop
                except StopIteration:
                    stop = True
            return any(self.comm.allgather(stop))

        return [agreed]

    def save(self, save: Callable[[Any], None], path: Any) -> Callable[[], None]:
        """A checkpoint written by rank 0 alone (one file, no per-rank layout); the others wait
        until it is complete."""
        def checkpoint() -> None:
            if self.rank == 0:
                save(path)
            self.comm.Barrier()

        return checkpoint
