"""deltaprop.load fed random bytes and mutated valid model files (bytes flipped, truncated,
spliced, members rewritten) only ever returns a model or raises ModelFormatError (a ValueError)
or OSError: never another exception, never a crash."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaprop as dp

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLEAN = (dp.ModelFormatError, OSError)


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    net = dp.MLP([3, 4, 2], activation="tanh", seed=0)
    net.save(path)
    return path.read_bytes()


def _load_bytes(tmp_path, data: bytes):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    try:
        net = dp.load(path)
    except CLEAN:
        return None
    assert isinstance(net, dp.MLP)  # whatever loads is a working model
    assert np.isfinite(net.get_params()).all()
    net.predict(np.zeros((1, net.sizes[0])))
    return net


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    _load_bytes(tmp_path, data)


@SETTINGS
@given(st.data())
def test_mutated_model_file(tmp_path, valid_bytes, data):
    blob = bytearray(valid_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        if not blob:
            break
        at = data.draw(st.integers(0, len(blob) - 1))
        if kind == "flip":
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            blob[at] = data.draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]))
        elif kind == "truncate":
            del blob[at:]
        elif kind == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            del blob[at:at + data.draw(st.integers(1, 16))]
    _load_bytes(tmp_path, bytes(blob))


def _rewrite(valid_bytes: bytes, member: str, payload: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid_bytes)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, payload if info.filename == member else src.read(info))
    return out.getvalue()


@SETTINGS
@given(st.data())
def test_member_replaced_by_another_array(tmp_path, valid_bytes, data):
    """A well-formed .npz whose fields have the wrong dtype, shape or values."""
    with zipfile.ZipFile(io.BytesIO(valid_bytes)) as src:
        members = src.namelist()
    member = data.draw(st.sampled_from(members))
    value = data.draw(st.one_of(
        st.integers(-2**63, 2**63 - 1).map(lambda v: np.array(v, dtype=np.int64)),
        st.lists(st.integers(-5, 2**40), max_size=5).map(lambda v: np.array(v, dtype=np.int64)),
        st.lists(st.floats(), max_size=40).map(lambda v: np.array(v, dtype=np.float64)),
        st.text(max_size=20).map(np.array),
        st.just(np.zeros((2, 3), dtype=np.float32)),
        st.just(np.array([], dtype=np.uint8)),
    ))
    buffer = io.BytesIO()
    np.save(buffer, value)
    payload = buffer.getvalue()
    if data.draw(st.booleans()):  # also a header that lies about the size of the data
        payload = payload[: data.draw(st.integers(0, len(payload)))]
    _load_bytes(tmp_path, _rewrite(valid_bytes, member, payload))


def test_the_unmutated_file_loads(tmp_path, valid_bytes):
    assert _load_bytes(tmp_path, valid_bytes) is not None


def _patch_central_entry(valid_bytes: bytes, member: str, offset: int, value: int) -> bytes:
    """valid_bytes with the 2-byte field at `offset` of member's central directory entry set."""
    blob = bytearray(valid_bytes)
    at = blob.index(b"PK\x01\x02")  # the first entry of the central directory
    while True:
        name_len = int.from_bytes(blob[at + 28: at + 30], "little")
        extra_len = int.from_bytes(blob[at + 30: at + 32], "little")
        comment_len = int.from_bytes(blob[at + 32: at + 34], "little")
        if bytes(blob[at + 46: at + 46 + name_len]) == member.encode():
            blob[at + offset: at + offset + 2] = value.to_bytes(2, "little")
            return bytes(blob)
        at += 46 + name_len + extra_len + comment_len


@pytest.mark.parametrize("field,value", [(8, 0x0001), (10, 99)], ids=["encrypted", "unknown-compression"])
def test_member_zipfile_cannot_open_is_a_format_error(tmp_path, valid_bytes, field, value):
    """A member flagged encrypted, or compressed by a method zipfile lacks (zipfile raises
    RuntimeError / NotImplementedError), is a ModelFormatError naming the file."""
    path = tmp_path / "odd.npz"
    path.write_bytes(_patch_central_entry(valid_bytes, "params.npy", field, value))
    with pytest.raises(dp.ModelFormatError, match="odd.npz"):
        dp.load(path)
