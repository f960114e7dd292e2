"""Data-parallel training under mpiexec: 2 and 3 ranks (3 oversubscribe this 2-core machine),
one OpenMP thread per rank, each job under a timeout. Against one-process references:
comm=MPI.COMM_SELF (bitwise), a plain fit (float rounding); replicas identical; uneven shards
(a rank with no rows); a checkpoint of 2 ranks resumed on 1 and on 3; an aborting rank."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp
import mpi_job

MPI = pytest.importorskip("mpi4py.MPI", reason="data-parallel tests need mpi4py and an MPI library "
                          "(pip install \".[mpi]\")")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
if MPIEXEC is None:
    pytest.skip("data-parallel tests need mpiexec (pip install \".[mpi]\" brings MPICH's)", allow_module_level=True)

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_job.py")
TIMEOUT = 240


def mpiexec(ranks, mode, out, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIEXEC_TIMEOUT=str(TIMEOUT - 30))
    result = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, "-m", "mpi4py", JOB, mode, str(out)],
                            env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """{ranks: the folder of a `train` job on that many ranks}."""
    folders = {}
    for ranks in (2, 3):
        folders[ranks] = tmp_path_factory.mktemp(f"ranks{ranks}")
        mpiexec(ranks, "train", folders[ranks])
    return folders


@pytest.fixture(scope="module")
def single():
    """One-process references: comm=COMM_SELF (deterministic and fast) and a plain fit."""
    everything = slice(0, mpi_job.N)
    sgd = mpi_job.PLAIN_SGD
    return {"det": mpi_job.run(MPI.COMM_SELF, everything, True),
            "fast": mpi_job.run(MPI.COMM_SELF, everything, False),
            "plain": mpi_job.run(None, everything),
            "det_small": mpi_job.run(MPI.COMM_SELF, everything, True, batch_size=11),
            "det_sgd": mpi_job.run(MPI.COMM_SELF, everything, True, **sgd),
            "fast_sgd": mpi_job.run(MPI.COMM_SELF, everything, False, **sgd),
            "plain_sgd": mpi_job.run(None, everything, **sgd),
            "det_small_sgd": mpi_job.run(MPI.COMM_SELF, everything, True, batch_size=11, **sgd)}


def load(folder, name):
    assert bool(np.load(folder / f"{name}.same.npy")), f"{name}: the ranks ended with different weights"
    return np.load(folder / f"{name}.npy")


OPTIMIZERS = ["", "_sgd"]  # Adam with L2 and weights (gradient exchanged); plain SGD (parameters exchanged)


# Shards, and how the sums move: the shared-memory window of ranks on one node, or MPI messages.
RUNS = ["even", "uneven", "even_messages"]


def _names(run, mode, optimizer):
    """(the reference in `single`, the job's file) of a run."""
    shards, _, transport = run.partition("_")
    reference = ("det" if shards == "even" else "det_small") + optimizer
    return reference, f"{shards}_{mode}{optimizer}" + (f"_{transport}" if transport else "")


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_deterministic_mode_is_bitwise_one_process(jobs, single, ranks, run, optimizer):
    reference, name = _names(run, "det", optimizer)
    net, history = single[reference]
    np.testing.assert_array_equal(load(jobs[ranks], name), net.get_params())
    np.testing.assert_array_equal(np.load(jobs[ranks] / f"{name}.loss.npy")[:3], history.train_loss)


@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_fast_mode_agrees_to_rounding(jobs, single, ranks, run, optimizer):
    reference, name = _names(run, "fast", optimizer)
    reference = single[reference][0].get_params()
    params = load(jobs[ranks], name)
    np.testing.assert_allclose(params, reference, rtol=1e-6, atol=1e-6 * np.abs(reference).max())


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_process_modes_agree_with_a_plain_fit(single, optimizer):
    plain, history = single["plain" + optimizer]
    for mode in ("det", "fast"):
        net, dist_history = single[mode + optimizer]
        np.testing.assert_allclose(net.get_params(), plain.get_params(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dist_history.train_loss, history.train_loss, rtol=1e-5)
        np.testing.assert_allclose(dist_history.val_loss, history.val_loss, rtol=1e-5)


def test_validation_scores_are_global(jobs, single):
    losses = np.load(jobs[3] / "even_det.loss.npy")
    np.testing.assert_allclose(losses[3:], single["plain"][1].val_loss, rtol=1e-5)


@pytest.mark.parametrize("ranks", [1, 3])
def test_checkpoint_of_two_ranks_resumes_on_other_counts(tmp_path, ranks):
    mpiexec(2, "save", tmp_path)
    mpiexec(ranks, "resume", tmp_path)
    uninterrupted = mpi_job.run(MPI.COMM_SELF, slice(0, mpi_job.N), epochs=4)[0]
    np.testing.assert_array_equal(load(tmp_path, "resume"), uninterrupted.get_params())


def test_an_exception_on_one_rank_aborts_the_job(tmp_path):
    result = mpiexec(2, "abort", tmp_path, check=False)  # a hang would be a TimeoutExpired
    assert result.returncode != 0
    assert "rank 1 of 2 failed" in result.stderr and "class indices must lie in" in result.stderr


def test_the_command_line_trains_the_same_model_on_any_rank_count(tmp_path):
    X, y, *_ = mpi_job.data()
    np.savez(tmp_path / "data.npz", X=X, y=y)
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIEXEC_TIMEOUT=str(TIMEOUT - 30))
    models = []
    for ranks in (1, 2, 3):
        model = tmp_path / f"model{ranks}.npz"
        result = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, "-m", "deltaprop", "train",
                                 str(tmp_path / "data.npz"), "--distributed", "--epochs", "2", "--quiet",
                                 "--optimizer", "adam", "--out", str(model)],
                                env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"on {ranks} ranks" in result.stdout and result.stdout.count("saved") == 1
        models.append(dp.load(model).get_params())
    np.testing.assert_array_equal(models[1], models[0])
    np.testing.assert_array_equal(models[2], models[0])
