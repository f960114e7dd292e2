"""The training state of a model: what decides its next epoch, kept between fits.

`TrainingState` holds, as plain values: epochs done, rows visited, the shuffling RNG's state,
the schedule's state, the optimizer's description, the History so far and early stopping's
state (with its best weights). The driver captures it after every epoch; `MLP.save` writes it
with the model (io.py keeps it as JSON text and one array), so that `fit(resume=path)` replays
an interrupted run bit for bit and `fit(warm_start=True)` continues where the last fit ended.
Resuming (`resume`) lives here too: it reads a checkpoint back into a network and this state.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..callbacks import EarlyStopping
from ..history import History
from ..io import read_model
from ..network import Network

if TYPE_CHECKING:
    from .driver import EpochDriver

__all__ = ["TrainingState"]


class TrainingState:
    """record: the JSON-able state ("best_params" an array when early stopping kept one);
    history: the History of the latest fit (also when Ctrl-C stopped it)."""

    def __init__(self, record: Optional[Dict[str, Any]] = None):
        self.record: Dict[str, Any] = dict(record or {})
        self.history: Optional[History] = None

    @property
    def epoch(self) -> int:
        """Epochs trained so far."""
        return int(self.record.get("epoch", 0))

    def __bool__(self) -> bool:
        return bool(self.record)

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.record)

    def capture(self, driver: "EpochDriver") -> None:
        """Record the driver's state after an epoch."""
        record: Dict[str, Any] = {
            "epoch": driver.epoch, "samples_seen": driver.samples_seen,
            "schedule": driver.schedule.state_dict(), "optimizer": driver.optimizer.describe(),
            "history": driver.history.state_dict(),
        }
        if hasattr(driver.order, "state_dict"):
            record["rng"] = driver.order.state_dict()
        early = _early_stopping(driver)
        if early is not None:
            record["early_stopping"] = early.state_dict()
            if early.best_params is not None:
                record["best_params"] = early.best_params
        self.record = record
        self.history = driver.history

    def apply(self, driver: "EpochDriver", with_history: bool) -> None:
        """Continue from this state: counters, RNG, schedule, early stopping (and the History
        when resuming an interrupted run)."""
        record = self.record
        try:
            driver.epoch = int(record.get("epoch", 0))
            driver.samples_seen = int(record.get("samples_seen", 0))
            if record.get("rng") and hasattr(driver.order, "load_state_dict"):
                driver.order.load_state_dict(record["rng"])
            if record.get("schedule"):
                driver.schedule.load_state_dict(record["schedule"])
            early = _early_stopping(driver)
            if early is not None and record.get("early_stopping"):
                early.load_state_dict(record["early_stopping"], record.get("best_params"))
            if with_history and record.get("history"):
                driver.history.load_state_dict(record["history"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"resume: the saved training state does not fit this run ({exc})") from exc

    def resume(self, network: Network, path: Any) -> None:
        """Load the checkpoint at `path` into `network` (weights and optimizer state) and into
        this state; the file's architecture must be the network's."""
        saved = read_model(path)
        if not saved.network.same_architecture(network):
            raise ValueError(f"resume: {os.fspath(path)!r} holds a different model ({saved.network.describe()}) "
                             f"than this one ({network.describe()})")
        network.set_params(saved.network.get_params())
        network.set_optimizer_state(saved.network.optimizer_state())
        self.record = dict(saved.training or {})


def _early_stopping(driver: "EpochDriver") -> Optional[EarlyStopping]:
    return next((rule for rule in driver.stop_rules if isinstance(rule, EarlyStopping)), None)
