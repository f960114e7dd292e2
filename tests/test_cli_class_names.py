"""Class names as labels: `deltaprop train` on a label column of names, the names kept in the model
file (a str array, no pickle) and on MLP.classes, `predict` writing names, `evaluate` reading
them, and one-line errors for a mixed label column or a class unseen in training."""
from __future__ import annotations

import csv
import pickle
import subprocess
import sys

import numpy as np
import pytest

import deltaprop as dp

NAMES = np.array(["setosa", "versicolor", "virginica"])


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write_csv(path, X, names, header=True, label_first=False):
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        columns = [f"f{j}" for j in range(X.shape[1])]
        if header:
            out.writerow(["species", *columns] if label_first else [*columns, "species"])
        for x, name in zip(X, names):
            cells = [repr(float(v)) for v in x]  # exact: the file holds X itself
            out.writerow([name, *cells] if label_first else [*cells, name])
    return path


def blobs(n=150, seed=0):
    """Three well-separated Gaussian clusters in 4-D, labelled with names."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 3, n)
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=float)
    return centres[k] + rng.normal(scale=0.4, size=(n, 4)), NAMES[k]


def train_predict_evaluate(tmp_path, data, X, names, *train_args):
    """Train on `data`, then check the model's classes, `predict` and `evaluate` against an
    independent encoding of the names (sorted distinct names -> 0, 1, 2, …)."""
    model = tmp_path / "model.npz"
    trained = run("train", str(data), "--label-column", "species", "--val-split", "0", "--threads", "1",
                  "--quiet", "--out", str(model), *train_args)
    assert trained.returncode == 0, trained.stderr
    expected_classes = sorted(set(names.tolist()))
    assert f"{len(expected_classes)} classes: " + ", ".join(map(repr, expected_classes)) in trained.stdout

    with np.load(model, allow_pickle=False) as stored:  # a plain unicode array, no pickle
        assert stored["classes"].dtype.kind == "U"
        assert stored["classes"].tolist() == expected_classes
    net = dp.load(model)
    assert net.classes.tolist() == expected_classes and net.sizes[-1] == len(expected_classes)

    predicted = run("predict", str(model), str(data), "--label-column", "species")
    assert predicted.returncode == 0, predicted.stderr
    lines = predicted.stdout.splitlines()
    X32 = X.astype(np.float32)
    assert lines == [expected_classes[i] for i in net.predict(X32)]
    assert np.mean(np.array(lines) == names) > 0.9

    evaluated = run("evaluate", str(model), str(data), "--label-column", "species")
    assert evaluated.returncode == 0, evaluated.stderr
    scores = dict(line.split() for line in evaluated.stdout.splitlines())
    indices = np.array([expected_classes.index(name) for name in names])
    reference = net.evaluate(X32, indices)
    assert float(scores["accuracy"]) == pytest.approx(reference["accuracy"], abs=1e-6)
    assert float(scores["loss"]) == pytest.approx(reference["loss"], rel=1e-5, abs=1e-6)  # printed %.6f
    return model, net


def test_iris_csv_with_species_names(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    iris = datasets.load_iris()
    names = iris.target_names[iris.target]
    data = write_csv(tmp_path / "iris.csv", iris.data, names)
    train_predict_evaluate(tmp_path, data, iris.data, names, "--hidden", "16", "--epochs", "150", "--lr", "0.05")


def test_synthetic_names_first_column_and_probabilities(tmp_path):
    X, names = blobs()
    data = write_csv(tmp_path / "blobs.csv", X, names, label_first=True)
    model, net = train_predict_evaluate(tmp_path, data, X, names, "--hidden", "8", "--epochs", "30", "--lr", "0.1")
    out = tmp_path / "proba.csv"
    proba = run("predict", str(model), str(data), "--label-column", "species", "--proba", "--out", str(out))
    assert proba.returncode == 0, proba.stderr
    header, *rows = out.read_text().splitlines()
    assert header.split(",") == NAMES.tolist()  # which column is which class
    np.testing.assert_allclose(np.loadtxt(rows, delimiter=","), net.predict_proba(X.astype(np.float32)),
                               rtol=1e-5, atol=1e-6)


def test_headerless_csv_with_names_keeps_its_first_row(tmp_path):
    X, names = blobs(60)
    data = write_csv(tmp_path / "plain.csv", X, names, header=False)
    model = tmp_path / "m.npz"
    trained = run("train", str(data), "--epochs", "1", "--val-split", "0", "--quiet", "--out", str(model))
    assert trained.returncode == 0, trained.stderr
    assert "60 training rows" in trained.stdout  # the first row is data, not a header
    assert dp.load(model).classes.tolist() == sorted(set(names.tolist()))


def test_npz_with_str_labels(tmp_path):
    X, names = blobs(90)
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=names)
    model = tmp_path / "m.npz"
    trained = run("train", str(data), "--epochs", "20", "--lr", "0.1", "--val-split", "0", "--quiet",
                  "--out", str(model))
    assert trained.returncode == 0, trained.stderr
    net = dp.load(model)
    assert net.classes.tolist() == NAMES.tolist()
    evaluated = run("evaluate", str(model), str(data))
    assert evaluated.returncode == 0, evaluated.stderr
    indices = np.searchsorted(NAMES, names)
    accuracy = float(dict(line.split() for line in evaluated.stdout.splitlines())["accuracy"])
    assert accuracy == pytest.approx(net.evaluate(X.astype(np.float32), indices)["accuracy"], abs=1e-6)


@pytest.fixture
def names_model(tmp_path):
    net = dp.MLP([4, 3], seed=0)
    net.classes = NAMES.copy()
    net.save(tmp_path / "names.npz")
    numeric = dp.MLP([4, 3], seed=0)
    numeric.save(tmp_path / "numbers.npz")
    return tmp_path / "names.npz", tmp_path / "numbers.npz"


def test_label_column_mixing_numbers_and_names_is_refused(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("a,b,species\n1,2,setosa\n3,4,2\n5,6,virginica\n")
    assert_one_line_error(run("train", str(path), "--label-column", "species"),
                          "mixed.csv", "'species' mixes numbers ('2' on line 3) and class names ('setosa' on line 2)")


def test_class_unseen_in_training_is_named(tmp_path, names_model):
    model, _ = names_model
    path = tmp_path / "new.csv"
    path.write_text("a,b,c,d,species\n1,2,3,4,setosa\n1,2,3,4,daisy\n")
    assert_one_line_error(run("evaluate", str(model), str(path)), "class 'daisy' not seen in training",
                          "'setosa', 'versicolor', 'virginica'")


@pytest.mark.parametrize("rows, args, fragments", [
    ("1,2,3,4,setosa\n1,x,3,4,virginica\n", [], ["line 3", "'x' in column 'b' is not a number"]),
    ("1,2,3,4,setosa\n1,2,3,4,\n", [], ["line 3", "empty label in column 'species'"]),
    ("1,2,3,4,setosa\n1,2,3,4,setosa\n", [], ["single class ('setosa')", "at least 2"]),
    ("1,2,3,4,setosa\n1,2,3,4,virginica\n", ["--loss", "mse"], ["class names", "--loss cross_entropy"]),
])
def test_train_errors_with_names(tmp_path, rows, args, fragments):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c,d,species\n" + rows)
    assert_one_line_error(run("train", str(path), *args), "bad.csv", *fragments)


def test_names_and_numbers_do_not_cross_between_model_and_data(tmp_path, names_model):
    names, numbers = names_model
    with_names = tmp_path / "names.csv"
    with_names.write_text("a,b,c,d,species\n1,2,3,4,setosa\n")
    with_numbers = tmp_path / "numbers.csv"
    with_numbers.write_text("a,b,c,d,label\n1,2,3,4,1\n")
    assert_one_line_error(run("evaluate", str(numbers), str(with_names)), "class names ('setosa')",
                          "trained on numeric labels")
    assert_one_line_error(run("evaluate", str(names), str(with_numbers)), "labels are numbers",
                          "'setosa', 'versicolor', 'virginica'")


def test_npz_object_labels_are_refused_without_pickle(tmp_path):
    data = tmp_path / "obj.npz"
    np.savez(data, X=np.ones((3, 2)), y=np.array(["a", "b", "a"], dtype=object))
    assert_one_line_error(run("train", str(data)), "obj.npz", "'y'", "pickle", "astype(str)")


# ------------------------------------------------------------- MLP.classes in the Python API
def test_classes_survive_copy_pickle_and_save(tmp_path):
    net = dp.MLP([4, 5, 3], seed=1)
    assert net.classes is None
    net.classes = NAMES.copy()
    twin = net.copy()
    twin.classes[0] = "changed"  # an independent copy
    assert net.classes.tolist() == NAMES.tolist()
    assert pickle.loads(pickle.dumps(net)).classes.tolist() == NAMES.tolist()
    net.save(tmp_path / "m.npz")
    assert dp.load(tmp_path / "m.npz").classes.tolist() == NAMES.tolist()
    dp.MLP([4, 3]).save(tmp_path / "plain.npz")
    assert dp.load(tmp_path / "plain.npz").classes is None


def test_classes_must_name_each_output_once(tmp_path):
    net = dp.MLP([4, 3])
    net.classes = np.array(["a", "b"])
    with pytest.raises(ValueError, match="classes: expected 3 distinct class names"):
        net.save(tmp_path / "m.npz")
    net.classes = NAMES.copy()
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as stored:
        fields = dict(stored)
    fields["classes"] = np.array(["a", "a", "b"])
    np.savez(tmp_path / "bad.npz", **fields)
    with pytest.raises(dp.ModelFormatError, match="field 'classes'"):
        dp.load(tmp_path / "bad.npz")
