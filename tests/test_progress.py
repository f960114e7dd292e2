"""Progress reporting of fit(verbose=True): a tqdm bar on a terminal, a line per epoch without
tqdm, nothing when verbose=False or when stderr is not a terminal."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import progress
from deltaprop.history import History


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _history(epochs: int) -> History:
    h = History(train_loss=[1.0 / (e + 1) for e in range(epochs)], val_loss=[0.5] * epochs,
                val_accuracy=[0.75] * epochs)
    h.epochs = epochs
    return h


def test_describe_epoch_lists_metrics_and_rate():
    text = progress.describe_epoch(_history(2), 12345.6)
    assert text == "loss 0.5000  val_loss 0.5000  val_acc 0.7500  12,346 samples/s"


def test_plain_lines_without_tqdm():
    stream = FakeTerminal()
    bar = progress.EpochProgress(3, stream=stream, use_tqdm=False)
    for e in range(1, 4):
        bar.update(_history(e), 1000.0)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == [f"epoch {e}/3  loss {1.0 / e:.4f}  val_loss 0.5000  val_acc 0.7500  1,000 samples/s"
                     for e in range(1, 4)]


def test_missing_tqdm_falls_back_to_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` raises ImportError
    stream = FakeTerminal()
    bar = progress.EpochProgress(1, stream=stream)
    bar.update(_history(1), 10.0)
    assert stream.getvalue().startswith("epoch 1/1  loss 1.0000")


def test_tqdm_bar_shows_epochs_and_metrics():
    pytest.importorskip("tqdm")
    stream = FakeTerminal()
    with progress.EpochProgress(2, stream=stream) as bar:
        bar.update(_history(1), 500.0)
        bar.update(_history(2), 500.0)
    text = stream.getvalue()
    assert "2/2" in text and "val_acc 0.7500" in text and "samples/s" in text


def test_silent_when_not_a_terminal_or_not_verbose():
    for stream, enabled in ((io.StringIO(), True), (FakeTerminal(), False)):
        bar = progress.EpochProgress(2, enabled=enabled, stream=stream)
        bar.update(_history(1), 1.0)
        bar.close()
        assert stream.getvalue() == ""


def test_fit_reports_each_epoch_on_a_terminal(monkeypatch):
    stream = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(progress, "_load_tqdm", lambda: None)
    X, y = _data()
    hist = dp.MLP([3, 8, 2], seed=0).fit(X, y, epochs=3, lr=0.1, validation_data=(X, y), verbose=True)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert f"loss {hist.train_loss[-1]:.4f}" in lines[-1]
    assert f"val_acc {hist.val_accuracy[-1]:.4f}" in lines[-1]


def test_fit_is_quiet_when_stderr_is_redirected(capfd):
    X, y = _data()
    dp.MLP([3, 8, 2], seed=0).fit(X, y, epochs=2, verbose=True)
    assert capfd.readouterr().err == ""


INTERRUPTED_FIT = """
import sys, numpy as np, deltaprop as dp
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 20)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.int64)
net = dp.MLP([20, 64, 2], seed=0)
print("ready", flush=True)
try:
    net.fit(X, y, epochs=100000, batch_size=16, lr=0.01, verbose=True)
except KeyboardInterrupt:
    ok = np.isfinite(net.get_params()).all() and net.evaluate(X, y)["accuracy"] > 0.6
    print("intact" if ok else "broken", flush=True)
"""


def test_ctrl_c_stops_training_with_the_model_intact():
    import signal
    import subprocess
    import time

    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED_FIT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert out.strip() == "intact", err
