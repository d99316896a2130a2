"""Open Inference Protocol V2: JSON bodies and gRPC messages (typed and raw contents)."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from codec_strategies import CODEC_SETTINGS, REAL_DTYPES, assert_same, tensors
from hypothesis import given
from hypothesis import strategies as st

from inferstream.protos import v2_pb2
from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.v2 import (
    infer_request_json,
    infer_request_proto,
    infer_response_json,
    infer_response_proto,
    parse_infer_request_json,
    parse_infer_request_proto,
    parse_infer_response_json,
    parse_infer_response_proto,
)


@CODEC_SETTINGS
@given(a=tensors(REAL_DTYPES, utf8_only=True), b=tensors(REAL_DTYPES, utf8_only=True))
def test_json_round_trip(a: Tensor, b: Tensor) -> None:
    body = json.loads(json.dumps(infer_request_json({"a": a, "b": b}, id="r1", outputs=["y"])))
    parsed = parse_infer_request_json(body)
    assert (parsed.id, parsed.requested_outputs, list(parsed.tensors)) == ("r1", ("y",), ["a", "b"])
    assert_same(parsed.tensors["a"], a)
    assert_same(parsed.tensors["b"], b)
    response = json.loads(json.dumps(infer_response_json("m", {"y": a}, model_version="2", id="r1")))
    out = parse_infer_response_json(response)
    assert (out.model_name, out.model_version, out.id) == ("m", "2", "r1")
    assert_same(out.tensors["y"], a)


@CODEC_SETTINGS
@given(a=tensors(REAL_DTYPES), b=tensors(REAL_DTYPES), raw=st.booleans())
def test_grpc_round_trip_through_bytes(a: Tensor, b: Tensor, raw: bool) -> None:
    request = infer_request_proto("m", {"a": a, "b": b}, raw=raw, parameters={"k": 1, "f": True})
    wire = v2_pb2.ModelInferRequest.FromString(request.SerializeToString())
    assert len(wire.raw_input_contents) == (2 if raw else 0)
    parsed = parse_infer_request_proto(wire)
    assert parsed.model_name == "m" and parsed.parameters == {"k": 1, "f": True}
    assert_same(parsed.tensors["a"], a)
    assert_same(parsed.tensors["b"], b)
    response = infer_response_proto("m", {"y": b}, raw=raw)
    out = parse_infer_response_proto(v2_pb2.ModelInferResponse.FromString(response.SerializeToString()))
    assert_same(out.tensors["y"], b)


def test_messages_match_hand_built_ones() -> None:
    x = np.array([[1.0, -2.0]], dtype=np.float32)
    raw = infer_request_proto("fraud", {"transaction": x})
    expected = v2_pb2.ModelInferRequest(model_name="fraud")
    expected.inputs.add(name="transaction", datatype="FP32", shape=[1, 2])
    expected.raw_input_contents.append(struct.pack("<2f", 1.0, -2.0))
    assert raw == expected
    typed = infer_request_proto("fraud", {"transaction": x}, raw=False)
    expected = v2_pb2.ModelInferRequest(model_name="fraud")
    entry = expected.inputs.add(name="transaction", datatype="FP32", shape=[1, 2])
    entry.contents.fp32_contents.extend([1.0, -2.0])
    assert typed == expected
    strings = infer_response_proto("m", {"s": np.array([b"ab", b""], dtype=object)})
    assert list(strings.raw_output_contents) == [b"\x02\x00\x00\x00ab\x00\x00\x00\x00"]
    assert infer_request_json({"x": x}) == {
        "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1.0, -2.0]}]
    }


def test_reads_mlserver_style_json_with_nested_data() -> None:
    body = {
        "model_name": "fraud",
        "outputs": [
            {"name": "predict", "shape": [2, 1], "datatype": "INT64", "data": [[0], [1]], "parameters": {}},
            {"name": "proba", "shape": [2], "datatype": "FP64", "data": [0.25, float("nan")]},
            {"name": "label", "shape": [1], "datatype": "BYTES", "data": ["fraud"]},
            {"name": "flag", "shape": [], "datatype": "BOOL", "data": [True]},
        ],
    }
    out = parse_infer_response_json(json.loads(json.dumps(body)))
    assert out.tensors["predict"].data.tolist() == [[0], [1]]
    assert np.isnan(out.tensors["proba"].data[1])
    assert out.tensors["label"].data.tolist() == [b"fraud"]
    assert out.tensors["flag"].shape == () and out.tensors["flag"].data.item() is True


def _request(**entry: Any) -> Any:
    request = v2_pb2.ModelInferRequest(model_name="m")
    request.inputs.add(**entry)
    return request


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (_request(name="x", datatype="FP16", shape=[1]), "inputs[0].datatype", "'FP16' is not supported"),
        (_request(name="x", datatype="FLOAT", shape=[1]), "inputs[0].datatype", "not a V2 datatype"),
        (_request(name="x", datatype="FP32", shape=[2], contents=v2_pb2.InferTensorContents(
            fp32_contents=[1.0])), "inputs[0].contents.fp32_contents", "1 values do not fill shape [2]"),
        (_request(name="x", datatype="FP32", shape=[1], contents=v2_pb2.InferTensorContents(
            int_contents=[1])), "inputs[0].contents.int_contents", "does not match datatype FP32"),
        (_request(name="x", datatype="FP32", shape=[-1]), "inputs[0].shape[0]", "negative"),
        (_request(name="x", datatype="FP32", shape=[1 << 40]), "inputs[0].shape", "beyond the limit"),
    ],
)  # fmt: skip
def test_bad_grpc_requests_raise_the_typed_error(request_: Any, field: str, reason: str) -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_infer_request_proto(request_)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_bad_raw_contents_raise_the_typed_error() -> None:
    request = infer_request_proto("m", {"x": np.zeros(3, dtype=np.float32)})
    request.raw_input_contents[0] = b"\x00" * 11
    with pytest.raises(TensorCodecError, match="11 bytes do not fill shape"):
        parse_infer_request_proto(request)
    request.raw_input_contents.append(b"")
    with pytest.raises(TensorCodecError, match="2 entries for 1 tensors"):
        parse_infer_request_proto(request)
    both = infer_request_proto("m", {"x": np.zeros(1, dtype=np.float32)})
    both.inputs[0].contents.fp32_contents.append(0.0)
    with pytest.raises(TensorCodecError, match="set together with raw_input_contents"):
        parse_infer_request_proto(both)
    strings = infer_request_proto("m", {"s": np.array([b"abc"], dtype=object)})
    for cut, reason in [(b"\x03\x00\x00\x00ab", "truncated"), (b"\x03\x00", "no length prefix"),
                        (b"\x01\x00\x00\x00abc", "left after")]:  # fmt: skip
        strings.raw_input_contents[0] = cut
        with pytest.raises(TensorCodecError, match=reason):
            parse_infer_request_proto(strings)
    twice = infer_request_proto("m", {"x": np.zeros(1)})
    twice.inputs.add(name="x", datatype="FP64", shape=[1])
    twice.raw_input_contents.append(b"\x00" * 8)
    with pytest.raises(TensorCodecError, match="duplicate tensor name 'x'"):
        parse_infer_request_proto(twice)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}]},
         "inputs[0].data", "2 values do not fill shape [3]"),
        ({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}]},
         "inputs[0].data", "ragged"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]},
         "inputs[0].data", "non-integral"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]},
         "inputs[0].datatype", "not a V2 datatype"),
        ({"inputs": [{"name": "x", "shape": "1", "datatype": "FP32", "data": [1]}]},
         "inputs[0].shape", "list of integers"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]}, "inputs[0].shape", "missing"),
        ({"inputs": {"name": "x"}}, "inputs", "not a list"),
        ({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}]},
         "inputs[0].data", "where a string is expected"),
        ({"inputs": [], "outputs": ["y"]}, "outputs", "list of"),
    ],
)  # fmt: skip
def test_bad_json_requests_raise_the_typed_error(body: Any, field: str, reason: str) -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_infer_request_json(body)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_null_in_float_data_reads_as_nan() -> None:
    # orjson, which MLServer uses when installed, writes NaN as null.
    body = {"outputs": [{"name": "y", "shape": [3], "datatype": "FP32", "data": [1.5, None, 2]}]}
    values = parse_infer_response_json(body).tensors["y"].data
    assert values.dtype == np.float32 and np.isnan(values[1]) and values[[0, 2]].tolist() == [1.5, 2.0]
    for datatype in ("INT64", "BOOL", "BYTES"):
        bad = {"outputs": [{"name": "y", "shape": [2], "datatype": datatype, "data": [1, None]}]}
        with pytest.raises(TensorCodecError):
            parse_infer_response_json(bad)


def test_json_errors_limits_and_unencodable_tensors() -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_infer_response_json({"error": "Model fraud not found"})
    assert (caught.value.field, caught.value.reason) == ("error", "Model fraud not found")
    body = infer_request_json({"x": np.zeros(4, dtype=np.float32)})
    assert parse_infer_request_json(body, max_bytes=16).tensors["x"].shape == (4,)
    with pytest.raises(TensorCodecError, match="beyond the limit of 15 bytes"):
        parse_infer_request_json(body, max_bytes=15)
    with pytest.raises(TensorCodecError, match="V2 has no datatype for DT_COMPLEX64"):
        infer_request_proto("m", {"z": np.zeros(1, dtype=np.complex64)})
    with pytest.raises(TensorCodecError, match="not UTF-8"):
        infer_request_json({"s": Tensor.from_numpy(np.array([b"\xff"], dtype=object))})
    empty = parse_infer_request_proto(infer_request_proto("m", {"e": np.zeros((0, 3))}))
    assert empty.tensors["e"].shape == (0, 3)
    doubles = parse_infer_request_json(infer_request_json({"d": np.ones(1)}))
    assert doubles.tensors["d"].dtype is DType.DT_DOUBLE
