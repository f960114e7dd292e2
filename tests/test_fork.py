"""Fork safety: after the parent has used OpenMP (2 threads), a child made by os.fork() or by
multiprocessing's fork start method trains and predicts correctly instead of hanging in libgomp
(GCC bug 60035); such a child runs the kernels on one thread."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")

PARENT = """
import os, sys, multiprocessing as mp
import numpy as np
import deltaprop as dp

dp.set_num_threads(2)
rng = np.random.default_rng(0)
X = rng.standard_normal((600, 64)).astype(np.float32)
y = rng.integers(0, 10, 600)

def train_and_predict():
    net = dp.MLP([64, 256, 10], seed=0)
    net.fit(X, y, epochs=2, batch_size=200, lr=0.05)  # batches big enough to use both threads
    return net.get_params(), net.predict_proba(X)

expected = train_and_predict()

def child_check():
    params, proba = train_and_predict()
    ok = np.array_equal(params, expected[0]) and np.array_equal(proba, expected[1])
    return ok and dp.get_num_threads() == 1
"""


def _run(body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(PARENT) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_os_fork_child_trains_and_predicts():
    result = _run("""
        pid = os.fork()
        if pid == 0:
            os._exit(0 if child_check() else 3)
        _, status = os.waitpid(pid, 0)
        assert dp.get_num_threads() == 2  # the parent keeps its threads
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    assert result.returncode == 0, result.stderr


def test_multiprocessing_fork_pool_trains_and_predicts():
    result = _run("""
        with mp.get_context("fork").Pool(2) as pool:
            results = [pool.apply_async(child_check) for _ in range(3)]
            assert all(r.get(timeout=60) for r in results)
    """)
    assert result.returncode == 0, result.stderr
