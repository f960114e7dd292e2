"""`deltaprop train`, `predict` and `evaluate`: a model trained from a data file, saved as .npz,
then applied to other files."""
from __future__ import annotations

import argparse
import csv
import sys
from typing import List, Optional, Tuple

import numpy as np

from .data import features_for, load_table, split_labels, train_validation_split
from .labels import encode_for_model, encode_for_training, is_names, listing

__all__ = ["add_train", "add_predict", "add_evaluate"]


def _hidden_sizes(text: str) -> List[int]:
    """"256,128" -> [256, 128]; "" or "none" -> [] (a linear model)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 256,128, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return sizes


def _count(minimum: int):
    """argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


def _is_class_labels(y: np.ndarray) -> bool:
    return y.ndim == 1 and y.size > 0 and bool(np.all(y == np.round(y))) and y.min() >= 0


def _targets(y: np.ndarray, loss: str, path: str) -> Tuple[str, np.ndarray, int, Optional[np.ndarray]]:
    """(loss, targets as the model wants them, output width, class names or None)."""
    if is_names(y):
        if loss not in ("auto", "cross_entropy"):
            raise ValueError(f"{path}: the labels are class names, which need --loss cross_entropy (or auto), "
                             f"got --loss {loss}")
        classes, labels = encode_for_training(y, path)
        return "cross_entropy", labels, len(classes), classes
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected numeric labels or class names (str), got an array of dtype {y.dtype}")
    if loss == "auto":
        loss = "cross_entropy" if _is_class_labels(y) else "mse"
    if loss == "cross_entropy" and y.ndim == 1:
        if not _is_class_labels(y):
            raise ValueError(f"{path}: cross_entropy needs integer class labels 0..C-1 in the label column")
        labels = y.astype(np.int64)
        return loss, labels, max(2, int(labels.max()) + 1), None
    targets = y.reshape(-1, 1) if y.ndim == 1 else y
    return loss, targets, targets.shape[1], None


def _train(args: argparse.Namespace) -> int:
    import deltaprop as dp

    if args.distributed:
        from .distributed import train_distributed
        if args.device != "cpu":
            raise ValueError("--distributed: trains on the CPU of each rank (give no --device)")
        return train_distributed(args, _targets, _report)
    if args.threads is not None:
        dp.set_num_threads(args.threads)
    table = load_table(args.data, delimiter=args.delimiter, x_key=args.x_key, y_key=args.y_key)
    X, y = split_labels(table, args.label_column)
    loss, y, outputs, classes = _targets(np.asarray(y), args.loss, args.data)
    X_train, y_train, X_val, y_val = train_validation_split(X, y, args.val_split, args.seed)
    net = dp.MLP([X.shape[1], *args.hidden, outputs], activation=args.activation, loss=loss,
                 dtype=args.dtype, seed=args.seed, device=args.device, precision=args.precision)
    net.classes = classes
    print(f"{net}: {len(X_train)} training rows, {len(X_val)} validation rows", flush=True)
    if classes is not None:
        print(f"{len(classes)} classes: {listing(classes, limit=20)}", flush=True)
    validation = (X_val, y_val) if len(X_val) else None
    history = net.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                      lr=args.lr, validation_data=validation, seed=args.seed, verbose=not args.quiet)
    net.save(args.out)
    _report(history, args.out)
    return 0


def _report(history, out: str) -> None:
    summary = f"trained {history.epochs} epochs in {history.seconds:.2f} s ({history.samples_per_sec:,.0f} samples/s)"
    if history.train_loss:
        summary += f"; loss {history.train_loss[-1]:.4f}"
    for key, values in (("val_loss", history.val_loss), ("val_accuracy", history.val_accuracy)):
        if values:
            summary += f", {key} {values[-1]:.4f}"
    print(f"{summary}; saved {out}")


def _model_and_table(args: argparse.Namespace, y_key: Optional[str]):
    import deltaprop as dp

    net = dp.load(args.model).to(args.device, args.precision)
    return net, load_table(args.data, delimiter=args.delimiter, x_key=args.x_key, y_key=y_key)


def _write_predictions(out, result: np.ndarray, classes: Optional[np.ndarray]) -> None:
    """CSV rows: class names (csv-quoted when needed) when the model has them, else numbers;
    probabilities get a header of class names when the model has them."""
    if classes is not None and result.dtype.kind in "iu":
        csv.writer(out, lineterminator="\n").writerows([name] for name in classes[result.reshape(-1)])
        return
    if classes is not None:
        csv.writer(out, lineterminator="\n").writerow(classes)
    np.savetxt(out, result, fmt="%d" if result.dtype.kind in "iu" else "%.6g", delimiter=",")


def _predict(args: argparse.Namespace) -> int:
    net, table = _model_and_table(args, y_key=None)
    X = features_for(table, net.sizes[0], args.label_column)
    result = net.predict_proba(X) if args.proba else net.predict(X)
    result = result.reshape(len(X), -1)
    if args.out in (None, "-"):
        _write_predictions(sys.stdout, result, net.classes)
        return 0
    with open(args.out, "w", newline="") as handle:
        _write_predictions(handle, result, net.classes)
    print(f"wrote {len(result)} predictions to {args.out}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    net, table = _model_and_table(args, y_key=args.y_key)
    X, y = split_labels(table, args.label_column)
    y = np.asarray(y)
    if net.classes is not None or is_names(y):
        y = encode_for_model(y, net.classes, args.data)
    elif net.loss == "cross_entropy" and y.ndim == 1:
        if not _is_class_labels(y):
            raise ValueError(f"{args.data}: the model needs integer class labels in the label column")
        y = y.astype(np.int64)
    elif y.ndim == 1:
        y = y.reshape(-1, 1)
    for key, value in net.evaluate(X, y).items():
        print(f"{key} {value:.6f}")
    return 0


def _data_options(parser: argparse.ArgumentParser, labels: bool) -> None:
    parser.add_argument("--delimiter", default=None, help="CSV field separator (default: ',' or tab for .tsv)")
    parser.add_argument("--x-key", default="X", help="NPZ: name of the feature array (default X)")
    if labels:
        parser.add_argument("--y-key", default="y", help="NPZ: name of the label array (default y)")


def add_train(sub: argparse._SubParsersAction) -> None:
    from ..training import OPTIMIZERS

    p = sub.add_parser("train", help="train a network on a CSV or NPZ file and save it",
                       description="Train a network on a CSV (one row per sample) or NPZ file and save it as .npz.")
    p.add_argument("data", help="training data: .csv/.tsv (numeric features, optional header; labels: numbers "
                                "or class names) or .npz")
    p.add_argument("--label-column", default="-1", help="CSV: label column, by header name or index (default: last)")
    _data_options(p, labels=True)
    p.add_argument("--hidden", type=_hidden_sizes, default=[64], help="hidden layer widths, e.g. 256,128 (default 64)")
    p.add_argument("--activation", default="relu", help="hidden activation: relu, leaky_relu, tanh, sigmoid, identity")
    p.add_argument("--loss", default="auto", choices=["auto", "cross_entropy", "mse", "binary_cross_entropy"],
                   help="auto: cross_entropy for integer labels or class names, else mse")
    p.add_argument("--optimizer", default="sgd", help=f"one of {', '.join(OPTIMIZERS)} (default sgd)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--epochs", type=_count(0), default=10)
    p.add_argument("--batch-size", type=_count(1), default=32)
    p.add_argument("--val-split", type=float, default=0.1, help="fraction held out for validation (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="weights, split and shuffling seed")
    p.add_argument("--threads", type=_count(1), default=None, help="core threads (default: all)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    _device_option(p)
    _precision_option(p, "fp32", "(default fp32; saved with the model)")
    p.add_argument("--out", default="model.npz", help="where to save the model (default model.npz)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: run as `mpiexec -n N deltaprop train data.npz --distributed`; "
                        "each rank maps only its rows of the .npz (needs the mpi extra)")
    p.set_defaults(run=_train)


def _device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N (needs the CUDA backend and a GPU)")


def _precision_option(p: argparse.ArgumentParser, default: Optional[str], what: str) -> None:
    p.add_argument("--precision", default=default, choices=["fp32", "bf16", "tf32"],
                   help=f"precision of the matrix products {what}: fp32, bf16 (CPU, float32 models: bfloat16 "
                        "products, float32 weights) or tf32 (GPU)")


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict with a saved model; CSV out",
                       description="Predict with a saved model. A label column, when present, is dropped.")
    p.add_argument("model", help="a model saved by `deltaprop train` or MLP.save")
    p.add_argument("data", help="inputs: .csv/.tsv or .npz")
    p.add_argument("--label-column", default=None, help="CSV: a column to drop (default: the last, when the "
                                                           "file has one column more than the model's inputs)")
    _data_options(p, labels=False)
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels (with a header "
                                                        "of class names when the model has them)")
    p.add_argument("--out", default=None, help="output CSV (default: standard output)")
    _device_option(p)
    _precision_option(p, None, "(default: the model's)")
    p.set_defaults(run=_predict)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="loss and accuracy of a saved model on labelled data",
                       description="Loss (and accuracy for classifiers) of a saved model on labelled data.")
    p.add_argument("model", help="a model saved by `deltaprop train` or MLP.save")
    p.add_argument("data", help="labelled data: .csv/.tsv or .npz")
    p.add_argument("--label-column", default="-1", help="CSV: label column, by header name or index (default: last)")
    _data_options(p, labels=True)
    _device_option(p)
    _precision_option(p, None, "(default: the model's)")
    p.set_defaults(run=_evaluate)
