"""Dask: prediction over dask arrays and dataframes on a LocalCluster of 2 worker processes
with the model scattered once; dask-ml's Incremental (partial_fit block after block, the
estimator pickled between workers) and ParallelPostFit; models pickle as flat arrays and keep
training as if they had not been pickled."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import deltaprop as dp

da = pytest.importorskip("dask.array", reason="the Dask tests need dask[distributed] (in the test extra)")
distributed = pytest.importorskip("distributed", reason="the Dask tests need dask[distributed] (in the test extra)")
cloudpickle = pytest.importorskip("cloudpickle", reason="comes with dask")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers", reason="the Incremental tests need dask-ml (in the test extra)")
from deltaprop import dask as dpd  # noqa: E402
from deltaprop.sklearn import MLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _data(n=600, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)


def test_pickled_model_is_flat_and_keeps_training_the_same(rng):
    X, y = _data()
    model = dp.MLP([20, 32, 3], seed=1)
    model.fit(X, y, epochs=2, optimizer="adam", lr=0.01)
    blob = pickle.dumps(model)
    twin = pickle.loads(blob)
    assert len(blob) < 4 * model.num_params * 4 + 20000  # parameters, Adam's two moments, a little more
    assert "deltaprop._core" not in blob.decode("latin-1")  # no core object, only numpy arrays
    model.fit(X, y, epochs=2, optimizer="adam", lr=0.01, warm_start=True)
    twin.fit(X, y, epochs=2, optimizer="adam", lr=0.01, warm_start=True)
    np.testing.assert_array_equal(twin.get_params(), model.get_params())


def test_predict_over_a_dask_array_sends_the_model_once(client):
    X, y = _data()
    model = dp.MLP([20, 256, 256, 3], seed=2)
    model.fit(X, y, epochs=1)
    dX = da.from_array(X, chunks=(150, 10))
    np.testing.assert_array_equal(dpd.predict(model, dX).compute(), model.predict(X))
    np.testing.assert_array_equal(dpd.predict_proba(model, dX).compute(), model.predict_proba(X))
    # A graph without the data: the model (about 300 kB) is not in it, only a reference to it.
    lazy = dpd.predict_proba(model, da.ones((10000, 20), chunks=(500, 20), dtype=np.float32))
    assert len(cloudpickle.dumps(dict(lazy.__dask_graph__()))) < len(pickle.dumps(model)) / 4
    assert lazy.compute().shape == (10000, 3)


def test_predict_over_a_dask_dataframe(client):
    dd = pytest.importorskip("dask.dataframe", reason="dask dataframes need pandas")
    pd = pytest.importorskip("pandas")
    X, y = _data(200)
    model = dp.MLP([20, 16, 3], seed=3)
    model.fit(X, y, epochs=1)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    np.testing.assert_array_equal(dpd.predict(model, frame).compute(), model.predict(X))


def test_bad_inputs_are_named():
    model = dp.MLP([20, 4, 3])
    with pytest.raises(TypeError, match="X: expected a dask array or dataframe"):
        dpd.predict(model, np.zeros((3, 20)))
    with pytest.raises(TypeError, match="model: expected a model with predict_proba"):
        dpd.predict_proba(object(), da.zeros((3, 20)))


def test_incremental_trains_block_by_block_as_partial_fit_does(client):
    X, y = _data(1200)
    blocks = 4
    dX, dy = da.from_array(X, chunks=(300, 20)), da.from_array(y, chunks=300)
    options = dict(hidden_layer_sizes=(32,), solver="adam", learning_rate_init=0.01, random_state=0,
                   batch_size=50)
    incremental = dask_ml_wrappers.Incremental(MLPClassifier(**options), shuffle_blocks=False)
    incremental.fit(dX, dy, classes=[0, 1, 2])
    reference = MLPClassifier(**options)
    for i in range(blocks):
        rows = slice(300 * i, 300 * (i + 1))
        reference.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    for got, expected in zip(incremental.estimator_.coefs_, reference.coefs_):
        np.testing.assert_array_equal(got, expected)
    assert incremental.score(dX, dy) > 0.6  # the majority class is half of the rows


def test_parallel_post_fit_predicts_like_the_estimator(client):
    X, y = _data()
    with pytest.warns(Warning, match="Maximum iterations"):  # a short fit: predictions are what is tested
        estimator = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    wrapped = dask_ml_wrappers.ParallelPostFit(estimator)
    dX = da.from_array(X, chunks=(100, 20))
    np.testing.assert_array_equal(wrapped.predict(dX).compute(), estimator.predict(X))
    np.testing.assert_array_equal(dpd.predict_proba(estimator, dX).compute(), estimator.predict_proba(X))
