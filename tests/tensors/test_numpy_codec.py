"""numpy in and out: exact for every tensor type, strict about everything else."""

from __future__ import annotations

import numpy as np
import pytest
from codec_strategies import ALL_DTYPES, CODEC_SETTINGS, assert_same, tensors
from hypothesis import given

from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.numpy_codec import (
    arrays_from_tensors,
    tensor_from_numpy,
    tensor_to_numpy,
    tensors_from_arrays,
)


@CODEC_SETTINGS
@given(tensor=tensors(ALL_DTYPES))
def test_numpy_round_trip(tensor: Tensor) -> None:
    array = tensor_to_numpy(tensor)
    assert_same(tensor_from_numpy(array), tensor)
    if tensor.dtype is not DType.DT_STRING:
        assert array.dtype == tensor.dtype.numpy


def test_string_arrays_of_every_kind_become_bytes() -> None:
    expected = [b"caf\xc3\xa9", b""]
    assert tensor_from_numpy(np.array(["café", ""])).data.tolist() == expected
    assert tensor_from_numpy(np.array([b"caf\xc3\xa9", b""])).data.tolist() == expected
    assert tensor_from_numpy(np.array(["café", b""], dtype=object)).data.tolist() == expected
    text = tensor_to_numpy(tensor_from_numpy(np.array([["a", "é"]])), strings="str")
    assert text.dtype.kind == "U" and text.tolist() == [["a", "é"]]
    big_endian = tensor_from_numpy(np.array([1.5], dtype=">f8"))
    assert big_endian.dtype is DType.DT_DOUBLE and big_endian.data.dtype.isnative


@pytest.mark.parametrize(
    ("array", "dtype", "reason"),
    [
        (np.zeros(2, dtype=np.float16), None, "float16 has no tensor type"),
        (np.zeros(2, dtype=np.uint8), None, "uint8 has no tensor type"),
        (np.array(["2024-01-01"], dtype="datetime64[D]"), None, "has no tensor type"),
        (np.array([1.5, "a"], dtype=object), None, "float value in a string array"),
        (np.array([1.5]), DType.DT_INT64, "cannot cast float64 values to DT_INT64"),
        (np.array(["a"]), DType.DT_FLOAT, "cannot form a DT_FLOAT tensor"),
        ([[1, 2], [3]], None, "not a rectangular array"),
    ],
)
def test_what_has_no_tensor_type_raises_the_typed_error(
    array: object, dtype: DType | None, reason: str
) -> None:
    with pytest.raises(TensorCodecError) as caught:
        tensor_from_numpy(array, dtype=dtype, field="inputs[x]")  # type: ignore[arg-type]
    assert caught.value.field == "inputs[x]"
    assert reason in caught.value.reason


def test_named_arrays_and_back() -> None:
    tensors = tensors_from_arrays({"x": np.ones((2, 3), dtype=np.float32), "k": ["a", "b"]})
    assert {n: (t.name, t.dtype) for n, t in tensors.items()} == {
        "x": ("x", DType.DT_FLOAT),
        "k": ("k", DType.DT_STRING),
    }
    arrays = arrays_from_tensors(tensors)
    assert arrays["x"].shape == (2, 3) and arrays["k"].tolist() == [b"a", b"b"]
    with pytest.raises(TensorCodecError, match="not UTF-8"):
        tensor_to_numpy(Tensor.from_numpy(np.array([b"\xff"], dtype=object)), strings="str")
