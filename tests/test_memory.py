"""Memory stays flat: 1,000 cycles of create / fit / predict / save-free inference grow the
resident set by no more than a small allowance (a leak of even 2 KB per cycle would exceed it)."""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import deltaprop as dp

# Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) instead of being
# reused, so the resident set follows the volume allocated, not what leaks; leaks there are LSan's
# job (.ci/sanitizers.sh runs an end-to-end job with leak detection).
_UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm"),
    pytest.mark.skipif(_UNDER_ASAN, reason="RSS under AddressSanitizer's quarantine does not show leaks"),
]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cycle(X, y, dtype):
    net = dp.MLP([8, 16, 3], activation="tanh", dtype=dtype, seed=0)
    net.fit(X, y, epochs=1, batch_size=8, lr=0.05)
    net.predict(X)
    net.activations(X)
    net.loss_and_grad(X, y)
    return net.get_params()


def test_rss_is_flat_over_1000_create_fit_predict_cycles(rng):
    X, y = rng.standard_normal((32, 8)), rng.integers(0, 3, 32)
    for i in range(200):  # warm-up: allocator pools, caches, first-use buffers
        _cycle(X, y, "float32" if i % 2 else "float64")
    gc.collect()
    start = _rss_bytes()
    for i in range(1000):
        _cycle(X, y, "float32" if i % 2 else "float64")
    gc.collect()
    growth = _rss_bytes() - start
    assert growth < 2 * 1024 * 1024, f"RSS grew by {growth / 1024:.0f} KiB over 1,000 cycles"
