"""The `deltaprop` command line, run as `python -m deltaprop` in a subprocess on tiny data sets."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def blobs_csv(tmp_path):
    """Two well-separated clusters in 3-D with a header and the label in the middle column."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    X = rng.normal(scale=0.3, size=(120, 3)) + np.where(y[:, None] == 1, 2.0, -2.0)
    path = tmp_path / "blobs.csv"
    rows = np.column_stack([X[:, 0], y, X[:, 1:]])
    np.savetxt(path, rows, delimiter=",", header="f0,label,f1,f2", comments="", fmt="%.6f")
    return path, X, y


def test_train_predict_evaluate_round_trip(tmp_path, blobs_csv):
    path, X, y = blobs_csv
    model = tmp_path / "model.npz"
    trained = run("train", str(path), "--label-column", "label", "--hidden", "8,4", "--epochs", "30",
                  "--lr", "0.1", "--val-split", "0.25", "--out", str(model), "--threads", "1")
    assert trained.returncode == 0, trained.stderr
    assert f"saved {model}" in trained.stdout

    net = dp.load(model)
    assert net.sizes == [3, 8, 4, 2] and net.loss == "cross_entropy"

    predicted = run("predict", str(model), str(path), "--label-column", "label")
    assert predicted.returncode == 0, predicted.stderr
    labels = np.loadtxt(predicted.stdout.splitlines(), dtype=np.int64)
    np.testing.assert_array_equal(labels, net.predict(X.astype(np.float32)))
    assert np.mean(labels == y) > 0.95

    evaluated = run("evaluate", str(model), str(path), "--label-column", "1")
    assert evaluated.returncode == 0, evaluated.stderr
    scores = dict(line.split() for line in evaluated.stdout.splitlines())
    expected = net.evaluate(X.astype(np.float32), y)
    assert float(scores["accuracy"]) == pytest.approx(expected["accuracy"], abs=1e-6)
    assert float(scores["loss"]) == pytest.approx(expected["loss"], rel=1e-5)


def test_npz_regression_and_probabilities_to_file(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    t = X @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    data = tmp_path / "reg.npz"
    np.savez(data, features=X, target=t)
    model = tmp_path / "reg.npz.model.npz"
    trained = run("train", str(data), "--x-key", "features", "--y-key", "target", "--hidden", "none",
                  "--epochs", "40", "--lr", "0.05", "--val-split", "0", "--out", str(model), "--quiet")
    assert trained.returncode == 0, trained.stderr
    net = dp.load(model)
    assert net.loss == "mse" and net.sizes == [4, 1]  # float targets: regression, linear model
    out = tmp_path / "pred.csv"
    predicted = run("predict", str(model), str(data), "--x-key", "features", "--out", str(out))
    assert predicted.returncode == 0, predicted.stderr
    np.testing.assert_allclose(np.loadtxt(out), net.predict(X)[:, 0], rtol=1e-5, atol=1e-6)
    assert np.mean((np.loadtxt(out) - t) ** 2) < 0.1 * np.var(t)


@pytest.mark.parametrize("args, fragments", [
    (["train", "missing.csv"], ["missing.csv", "no such file"]),
    (["train", "{csv}", "--label-column", "nope"], ["no column named 'nope'", "f0, label"]),
    (["train", "{csv}", "--label-column", "9"], ["column index 9 is out of range"]),
    (["train", "{csv}", "--hidden", "8,x"], ["--hidden", "256,128"]),
    (["train", "{csv}", "--epochs", "-1"], ["epochs"]),
    (["train", "{csv}", "--val-split", "1.5"], ["--val-split"]),
    (["predict", "{model}", "{wide}"], ["expects 3 features", "5 columns"]),
    (["predict", "{csv}", "{csv}"], ["not a readable deltaprop model"]),
    (["evaluate", "{model}", "{npz}", "--y-key", "labels"], ["no array 'labels'", "'X'"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_errors_are_one_line_and_nonzero(tmp_path, blobs_csv, args, fragments):
    path, X, y = blobs_csv
    model = tmp_path / "m.npz"
    dp.MLP([3, 4, 2]).save(model)
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, np.ones((4, 5)), delimiter=",")
    npz = tmp_path / "d.npz"
    np.savez(npz, X=X, y=y)
    names = {"csv": path, "model": model, "wide": wide, "npz": npz}
    result = run(*[a.format(**names) for a in args], cwd=tmp_path)
    assert_one_line_error(result, *fragments)


def test_non_numeric_csv_cell_is_reported_with_its_position(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    assert_one_line_error(run("train", str(path)), "bad.csv", "oops")


def test_demo_runs_quickly():
    result = run("demo", "--epochs", "3", "--samples", "400")
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout


def test_info_reports_build():
    result = run("info")
    assert result.returncode == 0
    assert f"version            {dp.__version__}" in result.stdout
    assert "simd" in result.stdout and "cuda" in result.stdout


def test_bench_passes_options_through_in_a_clean_environment(monkeypatch, tmp_path, capfd):
    from deltaprop.bench import BENCHMARKS, Benchmark
    from deltaprop.cli import main

    # Two stand-in benchmarks that print their arguments and the thread variables they see.
    for name in ("fake_gemm", "fake_mlp"):
        (tmp_path / f"{name}.py").write_text(
            "import os, sys\n"
            f"print('{name}', sys.argv[1:], os.environ.get('OMP_NUM_THREADS'), "
            "os.environ.get('OPENBLAS_CORETYPE'))\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    saved = dict(BENCHMARKS)
    BENCHMARKS.clear()
    BENCHMARKS.update(gemm=Benchmark("fake_gemm", "-"), mlp=Benchmark("fake_mlp", "-"))
    try:
        assert main(["bench", "--quick", "--threads", "1"]) == 0
        assert main(["bench", "mlp", "--tiny", "--rounds", "2"]) == 0
    finally:
        BENCHMARKS.clear()
        BENCHMARKS.update(saved)
    out = capfd.readouterr().out.splitlines()
    assert out == ["fake_gemm ['--quick', '--threads', '1'] None None",
                   "fake_mlp ['--quick', '--threads', '1'] None None",
                   "fake_mlp ['--tiny', '--rounds', '2'] None None"]


def test_version_flag():
    result = run("--version")
    assert result.returncode == 0 and dp.__version__ in result.stdout
