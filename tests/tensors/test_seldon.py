"""Seldon Core v1 SeldonMessage: ndarray, tensor and tftensor, in JSON and protobuf."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from codec_strategies import ALL_DTYPES, ANY_SHAPE, CODEC_SETTINGS, JSON_SHAPE, assert_same, tensors
from hypothesis import given
from hypothesis import strategies as st

from inferstream.protos import seldon_pb2
from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.seldon import (
    SeldonKind,
    parse_seldon_json,
    parse_seldon_proto,
    seldon_message_json,
    seldon_message_proto,
)

NUMBERS = [DType.DT_FLOAT, DType.DT_DOUBLE, DType.DT_INT32, DType.DT_BOOL]
# int64 beyond 2**53 is refused by the forms that carry doubles (tested below).
def small_int64(shapes: st.SearchStrategy[tuple[int, ...]] = ANY_SHAPE) -> st.SearchStrategy[Tensor]:
    exact = tensors([DType.DT_INT64], shapes)
    return exact.filter(lambda t: t.data.size == 0 or np.abs(t.data).max() <= 2**53)


@CODEC_SETTINGS
@given(tensor=tensors(ALL_DTYPES))
def test_tftensor_keeps_every_type_in_json_and_protobuf(tensor: Tensor) -> None:
    body = json.loads(json.dumps(seldon_message_json(tensor, kind=SeldonKind.TFTENSOR, names=["a"])))
    parsed = parse_seldon_json(body)
    assert (parsed.kind, parsed.names) == (SeldonKind.TFTENSOR, ["a"])
    assert_same(parsed.tensor, tensor)
    message = seldon_message_proto(tensor)
    wire = seldon_pb2.SeldonMessage.FromString(message.SerializeToString())
    assert_same(parse_seldon_proto(wire).tensor, tensor)


@CODEC_SETTINGS
@given(tensor=st.one_of(tensors(NUMBERS), small_int64()), proto=st.booleans())
def test_tensor_form_round_trip(tensor: Tensor, proto: bool) -> None:
    if proto:
        message = seldon_message_proto(tensor, kind=SeldonKind.TENSOR)
        parsed = parse_seldon_proto(seldon_pb2.SeldonMessage.FromString(message.SerializeToString()),
                                    dtype=tensor.dtype)  # fmt: skip
    else:
        body = json.loads(json.dumps(seldon_message_json(tensor, kind=SeldonKind.TENSOR)))
        parsed = parse_seldon_json(body, dtype=tensor.dtype)
    assert parsed.kind is SeldonKind.TENSOR
    assert_same(parsed.tensor, tensor)


@CODEC_SETTINGS
@given(tensor=tensors([*NUMBERS, DType.DT_INT64, DType.DT_STRING], JSON_SHAPE))
def test_ndarray_json_round_trip(tensor: Tensor) -> None:
    body = json.loads(json.dumps(seldon_message_json(tensor, names=["f0"], meta={"puid": "p"})))
    parsed = parse_seldon_json(body, dtype=tensor.dtype)
    assert (parsed.kind, parsed.names, parsed.meta) == (SeldonKind.NDARRAY, ["f0"], {"puid": "p"})
    assert_same(parsed.tensor, tensor)


@CODEC_SETTINGS
@given(tensor=st.one_of(tensors([*NUMBERS, DType.DT_STRING], JSON_SHAPE), small_int64(JSON_SHAPE)))
def test_ndarray_protobuf_round_trip(tensor: Tensor) -> None:
    if tensor.data.ndim == 0:
        with pytest.raises(TensorCodecError, match="rank >= 1"):
            seldon_message_proto(tensor, kind=SeldonKind.NDARRAY)
        return
    message = seldon_message_proto(tensor, kind=SeldonKind.NDARRAY)
    wire = seldon_pb2.SeldonMessage.FromString(message.SerializeToString())
    assert_same(parse_seldon_proto(wire, dtype=tensor.dtype).tensor, tensor)


def test_bodies_look_like_seldons() -> None:
    x = np.array([[1.0, 2.0]], dtype=np.float32)
    expected_json = {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}
    assert seldon_message_json(x, names=["a", "b"]) == expected_json
    assert seldon_message_json(x, kind=SeldonKind.TENSOR) == {
        "data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    }
    expected = seldon_pb2.SeldonMessage()
    expected.data.tensor.shape.extend([1, 2])
    expected.data.tensor.values.extend([1.0, 2.0])
    assert seldon_message_proto(x, kind=SeldonKind.TENSOR) == expected
    # What seldon-core's Python wrapper answers: float64 by default.
    parsed = parse_seldon_json({"data": {"names": [], "ndarray": [[0.5, 1]]}, "meta": {}})
    assert parsed.tensor.dtype is DType.DT_DOUBLE and parsed.tensor.data.tolist() == [[0.5, 1.0]]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"data": {"ndarray": [[1, 2], [3]]}}, "data.ndarray", "ragged"),
        ({"data": {"ndarray": [1], "tensor": {"shape": [1], "values": [1]}}}, "data", "exactly one"),
        ({"data": {"names": []}}, "data", "exactly one"),
        ({"strData": "hello"}, "data", "strData"),
        ({"data": {"tensor": {"shape": [3], "values": [1, 2]}}}, "data.tensor.values", "do not fill"),
        ({"data": {"tensor": {"values": [1]}}}, "data.tensor", "needs shape and values"),
        ({"data": {"tensor": {"shape": [1], "values": ["a"]}}}, "data.tensor.values", "mixed"),
        ({"data": {"tftensor": {"dtype": "DT_NOPE"}}}, "data.tftensor", "not a TensorProto"),
        ({"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]},
                                "floatVal": [1, 2, 3]}}},
         "data.tftensor.float_val", "3 values do not fill shape [2]"),
        ({"data": {"names": "a", "ndarray": [1]}}, "data.names", "list of strings"),
        ({"status": {"status": "FAILURE", "code": 500, "info": "boom"}}, "status", "boom"),
        ([1], "body", "JSON object"),
    ],
)  # fmt: skip
def test_bad_json_raises_the_typed_error(body: Any, field: str, reason: str) -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_seldon_json(body)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_bad_protobuf_and_unencodable_values_raise_the_typed_error() -> None:
    with pytest.raises(TensorCodecError, match="carries strData"):
        parse_seldon_proto(seldon_pb2.SeldonMessage(strData="x"))
    failed = seldon_pb2.SeldonMessage(status=seldon_pb2.Status(status=seldon_pb2.Status.FAILURE, info="no"))
    with pytest.raises(TensorCodecError, match="FAILURE"):
        parse_seldon_proto(failed)
    bad = seldon_pb2.SeldonMessage()
    bad.data.tensor.shape.append(2)
    bad.data.tensor.values.append(1.0)
    with pytest.raises(TensorCodecError, match="1 values do not fill shape"):
        parse_seldon_proto(bad)
    bools = seldon_message_proto(np.array([0.0, 2.0]), kind=SeldonKind.TENSOR)
    with pytest.raises(TensorCodecError, match="other than 0 and 1"):
        parse_seldon_proto(bools, dtype=DType.DT_BOOL)
    with pytest.raises(TensorCodecError, match="beyond 2\\*\\*53"):
        seldon_message_json(np.array([2**60]), kind=SeldonKind.TENSOR)
    with pytest.raises(TensorCodecError, match="beyond 2\\*\\*53"):
        seldon_message_proto(np.array([2**60]), kind=SeldonKind.NDARRAY)
    with pytest.raises(TensorCodecError, match="numbers only"):
        seldon_message_proto(np.array([b"a"], dtype=object), kind=SeldonKind.TENSOR)
    with pytest.raises(TensorCodecError, match="beyond the limit"):
        parse_seldon_json({"data": {"ndarray": [0.0] * 10}}, max_bytes=40)
    # JSON keeps int64 exact where doubles could not.
    big = parse_seldon_json(seldon_message_json(np.array([2**60])), dtype=DType.DT_INT64)
    assert big.tensor.data.tolist() == [2**60]
