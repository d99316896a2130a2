"""Triton's binary tensor data extension: bodies made and read by inferstream.tensors.v2.binary_data
(well under a second)."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from inferstream.tensors import TensorCodecError
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.v2.binary_data import (
    binary_infer_request,
    encode_binary,
    parse_binary_infer_request,
    parse_binary_infer_response,
)


def test_request_round_trip_of_numbers_and_strings() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    words = np.array([b"a", b"bcd"], dtype=object)
    body, length = binary_infer_request({"x": x, "w": words}, outputs=("y",))
    header = orjson.loads(body[:length])
    assert header["inputs"][0]["parameters"] == {"binary_data_size": 24}
    assert header["inputs"][1]["parameters"] == {"binary_data_size": 4 + 1 + 4 + 3}
    assert len(body) - length == 24 + 12
    parsed, binary = parse_binary_infer_request(body, length)
    np.testing.assert_array_equal(parsed.tensors["x"].data, x)
    assert parsed.tensors["w"].data.tolist() == [b"a", b"bcd"]
    assert parsed.requested_outputs == ("y",) and binary == frozenset({"y"})


def test_json_and_binary_inputs_mix_in_header_order() -> None:
    raw = np.array([1, 2], dtype="<i8").tobytes()
    header = {"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [1], "data": [0.5]},
        {"name": "b", "datatype": "INT64", "shape": [2], "parameters": {"binary_data_size": len(raw)}},
    ], "parameters": {"binary_data_output": True}}
    head = orjson.dumps(header)
    parsed, binary = parse_binary_infer_request(head + raw, len(head))
    assert list(parsed.tensors) == ["a", "b"] and binary is True
    assert parsed.tensors["b"].data.tolist() == [1, 2]


@pytest.mark.parametrize(("size", "extra", "match"), [
    (100, b"", "do not fit"), (8, b"\x00", "left after"), (7, b"", "inputs\\[0\\]"),
])
def test_sizes_that_do_not_add_up_are_refused(size: int, extra: bytes, match: str) -> None:
    header = {"inputs": [{"name": "b", "datatype": "INT64", "shape": [1],
                          "parameters": {"binary_data_size": size}}]}
    head = orjson.dumps(header)
    with pytest.raises(TensorCodecError, match=match):
        parse_binary_infer_request(head + struct.pack("<q", 5) + extra, len(head))


def test_header_length_beyond_the_body_is_refused() -> None:
    with pytest.raises(TensorCodecError, match="does not fit"):
        parse_binary_infer_request(b"{}", 10)


def test_response_binary_for_asked_outputs_only() -> None:
    y = np.array([[1.5, 2.5]], dtype=np.float64)
    z = np.array([3], dtype=np.int32)
    body, length = encode_binary({"model_name": "m"}, [Tensor.from_numpy(y, "y"), Tensor.from_numpy(z, "z")],
                                 "outputs", frozenset({"y"}))
    header = orjson.loads(body[:length])
    assert "data" not in header["outputs"][0] and header["outputs"][1]["data"] == [3]
    outputs = parse_binary_infer_response(body, length)
    np.testing.assert_array_equal(outputs["y"], y)
    assert outputs["z"].tolist() == [3]
