"""Training progress for `fit(verbose=True)` and the command line: a tqdm bar over the epochs
showing the latest loss, validation metrics and samples/s, or one plain line per epoch when tqdm
is not installed. Shown only on a terminal (or in a notebook): a log file or a pipe stays quiet."""
from __future__ import annotations

import functools
import sys
from typing import Any, Optional, TextIO

from .history import History

__all__ = ["EpochProgress", "describe_epoch", "is_interactive"]


def is_interactive(stream: Any) -> bool:
    """True when `stream` is a terminal, or when running inside a Jupyter kernel."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    return "ipykernel" in sys.modules


def describe_epoch(history: History, samples_per_sec: float) -> str:
    """The latest epoch's metrics as text: "loss 0.1234  val_loss …  val_acc …  12,345 samples/s"."""
    parts = [f"loss {history.train_loss[-1]:.4f}"] if history.train_loss else []
    if history.val_loss:
        parts.append(f"val_loss {history.val_loss[-1]:.4f}")
    if history.val_accuracy:
        parts.append(f"val_acc {history.val_accuracy[-1]:.4f}")
    parts.append(f"{samples_per_sec:,.0f} samples/s")
    return "  ".join(parts)


@functools.lru_cache(maxsize=None)
def _load_tqdm() -> Any:
    """tqdm's bar class, or None; looked up once (a failed import is not cached by Python, and
    every fit makes a reporter)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    """Reports each finished epoch of a run of `epochs` epochs.

    enabled: False gives a silent reporter (verbose=False). stream: where to write (default
    sys.stderr, looked up at construction); nothing is written unless it is interactive.
    use_tqdm: None picks tqdm when installed; False forces the plain line per epoch.
    """

    def __init__(self, epochs: int, enabled: bool = True, stream: Optional[TextIO] = None,
                 use_tqdm: Optional[bool] = None):
        self.epochs = epochs
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(enabled) and is_interactive(self.stream)
        tqdm = _load_tqdm() if self.enabled and use_tqdm is not False else None
        self._bar = None
        if self.enabled and tqdm is not None:
            self._bar = tqdm(total=epochs, unit="epoch", file=self.stream, dynamic_ncols=True,
                             leave=True, desc="training")

    def update(self, history: History, samples_per_sec: float) -> None:
        """Called after each epoch with the History so far and the running samples/s."""
        if not self.enabled:
            return
        text = describe_epoch(history, samples_per_sec)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1)
        else:
            print(f"epoch {history.epochs}/{self.epochs}  {text}", file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar (safe to call more than once)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "EpochProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
