"""V2 datatypes numpy holds but Tensor does not (UINT8, INT16, FP16...): the array-level readers."""

from __future__ import annotations

import numpy as np
import pytest

from inferstream.protos import v2_pb2
from inferstream.tensors import TensorCodecError
from inferstream.tensors.tensorproto import numpy_dtype_of_tf_name
from inferstream.tensors.v2 import (
    array_from_json_tensor,
    array_raw_bytes,
    arrays_from_infer_response_proto,
    datatype_of_numpy,
    numpy_of_datatype,
)


def test_datatype_names_both_ways() -> None:
    for name in ("BOOL", "UINT8", "UINT64", "INT8", "INT16", "FP16", "FP32", "FP64"):
        assert datatype_of_numpy(numpy_of_datatype(name)) == name
    assert datatype_of_numpy(np.dtype("<U3")) == "BYTES"
    assert datatype_of_numpy(np.dtype(np.complex64)) is None
    with pytest.raises(TensorCodecError, match="'BF16' is not supported"):
        numpy_of_datatype("BF16")
    with pytest.raises(TensorCodecError, match="'FLOAT' is not a V2 datatype"):
        numpy_of_datatype("FLOAT")


def test_json_tensors_of_every_numeric_type() -> None:
    name, array = array_from_json_tensor(
        {"name": "y", "shape": [2, 2], "datatype": "UINT8", "data": [0, 1, 2, 255]}
    )
    assert name == "y" and array.dtype == np.uint8 and array.tolist() == [[0, 1], [2, 255]]
    _, half = array_from_json_tensor({"name": "h", "shape": [2], "datatype": "FP16", "data": [[0.5], [1]]})
    assert half.dtype == np.float16 and half.tolist() == [0.5, 1.0]
    _, same = array_from_json_tensor({"name": "f", "shape": [1], "datatype": "FP32", "data": [0.25]})
    assert same.dtype == np.float32 and same.tolist() == [0.25]


@pytest.mark.parametrize(
    ("tensor", "reason"),
    [
        ({"name": "y", "shape": [1], "datatype": "UINT8", "data": [256]}, "out of range of UINT8"),
        ({"name": "y", "shape": [1], "datatype": "INT16", "data": [1.5]}, "non-integral values"),
        ({"name": "y", "shape": [3], "datatype": "INT8", "data": [1, 2]}, "do not fill shape"),
        ({"name": "y", "shape": [1], "datatype": "UINT16", "data": ["a"]}, "non-numeric values where UINT16"),
        ({"name": "y", "shape": [1], "datatype": "BF16", "data": [1]}, "not supported"),
        ({"shape": [1], "datatype": "UINT8", "data": [1]}, "name"),
        ({"name": "y", "datatype": "FP32", "data": [1]}, "tensor.shape: missing"),
    ],
)
def test_bad_json_tensors_are_typed_errors(tensor: dict[str, object], reason: str) -> None:
    with pytest.raises(TensorCodecError, match=reason):
        array_from_json_tensor(tensor)


def _response(datatype: str, shape: list[int]) -> v2_pb2.ModelInferResponse:
    response = v2_pb2.ModelInferResponse(model_name="m")
    response.outputs.add(name="y", datatype=datatype, shape=shape)
    return response


def test_proto_outputs_raw_and_typed() -> None:
    raw = _response("FP16", [2])
    raw.raw_output_contents.append(array_raw_bytes(np.array([1.5, -2], dtype=np.float16)))
    raw.outputs[0].contents.SetInParent()  # an empty contents beside raw (as MLServer sends) is fine
    assert arrays_from_infer_response_proto(raw)["y"].tolist() == [1.5, -2.0]
    typed = _response("INT16", [2, 1])
    typed.outputs[0].contents.int_contents.extend([-3, 4])
    out = arrays_from_infer_response_proto(typed)["y"]
    assert out.dtype == np.int16 and out.tolist() == [[-3], [4]]
    both = _response("FP32", [1])  # a Tensor type still goes the tensor way
    both.outputs[0].contents.fp32_contents.append(2.0)
    assert arrays_from_infer_response_proto(both)["y"].tolist() == [2.0]
    strings = _response("BYTES", [2])
    strings.raw_output_contents.append(array_raw_bytes(np.array(["a", "bc"])))
    assert arrays_from_infer_response_proto(strings)["y"].tolist() == [b"a", b"bc"]


def test_bad_proto_outputs_are_typed_errors() -> None:
    short = _response("UINT32", [2])
    short.raw_output_contents.append(b"\x00" * 7)
    with pytest.raises(TensorCodecError, match="7 bytes do not fill shape \\[2\\] of UINT32"):
        arrays_from_infer_response_proto(short)
    half = _response("FP16", [1])
    with pytest.raises(TensorCodecError, match="FP16 travels in raw_output_contents\\[0\\] only"):
        arrays_from_infer_response_proto(half)
    wide = _response("UINT8", [1])
    wide.outputs[0].contents.uint_contents.append(300)
    with pytest.raises(TensorCodecError, match="out of range of UINT8"):
        arrays_from_infer_response_proto(wide)


def test_tf_datatype_names() -> None:
    assert numpy_dtype_of_tf_name("DT_FLOAT") == np.float32
    assert numpy_dtype_of_tf_name("DT_HALF") == np.float16
    assert numpy_dtype_of_tf_name("DT_UINT8") == np.uint8
    assert numpy_dtype_of_tf_name("DT_STRING") == np.dtype(object)
    assert numpy_dtype_of_tf_name("DT_RESOURCE") == np.dtype(object)
