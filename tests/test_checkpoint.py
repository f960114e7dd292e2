"""Checkpoints: the optimizer and training state survive save/load, a run interrupted (by
KeyboardInterrupt or SIGKILL) and resumed ends bitwise where an uninterrupted one does, Ctrl-C
leaves a usable model, and damaged files raise ModelFormatError."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import deltaprop as dp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)
    return X, y


FIT = dict(epochs=6, batch_size=32, seed=3, validation_split=0.2, lr_schedule="adaptive",
           early_stopping=dp.EarlyStopping(patience=50))


def _optimizer():
    return dp.Adam(lr=0.01)


def _reference():
    X, y = _data()
    net = dp.MLP([6, 16, 2], seed=0)
    hist = net.fit(X, y, optimizer=_optimizer(), **FIT)
    return net, hist


def test_save_load_keeps_optimizer_and_training_state(tmp_path):
    X, y = _data()
    net = dp.MLP([6, 16, 2], seed=0)
    net.fit(X, y, epochs=2, optimizer=dp.SGD(lr=0.1, momentum=0.9))
    net.save(tmp_path / "m.npz")
    back = dp.load(tmp_path / "m.npz")
    a, b = net.network.optimizer_state(), back.network.optimizer_state()
    assert a["steps"] == b["steps"] == 20
    assert np.array_equal(a["velocity"], b["velocity"]) and a["velocity"].any()
    assert back.training_state.epoch == 2
    assert np.array_equal(back.get_params(), net.get_params())


def test_keyboard_interrupt_then_resume_is_bitwise_identical(tmp_path):
    ref, ref_hist = _reference()
    X, y = _data()
    path = tmp_path / "run.npz"

    def interrupt_after_three(history):
        if history.epochs == 3:
            raise KeyboardInterrupt

    net = dp.MLP([6, 16, 2], seed=0)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, optimizer=_optimizer(), checkpoint=path, checkpoint_every=2,
                callbacks=[interrupt_after_three], **FIT)
    assert net.history_.interrupted and net.history_.epochs == 3
    assert np.isfinite(net.predict_proba(X)).all()   # still usable

    resumed = dp.MLP([6, 16, 2], seed=99)   # other initial weights: all come from the file
    hist = resumed.fit(X, y, optimizer=_optimizer(), resume=path, **FIT)
    assert np.array_equal(resumed.get_params(), ref.get_params())
    assert hist.train_loss == ref_hist.train_loss and hist.val_loss == ref_hist.val_loss
    assert hist.epochs == 6


def test_resume_refuses_another_architecture(tmp_path):
    X, y = _data()
    net = dp.MLP([6, 16, 2], seed=0)
    net.fit(X, y, epochs=1, checkpoint=tmp_path / "c.npz")
    with pytest.raises(ValueError, match="different model"):
        dp.MLP([6, 8, 2]).fit(X, y, resume=tmp_path / "c.npz")


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import deltaprop as dp
    from test_checkpoint import FIT, _data, _optimizer
    X, y = _data()

    def hang_after_three(history):
        if history.epochs == 3:
            print("checkpointed", flush=True)
            time.sleep(60)

    net = dp.MLP([6, 16, 2], seed=0, device={device!r})
    net.fit(X, y, optimizer=_optimizer(), checkpoint={path!r}, checkpoint_every=1,
            callbacks=[hang_after_three], **FIT)
""")


def _spawn(code):
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


def _wait_for_line(proc, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"child never printed {text!r}: {proc.stderr.read()}")


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, request):
    # The killed run trains on the device this suite runs on (`--device`), as the resumed one does.
    path = str(tmp_path / "killed.npz")
    device = request.config.getoption("--device")
    proc = _spawn(CHILD.format(tests=os.path.join(ROOT, "tests"), path=path, device=device))
    try:
        _wait_for_line(proc, "checkpointed")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    X, y = _data()
    resumed = dp.MLP([6, 16, 2], seed=0)
    resumed.fit(X, y, optimizer=_optimizer(), resume=path, **FIT)
    ref, _ = _reference()
    assert np.array_equal(resumed.get_params(), ref.get_params())


SIGINT_CHILD = textwrap.dedent("""
    import faulthandler
    import numpy as np
    import deltaprop as dp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 64)).astype(np.float32)
    y = rng.integers(0, 10, 20000)

    def started(history):
        if history.epochs == 1:
            # If the child still runs 45 s after the test's Ctrl-C, print every thread's stack to
            # stderr and exit: a hang then fails the test with where it hung.
            faulthandler.dump_traceback_later(45, exit=True)
        print("epoch", history.epochs, flush=True)

    net = dp.MLP([64, 256, 256, 10], seed=0)
    try:
        net.fit(X, y, epochs=100000, batch_size=16, optimizer="adam", callbacks=[started])
    except KeyboardInterrupt:
        assert net.history_.interrupted
        assert np.isfinite(net.predict_proba(X[:50])).all()
        net.fit(X[:64], y[:64], epochs=1)   # and trainable again
        faulthandler.cancel_dump_traceback_later()
        print("usable", flush=True)
""")


def test_sigint_stops_fit_cleanly():
    proc = _spawn(SIGINT_CHILD)
    try:
        _wait_for_line(proc, "epoch 1")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "usable" in out


# ------------------------------------------------------------------------------ damaged files
def _saved(tmp_path):
    X, y = _data()
    net = dp.MLP([6, 16, 2], seed=0)
    net.fit(X, y, epochs=1, optimizer="adam")
    path = tmp_path / "ok.npz"
    net.save(path)
    return path


def _rewrite(path, target, **changes):
    with np.load(path, allow_pickle=False) as data:
        fields = {k: data[k] for k in data.files}
    fields.update(changes)
    np.savez(target, **fields)
    return target


def test_truncated_checkpoint_raises_model_format_error(tmp_path):
    raw = _saved(tmp_path).read_bytes()
    for cut in (10, len(raw) // 3, len(raw) - 7):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(raw[:cut])
        with pytest.raises(dp.ModelFormatError):
            dp.load(bad)


@pytest.mark.parametrize("changes,match", [
    (dict(format_version=np.array(99)), "newer"),
    (dict(training_state=np.array("{not json")), "training state"),
    (dict(training_state=np.array("[1, 2]")), "training state"),
    (dict(optimizer_adam_m=np.ones(5, np.float32)), "optimizer_adam_m"),
    (dict(optimizer_adam_v=np.full(1 + 6 * 16 + 16 + 16 * 2 + 1, np.nan, np.float32)), "optimizer_adam_v"),
    (dict(optimizer_steps=np.array(-1)), "step"),
])
def test_corrupt_fields_raise_model_format_error(tmp_path, changes, match):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.npz", **changes)
    with pytest.raises(dp.ModelFormatError, match=match):
        dp.load(bad)


def test_version_one_files_still_load(tmp_path):
    path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        old = {k: data[k] for k in ("format", "sizes", "activations", "loss", "dtype", "seed", "params")}
    np.savez(tmp_path / "v1.npz", format_version=np.array(1), **old)
    net = dp.load(tmp_path / "v1.npz")
    assert np.array_equal(net.get_params(), dp.load(path).get_params())
    assert net.network.optimizer_state()["steps"] == 0
