"""What `MLP.fit` returns: per-epoch metrics of a training run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List


@dataclass
class History:
    """Per-epoch training record.

    train_loss: mean training loss of each epoch (each batch's loss before its update, weighted by
    batch size, with the L2 term). val_loss / val_accuracy: on validation_data after each epoch
    (empty without validation data; val_accuracy stays empty for regression). lr: the learning
    rate of each epoch. best_epoch / stopped_epoch: set by early stopping (0 otherwise).
    interrupted: the run was stopped by KeyboardInterrupt at a batch boundary.
    """

    train_loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_accuracy: List[float] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    samples_per_sec: float = 0.0
    lr: List[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0
    interrupted: bool = False

    @property
    def history(self) -> dict:
        """The same record as a dict of lists (Keras-style access)."""
        return {"loss": list(self.train_loss), "val_loss": list(self.val_loss),
                "val_accuracy": list(self.val_accuracy)}

    def state_dict(self) -> Dict[str, Any]:
        """The per-epoch record as plain lists (saved in checkpoints)."""
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss),
                "val_accuracy": list(self.val_accuracy), "lr": list(self.lr), "epochs": self.epochs}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.train_loss = [float(v) for v in state["train_loss"]]
        self.val_loss = [float(v) for v in state["val_loss"]]
        self.val_accuracy = [float(v) for v in state["val_accuracy"]]
        self.lr = [float(v) for v in state["lr"]]
        self.epochs = int(state["epochs"])
