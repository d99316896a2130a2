"""The numpy fast path over packed repeated fields agrees with protobuf's own reading."""

from __future__ import annotations

import numpy as np
import pytest
from codec_strategies import CODEC_SETTINGS
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inferstream.protos import tensor_pb2, types_pb2, v2_pb2
from inferstream.tensors import TensorCodecError
from inferstream.tensors.packed import decode_varints, read_packed, write_packed
from inferstream.tensors.tensorproto import decode_tensor_proto

SMALL = st.integers(-3, 300)
FAST_FIXED = 100  # fixed-width fields of at least this many values take the numpy path


@CODEC_SETTINGS
@given(
    # Sizes around the thresholds where the fast path takes over (1024 varints, 100 fixed-width values).
    ints=st.one_of(
        hnp.arrays(np.int64, st.integers(1000, 1100), elements=SMALL),
        hnp.arrays(np.int64, st.integers(1000, 1100)),
        hnp.arrays(np.int64, st.integers(0, 40)),
    ),
    floats=hnp.arrays(np.float32, st.integers(0, 160)),
)
def test_reads_what_protobuf_reads(ints: np.ndarray, floats: np.ndarray) -> None:  # type: ignore[type-arg]
    proto = tensor_pb2.TensorProto(int64_val=ints.tolist(), float_val=floats.tolist())
    proto.int_val.extend(ints.clip(-(2**31), 2**31 - 1).tolist())
    proto.bool_val.extend((ints % 2 == 0).tolist())
    for name, wire in [("int64_val", "int64"), ("int_val", "int32"), ("bool_val", "bool")]:
        fast = read_packed(proto, name, wire, name)  # type: ignore[arg-type]
        expected = np.array(getattr(proto, name))
        if fast is not None:  # None: long varints, left to protobuf
            assert fast.tolist() == expected.tolist()
    fast_floats = read_packed(proto, "float_val", "<f4", "float_val")
    assert (fast_floats is None) == (floats.size < FAST_FIXED)
    if fast_floats is not None:
        assert np.array_equal(fast_floats, np.array(proto.float_val, dtype=np.float32), equal_nan=True)


def test_which_fields_take_the_fast_path() -> None:
    few = tensor_pb2.TensorProto(float_val=[1.0] * (FAST_FIXED - 1), int64_val=[1] * 1023)
    assert read_packed(few, "float_val", "<f4", "f") is None
    assert read_packed(few, "int64_val", "int64", "f") is None
    negative = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64, int64_val=[-1, -2] * 1024)  # 10 bytes each
    negative.tensor_shape.dim.add(size=2048)
    assert read_packed(negative, "int64_val", "int64", "f") is None
    assert decode_tensor_proto(negative.SerializeToString()).data.tolist() == [-1, -2] * 1024
    small = [0, 1, 127, 128, 300, 16384, 2**40, 5] * 128
    fast = read_packed(tensor_pb2.TensorProto(int64_val=small), "int64_val", "int64", "f")
    assert fast is not None and fast.tolist() == small
    flags = read_packed(tensor_pb2.TensorProto(bool_val=[True, False] * 50), "bool_val", "bool", "f")
    assert flags is not None and flags.tolist() == [True, False] * 50


def test_writes_what_protobuf_writes() -> None:
    for size in (3, 120):  # below and above the fast-path threshold
        values = np.resize(np.array([1.5, -np.inf, 0.0]), size)
        flags = np.resize(np.array([True, False]), size)
        ours = v2_pb2.InferTensorContents()
        write_packed(ours, "fp64_contents", values, "<f8")
        write_packed(ours, "bool_contents", flags, "bool")
        write_packed(ours, "int_contents", np.array([-5, 7], dtype=np.int32), "int32")
        theirs = v2_pb2.InferTensorContents(fp64_contents=values.tolist(), bool_contents=flags.tolist(),
                                            int_contents=[-5, 7])  # fmt: skip
        assert ours.SerializeToString() == theirs.SerializeToString()


def test_unpacked_elements_on_the_wire_are_read_too() -> None:
    # float_val = 5 written element by element (wire type 5), as an old or lax writer may do.
    payload = b"\x08\x01" + b"\x12\x04\x12\x02\x08\x02" + b"\x2d\x00\x00\x80\x3f" + b"\x2d\x00\x00\x00\x40"
    assert decode_tensor_proto(payload).data.tolist() == [1.0, 2.0]
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64)
    proto.tensor_shape.dim.add(size=2)
    proto.ParseFromString(b"\x08\x09\x12\x04\x12\x02\x08\x02\x50\x05\x50\x06")  # int64_val unpacked
    assert decode_tensor_proto(proto.SerializeToString()).data.tolist() == [5, 6]


def test_malformed_varint_runs_raise_the_typed_error() -> None:
    with pytest.raises(TensorCodecError, match="truncated varint"):
        decode_varints(np.array([0x81], dtype=np.uint8), "int64_val")
    with pytest.raises(TensorCodecError, match="longer than 10 bytes"):
        decode_varints(np.array([0x80] * 11 + [0x01] + [0x01] * 30, dtype=np.uint8), "int64_val")
