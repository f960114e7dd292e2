"""Worker threads of the kernels' OpenMP teams are pinned, each to a CPU other than the caller's
(runtime/threads.hpp): the caller's own thread, and so the masks that threads and processes it
starts inherit, keeps the process's CPUs. Users' own placement (OMP_PROC_BIND, OMP_PLACES,
GOMP_CPU_AFFINITY) and DELTAPROP_PIN_THREADS=0 turn it off."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import deltaprop as dp

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2 or not dp.build_info()["openmp"],
    reason="needs Linux, OpenMP and at least 2 CPUs to place threads on")

# A product worth two threads, then each thread's CPU mask and the CPU the caller is on.
PROBE = """
import json, os, numpy as np, deltaprop as dp
from deltaprop import kernels as K
dp.set_num_threads(2)
A = np.ones((256, 256), np.float32)
for _ in range(3):
    K.gemm(A, A, trans_b=True)
main = str(os.getpid())
def others():
    return {t: sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task") if t != main}
first = others()
moved = None
pinned = [m[0] for m in first.values() if len(m) == 1]
if pinned:  # the caller moves onto the worker's CPU: the worker must move off it
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {pinned[0]})
    K.gemm(A, A, trans_b=True)
    moved = [m for m in others().values() if len(m) == 1]
    os.sched_setaffinity(0, everything)
print(json.dumps({"main": sorted(os.sched_getaffinity(0)), "others": list(first.values()),
                  "caller_moved_to": pinned[0] if pinned else None, "after_move": moved}))
"""


def probe(**env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "DELTAPROP_PIN_THREADS")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out)


def test_the_worker_is_pinned_and_the_caller_is_not():
    cpus = sorted(os.sched_getaffinity(0))
    r = probe()
    assert r["main"] == cpus                      # the caller keeps every CPU
    pinned = [m for m in r["others"] if len(m) == 1]
    assert len(pinned) == 1, r["others"]          # one worker for a team of two
    assert pinned[0][0] in cpus
    # The caller, moved onto that CPU, finds its worker moved to another one.
    assert len(r["after_move"]) == 1 and r["after_move"][0][0] != r["caller_moved_to"], r


@pytest.mark.parametrize("env", [{"DELTAPROP_PIN_THREADS": "0"}, {"OMP_PROC_BIND": "false"}],
                         ids=["DELTAPROP_PIN_THREADS=0", "OMP_PROC_BIND set"])
def test_pinning_can_be_turned_off(env):
    cpus = sorted(os.sched_getaffinity(0))
    r = probe(**env)
    assert r["main"] == cpus
    assert all(m == cpus for m in r["others"]), r["others"]


@pytest.mark.parametrize("env, expected", [({}, True), ({"DELTAPROP_PIN_THREADS": "0"}, False),
                                           ({"GOMP_CPU_AFFINITY": "0-1"}, False)])
def test_build_info_says_whether_workers_are_pinned(env, expected):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "DELTAPROP_PIN_THREADS")}
    out = subprocess.run([sys.executable, "-c", "import deltaprop as dp; print(dp.build_info()['pin_threads'])"],
                         env=dict(clean, **env), capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == str(expected)
