"""TensorFlow Serving REST JSON: row and columnar bodies, named and unnamed, b64 strings."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from codec_strategies import CODEC_SETTINGS, JSON_SHAPE, REAL_DTYPES, ROW_SHAPE, assert_same, tensors
from hypothesis import given
from hypothesis import strategies as st

from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.tfjson import (
    UNNAMED,
    JsonFormat,
    parse_predict_request,
    parse_predict_response,
    predict_request,
    predict_response,
)


def _wire(body: dict[str, Any]) -> Any:
    """Through real JSON text, as over HTTP (NaN/Infinity as TF Serving writes them)."""
    return json.loads(json.dumps(body))


@CODEC_SETTINGS
@given(tensor=tensors(REAL_DTYPES, ROW_SHAPE), fmt=st.sampled_from(list(JsonFormat)))
def test_unnamed_round_trip(tensor: Tensor, fmt: JsonFormat) -> None:
    body = _wire(predict_request(tensor, format=fmt))
    assert set(body) == {"instances" if fmt is JsonFormat.ROW else "inputs"}
    parsed = parse_predict_request(body, dtypes=tensor.dtype)
    assert parsed.format is fmt
    assert_same(parsed.tensors[UNNAMED], tensor)
    outputs = parse_predict_response(_wire(predict_response(tensor, format=fmt)), dtypes=tensor.dtype,
                                     unnamed="y")  # fmt: skip
    assert_same(outputs["y"], tensor)


@CODEC_SETTINGS
@given(
    a=tensors(REAL_DTYPES, st.just((3, 2))),
    b=tensors(REAL_DTYPES, st.sampled_from([(3,), (3, 0), (3, 1, 2)])),
    fmt=st.sampled_from(list(JsonFormat)),
)
def test_named_round_trip(a: Tensor, b: Tensor, fmt: JsonFormat) -> None:
    dtypes = {"a": a.dtype, "b": b.dtype}
    body = _wire(predict_request({"a": a, "b": b}, format=fmt, signature_name="serving_default"))
    parsed = parse_predict_request(body, dtypes=dtypes)
    assert parsed.signature_name == "serving_default"
    assert_same(parsed.tensors["a"], a)
    assert_same(parsed.tensors["b"], b)
    outputs = parse_predict_response(_wire(predict_response({"a": a, "b": b}, format=fmt)), dtypes=dtypes)
    assert sorted(outputs) == ["a", "b"]
    assert_same(outputs["b"], b)


@CODEC_SETTINGS
@given(tensor=tensors([DType.DT_FLOAT, DType.DT_STRING], JSON_SHAPE))
def test_columnar_carries_scalars_and_any_rank(tensor: Tensor) -> None:
    body = _wire(predict_request({"x": tensor}, format=JsonFormat.COLUMNAR, named=True))
    assert_same(parse_predict_request(body, dtypes={"x": tensor.dtype}).tensors["x"], tensor)


def test_bodies_look_like_tf_servings() -> None:
    x = np.array([[1.0, 2.0], [3.0, np.nan]], dtype=np.float32)
    assert json.dumps(predict_request(x)) == '{"instances": [[1.0, 2.0], [3.0, NaN]]}'
    assert predict_request({"x": x[:1], "k": np.array([b"\xff"], dtype=object)}) == {
        "instances": [{"x": [1.0, 2.0], "k": {"b64": "/w=="}}]
    }
    assert predict_request({"x": x}, format=JsonFormat.COLUMNAR, signature_name="s") == {
        "signature_name": "s",
        "inputs": [[1.0, 2.0], [3.0, pytest.approx(np.nan, nan_ok=True)]],
    }
    assert predict_response({"p": np.array([1, 2])}) == {"predictions": [1, 2]}
    assert predict_response({"p": np.array([1]), "q": np.array([True])}) == {
        "predictions": [{"p": 1, "q": True}]
    }
    assert predict_response(np.array([b"ok"], dtype=object), b64=True) == {"predictions": [{"b64": "b2s="}]}


def test_reads_tf_serving_responses_and_infers_types() -> None:
    outputs = parse_predict_response(json.loads('{"predictions": [[0.5, Infinity], [-Infinity, 1]]}'))
    assert outputs[UNNAMED].dtype is DType.DT_FLOAT
    assert outputs[UNNAMED].data.tolist() == [[0.5, np.inf], [-np.inf, 1.0]]
    named = parse_predict_response({"outputs": {"ids": [[1, 2]], "ok": [True], "s": ["a", {"b64": "/w=="}]}})
    assert named["ids"].dtype is DType.DT_INT64
    assert named["ok"].dtype is DType.DT_BOOL
    assert named["s"].data.tolist() == [b"a", b"\xff"]
    scalar = parse_predict_response({"outputs": 3.5}, dtypes=DType.DT_DOUBLE)
    assert scalar[UNNAMED].shape == () and scalar[UNNAMED].data.item() == 3.5


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"instances": [[1, 2], [3]]}, "instances", "ragged"),
        ({"instances": [[1, 2], [3, [4]]]}, "instances", "ragged"),
        ({"instances": [1, "a"]}, "instances", "mixed"),
        ({"instances": ["a", 1]}, "instances", "int value where a string is expected"),
        ({"inputs": {"x": [1.5, {}]}}, "inputs[x]", "non-numeric"),
        ({"instances": [1], "inputs": [1]}, "body", "cannot be mixed"),
        ({"signature_name": "s"}, "body", "neither"),
        ({"instances": {"x": 1}}, "instances", "list of rows"),
        ({"instances": [{"a": 1}, {"b": 2}]}, "instances[1]", "same names"),
        ({"instances": [{"a": 1}, 2]}, "instances[1]", "same names"),
        ({"instances": [1, {"a": 2}]}, "instances", "mix named"),
        ({"instances": [{"b64": "%%%"}]}, "instances", "invalid base64"),
        ("[1, 2]", "body", "JSON object"),
        ({"instances": [1], "signature_name": 3}, "signature_name", "string"),
    ],
)
def test_bad_requests_raise_the_typed_error(body: Any, field: str, reason: str) -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_predict_request(body)
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("body", "dtype", "reason"),
    [
        ({"predictions": [1.5]}, DType.DT_INT64, "non-integral"),
        ({"predictions": [2**40]}, DType.DT_INT32, "out of range"),
        ({"predictions": [2**70]}, None, "out-of-range"),
        ({"predictions": [1, 0]}, DType.DT_BOOL, "integer values where DT_BOOL"),
        ({"predictions": [True]}, DType.DT_FLOAT, "boolean values where DT_FLOAT"),
        ({"predictions": [1]}, DType.DT_COMPLEX64, "cannot carry DT_COMPLEX64"),
    ],
)
def test_values_that_do_not_fit_raise_the_typed_error(body: Any, dtype: DType | None, reason: str) -> None:
    with pytest.raises(TensorCodecError, match=reason):
        parse_predict_response(body, dtypes=dtype)


def test_error_bodies_and_limits() -> None:
    with pytest.raises(TensorCodecError) as caught:
        parse_predict_response({"error": "Servable not found for request: Latest(fraud)"})
    assert caught.value.field == "error" and "Servable not found" in caught.value.reason
    assert parse_predict_request({"instances": [[0.0] * 4]}, max_bytes=16).tensors[UNNAMED].shape == (1, 4)
    with pytest.raises(TensorCodecError, match="beyond the limit of 15 bytes"):
        parse_predict_request({"instances": [[0.0] * 4]}, max_bytes=15)
    with pytest.raises(TensorCodecError, match="beyond the limit"):
        parse_predict_request({"instances": ["x" * 20]}, max_bytes=10)


def test_encoding_what_json_cannot_hold_raises_the_typed_error() -> None:
    with pytest.raises(TensorCodecError, match="batch dimension"):
        predict_request(np.float32(1.0))
    with pytest.raises(TensorCodecError, match="one batch size"):
        predict_request({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(TensorCodecError, match="cannot carry DT_COMPLEX128"):
        predict_request(np.array([1j]))
    with pytest.raises(TensorCodecError, match="not UTF-8"):
        predict_request(np.array([b"\xff"], dtype=object), b64=False)
