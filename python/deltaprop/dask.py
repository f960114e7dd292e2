"""Prediction over a dask array or dataframe (`pip install "dask[distributed]"`).

    from deltaprop import dask as dpd
    labels = dpd.predict(model, X)            # X: a dask array (n, features) or dataframe
    proba = dpd.predict_proba(model, X)       # lazy dask arrays, one block per row block of X

With a distributed Client the model goes to every worker once (`client.scatter(...,
broadcast=True)`) and each task refers to it, instead of a copy inside every task; without one
the blocks run on dask's local scheduler, where the model is shared in memory. A model is
anything with predict / predict_proba (an MLP, a deltaprop.sklearn estimator), and pickles as
flat arrays. Out-of-core training works through dask-ml: `Incremental(MLPClassifier(...))`
calls partial_fit block after block.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["predict", "predict_proba"]


def predict(model: Any, X: Any, client: Any = None) -> Any:
    """model.predict over the row blocks of X (a dask array or dataframe): a dask array."""
    return _map(model, X, "predict", client)


def predict_proba(model: Any, X: Any, client: Any = None) -> Any:
    """model.predict_proba over the row blocks of X (a dask array or dataframe): a dask array."""
    return _map(model, X, "predict_proba", client)


def _apply(block: np.ndarray, model: Any, method: str) -> np.ndarray:
    return getattr(model, method)(block)


def _map(model: Any, X: Any, method: str, client: Any) -> Any:
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError(f"deltaprop.dask needs dask ({exc}); pip install \"dask[distributed]\"") from exc
    if not callable(getattr(model, method, None)):
        raise TypeError(f"model: expected a model with {method}(), got {type(model).__name__}")
    if hasattr(X, "to_dask_array"):  # a dask dataframe: its partitions as row blocks
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"X: expected a dask array or dataframe, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (n, features), got shape {X.shape}")
    X = X.rechunk({1: -1})  # whole rows in every block
    sample = np.asarray(getattr(model, method)(np.zeros((1, X.shape[1]), dtype=X.dtype)))  # the output's shape
    client = _client() if client is None else client
    shared = model if client is None else client.scatter(model, broadcast=True, hash=False)
    kwargs = dict(dtype=sample.dtype, model=shared, method=method)
    if sample.ndim == 1:
        return X.map_blocks(_apply, drop_axis=1, chunks=(X.chunks[0],), **kwargs)
    return X.map_blocks(_apply, chunks=(X.chunks[0], (sample.shape[1],)), **kwargs)


def _client() -> Any:
    """The current distributed Client, or None (dask's local scheduler)."""
    try:
        from distributed import get_client
        return get_client()
    except (ImportError, ValueError):
        return None
