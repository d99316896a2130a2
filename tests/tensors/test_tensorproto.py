"""TensorFlow TensorProto codec: round trips, hand-built messages, TensorFlow itself as reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from codec_strategies import CODEC_SETTINGS, assert_same, tensors
from hypothesis import given

from inferstream.protos import predict_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.tensorproto import (
    TF_DATATYPE,
    decode_tensor_proto,
    encode_tensor_proto,
    tensor_from_proto,
    tensor_to_proto,
)


@CODEC_SETTINGS
@given(tensors())
def test_round_trip_through_tensor_content(tensor: Tensor) -> None:
    assert_same(decode_tensor_proto(encode_tensor_proto(tensor)), tensor)


@CODEC_SETTINGS
@given(tensors())
def test_round_trip_through_typed_fields(tensor: Tensor) -> None:
    payload = encode_tensor_proto(tensor, typed_fields=True)
    assert not tensor_pb2.TensorProto.FromString(payload).tensor_content
    assert_same(decode_tensor_proto(payload), tensor)


def _hand_built(**fields: Any) -> bytes:
    proto = tensor_pb2.TensorProto(**fields)
    return bytes(proto.SerializeToString())


def _shape(*sizes: int, names: tuple[str, ...] = ()) -> Any:
    proto = tensor_shape_pb2.TensorShapeProto()
    for i, size in enumerate(sizes):
        dim = proto.dim.add(size=size)
        if names:
            dim.name = names[i]
    return proto


def test_writes_exactly_the_hand_built_message() -> None:
    tensor = Tensor(DType.DT_FLOAT, np.array([[1.0, -2.5]], dtype=np.float32), dim_names=("batch", ""))
    expected = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=_shape(1, 2, names=("batch", "")),
        tensor_content=np.array([1.0, -2.5], dtype="<f4").tobytes(),
    )
    assert tensor_to_proto(tensor) == expected
    typed = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(1, 2, names=("batch", "")), float_val=[1.0, -2.5]
    )
    assert tensor_to_proto(tensor, typed_fields=True) == typed
    strings = Tensor(DType.DT_STRING, np.array([b"a", b"\xff"], dtype=object))
    assert tensor_to_proto(strings) == tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, tensor_shape=_shape(2), string_val=[b"a", b"\xff"]
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (dict(dtype=types_pb2.DT_DOUBLE, tensor_shape=_shape(2), double_val=[1.5, -np.inf]),
         np.array([1.5, -np.inf])),
        (dict(dtype=types_pb2.DT_INT32, tensor_shape=_shape(2, 1), int_val=[7, -8]),
         np.array([[7], [-8]], dtype=np.int32)),
        (dict(dtype=types_pb2.DT_INT64, tensor_shape=_shape(1), int64_val=[2**62]), np.array([2**62])),
        (dict(dtype=types_pb2.DT_BOOL, tensor_shape=_shape(3), bool_val=[True, False, True]),
         np.array([True, False, True])),
        (dict(dtype=types_pb2.DT_BOOL, tensor_shape=_shape(2), tensor_content=b"\x01\x00"),
         np.array([True, False])),
        (dict(dtype=types_pb2.DT_COMPLEX64, tensor_shape=_shape(1), scomplex_val=[1.0, 2.0]),
         np.array([1 + 2j], dtype=np.complex64)),
        (dict(dtype=types_pb2.DT_COMPLEX128, tensor_shape=_shape(1), dcomplex_val=[np.nan, -1.0]),
         np.array([complex(np.nan, -1.0)])),
        (dict(dtype=types_pb2.DT_FLOAT, float_val=[3.0]), np.array(3.0, dtype=np.float32)),
        # TensorFlow's convention: a single typed value fills the whole shape.
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(2, 2), float_val=[0.5]),
         np.full((2, 2), 0.5, dtype=np.float32)),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(0, 3)), np.zeros((0, 3), dtype=np.float32)),
        # DT_STRING tensor_content: varint lengths, then the bytes (TensorFlow's string list).
        (dict(dtype=types_pb2.DT_STRING, tensor_shape=_shape(2), tensor_content=b"\x01\x02ab\xff"),
         np.array([b"a", b"b\xff"], dtype=object)),
    ],
)  # fmt: skip
def test_reads_hand_built_messages(fields: dict[str, Any], expected: np.ndarray[Any, Any]) -> None:
    tensor = decode_tensor_proto(_hand_built(**fields))
    assert_same(tensor, Tensor.from_numpy(expected))


def test_reads_dim_names() -> None:
    payload = _hand_built(dtype=types_pb2.DT_INT64, tensor_shape=_shape(1, names=("rows",)), int64_val=[1])
    assert decode_tensor_proto(payload).dim_names == ("rows",)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(3), tensor_content=b"\x00" * 8),
         "tensor_content", "8 bytes do not fill shape [3]"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(3), float_val=[1.0, 2.0]),
         "float_val", "2 values do not fill shape [3]"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(2)), "float_val", "no data"),
        (dict(dtype=99, tensor_shape=_shape(1)), "dtype", "unknown DataType 99"),
        (dict(dtype=types_pb2.DT_HALF, tensor_shape=_shape(1), half_val=[1]),
         "dtype", "DT_HALF is not supported"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(1), double_val=[1.0]),
         "double_val", "does not match dtype DT_FLOAT"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(1), float_val=[1.0],
              tensor_content=b"\x00" * 4), "tensor_content", "set together with float_val"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(unknown_rank=True)),
         "tensor_shape", "unknown rank"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(-1), float_val=[1.0]),
         "dim[0]", "negative or unknown"),
        (dict(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(1 << 40), float_val=[1.0]),
         "tensor_shape.dim", "beyond the limit"),
        (dict(dtype=types_pb2.DT_COMPLEX64, tensor_shape=_shape(1), scomplex_val=[1.0]),
         "scomplex_val", "pairs"),
        (dict(dtype=types_pb2.DT_STRING, tensor_shape=_shape(2), tensor_content=b"\x01\x05a"),
         "tensor_content", "string lengths"),
        (dict(dtype=types_pb2.DT_STRING, tensor_shape=_shape(2), tensor_content=b"\x81"),
         "tensor_content", "truncated or malformed varint"),
    ],
)  # fmt: skip
def test_bad_messages_raise_the_typed_error(fields: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(TensorCodecError) as caught:
        decode_tensor_proto(_hand_built(**fields))
    assert field in caught.value.field
    assert reason in caught.value.reason


def test_truncated_bytes_raise_the_typed_error() -> None:
    payload = encode_tensor_proto(Tensor.from_numpy(np.arange(8, dtype=np.float32)))
    with pytest.raises(TensorCodecError, match="truncated or malformed"):
        decode_tensor_proto(payload[:-3])


def test_size_limit_is_configurable() -> None:
    payload = encode_tensor_proto(Tensor.from_numpy(np.zeros(1000, dtype=np.float64)))
    assert decode_tensor_proto(payload, max_bytes=8000).shape == (1000,)
    with pytest.raises(TensorCodecError, match="beyond the limit of 7999 bytes"):
        decode_tensor_proto(payload, max_bytes=7999)
    strings = encode_tensor_proto(Tensor.from_numpy(np.array([b"x" * 100], dtype=object)))
    with pytest.raises(TensorCodecError, match="beyond the limit"):
        decode_tensor_proto(strings, max_bytes=50)


# TensorFlow itself as the reference: its make_tensor_proto / make_ndarray against ours.


@pytest.fixture(scope="module")
def tf() -> Any:
    import tensorflow

    return tensorflow


@CODEC_SETTINGS
@given(tensor=tensors())
def test_tensorflow_reads_what_we_write(tf: Any, tensor: Tensor) -> None:
    for typed in (False, True):
        theirs = tf.make_tensor_proto(0).__class__.FromString(encode_tensor_proto(tensor, typed_fields=typed))
        back = tf.make_ndarray(theirs)
        if tensor.dtype is DType.DT_STRING:
            assert back.reshape(-1).tolist() == tensor.data.reshape(-1).tolist()
            assert back.shape == tensor.shape
        else:
            assert_same(Tensor.from_numpy(back), tensor)


@CODEC_SETTINGS
@given(tensor=tensors())
def test_we_read_what_tensorflow_writes(tf: Any, tensor: Tensor) -> None:
    dtype = tf.as_dtype(TF_DATATYPE[tensor.dtype])
    theirs = tf.make_tensor_proto(tensor.data, dtype=dtype, shape=tensor.shape)
    assert_same(decode_tensor_proto(theirs.SerializeToString()), tensor)


def test_writes_into_predict_map_entries() -> None:
    tensor = Tensor.from_numpy(np.arange(300, dtype=np.float32).reshape(3, 100))
    response = predict_pb2.PredictResponse()
    tensor_to_proto(tensor, typed_fields=True, into=response.outputs["y"])
    tensor_to_proto(tensor, into=response.outputs["z"])
    wire = predict_pb2.PredictResponse.FromString(response.SerializeToString())
    assert len(wire.outputs["y"].float_val) == 300 and not wire.outputs["y"].tensor_content
    assert_same(tensor_from_proto(wire.outputs["y"]), tensor)
    assert_same(tensor_from_proto(wire.outputs["z"]), tensor)
