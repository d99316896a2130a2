"""tensors.jsontext: printf-rendered numeric JSON reads back exactly; other arrays follow array_to_json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inferstream.tensors import TensorCodecError
from inferstream.tensors.jsontext import JsonText, array_json, dumps, number_text

_NUMERIC = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.uint64])


@settings(max_examples=60, deadline=None)
@given(array=_NUMERIC.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3))))
def test_finite_numbers_read_back_exactly(array: np.ndarray) -> None:
    value = array_json(array)
    text = dumps({"data": value})
    back = np.asarray(json.loads(text)["data"], dtype=array.dtype)
    if array.size and (array.dtype.kind != "f" or np.isfinite(array).all()):
        assert isinstance(value, JsonText)  # the printf path, not tolist()
    assert back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=array.dtype.kind == "f")


def test_float32_text_is_short_and_exact() -> None:
    array = np.array([[0.1, 1e-40], [3.4028235e38, -2.5]], dtype=np.float32)
    assert number_text(array) == "[[0.100000001,9.9999461e-41],[3.40282347e+38,-2.5]]"
    assert number_text(np.array([np.nan], dtype=np.float32)) is None
    assert number_text(np.array([], dtype=np.float32)) is None
    assert number_text(np.array([True])) is None


def test_other_values_follow_the_shared_codec() -> None:
    strings = np.array([b"ab", b"\xff"], dtype=object)
    assert array_json(strings) == ["ab", {"b64": "/w=="}]
    assert array_json(strings, b64=True) == [{"b64": "YWI="}, {"b64": "/w=="}]
    assert array_json(np.array(["text"])) == ["text"]
    assert array_json(np.array([True, False])) == [True, False]
    assert dumps({"x": array_json(np.array([np.inf, 1.0]))}) == '{"x":[Infinity,1.0]}'
    with pytest.raises(TensorCodecError, match="not UTF-8"):
        array_json(strings, "x", b64=False)
    with pytest.raises(TensorCodecError, match="JSON cannot carry DT_COMPLEX64"):
        array_json(np.array([1j], dtype=np.complex64))


def test_dumps_splices_text_and_quotes_plain_strings() -> None:
    body = {"a": JsonText("[1,2]"), "b": ["x", {"c": JsonText("3.5")}], "d": "\u0000 quoted"}
    assert json.loads(dumps(body)) == {"a": [1, 2], "b": ["x", {"c": 3.5}], "d": "\u0000 quoted"}
