"""A rank's rows of an .npy or .npz file, memory-mapped: only its block is read."""
from __future__ import annotations

import os
import zipfile
from typing import Any, Dict

import numpy as np

from .mpi import block, check_comm

__all__ = ["load_shard"]


def load_shard(path: Any, comm: Any, keys: Any = None) -> Dict[str, np.ndarray]:
    """{name: this rank's block of rows} of every array in an .npz (or keys of it), or
    {"X": ...} of an .npy; the blocks are those of `shard` over the first array's rows. An
    .npy, and an .npz member stored without compression, is memory-mapped, so a rank reads its
    rows only; a compressed member is read whole and then sliced."""
    comm = check_comm(comm)
    path = os.fspath(path)
    if path.endswith(".npy"):
        arrays = {"X": np.load(path, mmap_mode="r")}
    elif path.endswith(".npz"):
        arrays = _npz_members(path, keys)
    else:
        raise ValueError(f"path: expected an .npy or .npz file, got {path!r}")
    if not arrays:
        raise ValueError(f"path: {path!r} holds no arrays")
    n = {name: a.shape[0] for name, a in arrays.items() if a.ndim}
    if len(set(n.values())) != 1:
        raise ValueError(f"path: the arrays of {path!r} differ in their row counts: {n}")
    rows = block(next(iter(n.values())), comm.Get_rank(), comm.Get_size())
    return {name: np.ascontiguousarray(a[rows]) for name, a in arrays.items()}


def _npz_members(path: str, keys: Any) -> Dict[str, np.ndarray]:
    arrays: Dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        infos = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
    for name in (infos if keys is None else keys):
        if name not in infos:
            raise KeyError(f"keys: {name!r} is not in {path!r} (it holds {sorted(infos)})")
        info = infos[name]
        if info.compress_type == zipfile.ZIP_STORED:
            arrays[name] = _mapped_member(path, info)
        else:
            with np.load(path) as data:
                arrays[name] = data[name]
    return arrays


def _mapped_member(path: str, info: zipfile.ZipInfo) -> np.ndarray:
    """An uncompressed .npz member memory-mapped in place: its data start after the zip's local
    header and the .npy header."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(start)
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"path: member {info.filename!r} of {path!r} holds Python objects (not read)")
    return np.memmap(path, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=offset)
