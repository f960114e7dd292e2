"""The microbenchmarks shipped as deltaprop.bench: tiny runs end to end, missing peers skipped with
one line, the environment cleaned for the child process, and the registry's contract."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deltaprop.bench import BENCHMARKS
from deltaprop.bench._launch import CLEARED, CLEARED_NOTE, clean_environment

CHECKOUT_BENCH = Path(__file__).resolve().parents[1] / "bench"


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(extra)
    return env


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deltaprop", "bench", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def run_without(modules, bench: str, *args: str) -> subprocess.CompletedProcess:
    """Run a benchmark in a child where importing each of `modules` fails, as when it is not
    installed (the environment is already clean, so the benchmark runs in that child)."""
    code = ("import sys\n"
            f"for name in {list(modules)!r}:\n"
            "    sys.modules[name] = None\n"
            f"from deltaprop.bench import run_here\n"
            f"sys.exit(run_here({bench!r}, {list(args)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=clean_env())


def available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def json_rows(result: subprocess.CompletedProcess) -> list:
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["bench"] == "env"
    return rows


def test_registry_entries_have_a_main():
    assert {"gemm", "mlp", "sklearn"} <= set(BENCHMARKS)
    for name, entry in BENCHMARKS.items():
        module = importlib.import_module(entry.module)
        assert callable(module.main), name
        assert entry.summary, name


def test_clean_environment_removes_blas_and_thread_variables():
    env = {"PATH": "/bin", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell", "DELTAPROP_SIMD": "avx2"}
    clean = clean_environment(env)
    assert "OMP_NUM_THREADS" not in clean and "OPENBLAS_CORETYPE" not in clean
    assert clean["PATH"] == "/bin" and clean["DELTAPROP_SIMD"] == "avx2"  # the rest is kept
    assert clean[CLEARED_NOTE] == "OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=1"
    assert CLEARED_NOTE not in clean_environment({"PATH": "/bin"})


def test_mlp_tiny_runs_every_part_and_reports_json():
    result = run_cli("mlp", "--tiny", "--threads", "1", "--json")
    rows = json_rows(result)
    assert rows[0]["threads"] == 1
    kinds = [r["bench"] for r in rows[1:]]
    assert kinds == ["mlp_train", "mlp_latency", "mlp_threads"]
    train = rows[1]
    assert train["dp_step"] > 0 and train["dp_fit"] > 0
    assert ("torch" in train) == available("torch")
    assert ("sklearn" in train) == available("sklearn")
    assert rows[2]["deltaprop_us"] > 0
    assert ("skipped: torch not installed" in result.stderr) != available("torch")


def test_mlp_tiny_in_bf16_has_the_float32_and_autocast_columns():
    rows = json_rows(run_cli("mlp", "--tiny", "--threads", "1", "--json", "--precision", "bf16"))
    assert rows[0]["deltaprop"]["bf16"] in rows[0]["deltaprop"]["bf16_levels"]
    train, latency, threads = rows[1:]
    assert train["precision"] == latency["precision"] == threads["precision"] == "bf16"
    assert train["dp_step"] > 0 and train["dp32_step"] > 0 and train["dp_step/dp32_step"] > 0
    assert ("torch" in train) == available("torch") and "sklearn" not in train
    assert latency["deltaprop_us"] > 0


def test_gemm_tiny_in_bf16_agrees_with_the_bf16_reference():
    rows = json_rows(run_cli("gemm", "--tiny", "--threads", "1", "--json", "--precision", "bf16"))
    assert len(rows) > 1
    for row in rows[1:]:
        assert row["precision"] == "bf16" and row["deltaprop_gflops"] > 0
        assert row["rel_err"] < 1e-5, row
        assert ("torch_gflops" in row) == available("torch")


def test_gemm_tiny_agrees_with_numpy_and_defaults_to_all_cores():
    rows = json_rows(run_cli("gemm", "--tiny", "--json", env=clean_env(OMP_NUM_THREADS="1")))
    env = rows[0]
    assert env["threads"] == len(os.sched_getaffinity(0))  # not the OMP_NUM_THREADS=1 removed
    assert env["cleared_env"] == "OMP_NUM_THREADS=1"
    assert len(rows) > 1
    for row in rows[1:]:
        assert row["deltaprop_gflops"] > 0
        assert row["rel_err"] < 1e-4, row  # float32 against numpy's product


def test_sklearn_tiny_compares_fit_times():
    pytest.importorskip("sklearn")
    rows = json_rows(run_cli("sklearn", "--tiny", "--threads", "1", "--json"))
    (row,) = rows[1:]
    assert row["bench"] == "sklearn_fit"
    assert row["sklearn_s"] > 0 and row["dp64_s"] > 0 and row["speedup64"] > 0
    assert 0.0 <= row["acc_sklearn"] <= 1.0 and 0.0 <= row["acc_dp"] <= 1.0
    assert row["n_iter_sklearn"] == row["n_iter_dp"] == 2  # the tiny case: max_iter=2


def test_compare_tiny_pairs_two_settings_on_every_product_and_the_step():
    result = run_cli("compare", "--tiny", "--threads", "2", "--json", "--a", "step_team=0", "--b", "step_team=1",
                     "--nets", "20,9,3", "--batches", "4,13")
    rows = json_rows(result)[1:]
    # per batch: two layers' fwd and dW, the second layer's dX, and train_step
    assert [r["case"] for r in rows if r["batch"] == 4] == [
        "layer 1 20->9 fwd", "layer 1 20->9 dW", "layer 2 9->3 fwd", "layer 2 9->3 dW", "layer 2 9->3 dX",
        "train_step"]
    assert {r["batch"] for r in rows} == {4, 13}
    for r in rows:
        assert r["a_us"] > 0 and r["b_us"] > 0 and r["low"] <= r["speedup"] <= r["high"]
        assert r["a"] == "step_team=0" and r["b"] == "step_team=1"


@pytest.mark.parametrize("bad", [["--a", "blocks=junk", "--b", "blocks=table"], ["--a", "speed=1", "--b", "blocks=table"],
                                 ["--a", "threads=2", "--b", "threads=1", "--nets", "5"]])
def test_compare_refuses_bad_settings(bad):
    result = run_cli("compare", "--tiny", *bad)
    assert result.returncode == 2
    assert "--a" in result.stderr or "setting" in result.stderr or "--nets" in result.stderr


def test_missing_peers_are_skipped_with_one_line_each():
    result = run_without(["torch", "sklearn"], "mlp", "--tiny", "--threads", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("skipped: torch not installed") == 1
    assert lines.count("skipped: scikit-learn not installed") == 1
    assert "dp step/s" in result.stdout and "thread scaling" in result.stdout  # the rest ran


def test_gemm_without_threadpoolctl_times_deltaprop_alone():
    result = run_without(["threadpoolctl"], "gemm", "--tiny", "--threads", "1", "--json")
    rows = json_rows(result)
    assert "skipped: numpy's BLAS" in result.stderr and "threadpoolctl not installed" in result.stderr
    assert all("numpy_gflops" not in r and r["deltaprop_gflops"] > 0 for r in rows[1:])


def test_sklearn_benchmark_without_scikit_learn_says_so_and_succeeds():
    result = run_without(["sklearn"], "sklearn", "--tiny", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "skipped: scikit-learn not installed" in result.stdout.splitlines()


def test_unknown_or_missing_name_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "deltaprop.bench"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "gemm" in result.stderr and "mlp" in result.stderr
    assert "invalid choice" in run_cli("frobnicate").stderr


@pytest.mark.skipif(not (CHECKOUT_BENCH / "mlp.py").is_file(), reason="not run from a source checkout")
@pytest.mark.parametrize("script", ["gemm.py", "mlp.py", "sklearn_fit.py", "compare.py"])
def test_checkout_scripts_are_wrappers_of_the_package(script):
    result = subprocess.run([sys.executable, str(CHECKOUT_BENCH / script), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--tiny" in result.stdout and "--threads" in result.stdout


def test_save_keeps_an_earlier_result_of_the_same_day(tmp_path):
    from argparse import Namespace

    from deltaprop.bench import _common
    args = Namespace(json=False, save=str(tmp_path), threads=1, bench_name="mlp")
    _common.emit_json(args, [{"bench": "mlp_train", "run": 1}])
    first = sorted(tmp_path.iterdir())
    assert len(first) == 1 and first[0].name.endswith(".json") and "-mlp-" in first[0].name
    _common.emit_json(args, [{"bench": "mlp_train", "run": 2}])
    files = sorted(tmp_path.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert len(files) == 2  # the second run got a name of its own
    runs = {p.name: json.loads(p.read_text())[-1]["run"] for p in files}
    assert runs[first[0].name] == 1 and sorted(runs.values()) == [1, 2]
