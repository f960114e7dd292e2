"""Package-level API: version, build information, thread control."""
from __future__ import annotations

import re

import pytest

import deltaprop as dp


def test_version_is_a_version_string():
    assert isinstance(dp.__version__, str)
    assert re.match(r"^\d+\.\d+", dp.__version__)


def test_build_info_keys():
    info = dp.build_info()
    assert isinstance(info, dict)
    for key in ("version", "simd", "openmp", "num_threads", "cuda"):
        assert key in info, key
    assert info["version"] == dp.__version__


def test_build_info_reports_current_threads():
    assert dp.build_info()["num_threads"] == dp.get_num_threads()


def test_get_num_threads_positive():
    n = dp.get_num_threads()
    assert isinstance(n, int)
    assert n >= 1


def test_set_num_threads_round_trip():
    old = dp.get_num_threads()
    try:
        dp.set_num_threads(1)
        assert dp.get_num_threads() == 1
        dp.set_num_threads(2)
        # without OpenMP the core may run single-threaded whatever is asked
        assert dp.get_num_threads() in (1, 2)
        if dp.build_info()["openmp"]:
            assert dp.get_num_threads() == 2
    finally:
        dp.set_num_threads(old)
    assert dp.get_num_threads() == old


@pytest.mark.parametrize("n", [-1, -8])
def test_set_num_threads_rejects_negative(n):
    # assumption: negative counts are an error (0 is left open: it may mean "the default")
    old = dp.get_num_threads()
    with pytest.raises(ValueError):
        dp.set_num_threads(n)
    assert dp.get_num_threads() == old
