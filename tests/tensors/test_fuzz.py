"""Arbitrary input never crashes a decoder: it decodes, or raises TensorCodecError."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from codec_strategies import CODEC_SETTINGS
from hypothesis import given
from hypothesis import strategies as st

from inferstream.protos import seldon_pb2, tensor_pb2, v2_pb2
from inferstream.tensors import DType, Tensor, TensorCodecError, seldon, tfjson, v2
from inferstream.tensors.tensorproto import decode_tensor_proto, tensor_from_proto

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=4),
    st.just({"b64": "AAE="}), st.just({"b64": "%"}),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["name", "shape", "datatype", "data", "inputs", "outputs", "instances",
                             "predictions", "ndarray", "tensor", "tftensor", "values", "names", "x",
                             "dtype", "tensorShape", "floatVal", "error", "status", "b64"]),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
BODY_KEYS = ["inputs", "outputs", "instances", "predictions", "data"]
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(BODY_KEYS), JSON, min_size=1, max_size=2))
DTYPES = st.one_of(st.none(), st.sampled_from(list(DType)))

def _check(result: Any) -> None:
    """A decoder's result holds only well-formed tensors: numpy data of the declared type."""
    if isinstance(result, Tensor):
        tensors = [result]
    elif isinstance(result, dict):
        tensors = list(result.values())
    elif hasattr(result, "tensors"):
        tensors = list(result.tensors.values())
    else:
        tensors = [result.tensor]
    for tensor in tensors:
        assert isinstance(tensor, Tensor)
        assert tensor.data.dtype == tensor.dtype.numpy


DECODERS: dict[str, Callable[[Any, DType | None], Any]] = {
    "tf request": lambda b, d: tfjson.parse_predict_request(b, dtypes=d),
    "tf response": lambda b, d: tfjson.parse_predict_response(b, dtypes=d),
    "v2 request": lambda b, d: v2.parse_infer_request_json(b),
    "v2 response": lambda b, d: v2.parse_infer_response_json(b),
    "v2 tensor": lambda b, d: v2.tensor_from_json(b),
    "seldon": lambda b, d: seldon.parse_seldon_json(b, dtype=d),
    "seldon data": lambda b, d: seldon.parse_seldon_json({"data": b}, dtype=d),
}


@pytest.mark.parametrize("decoder", list(DECODERS))
@CODEC_SETTINGS
@given(body=BODIES, dtype=DTYPES)
def test_json_decoders_raise_only_the_typed_error(decoder: str, body: Any, dtype: DType | None) -> None:
    with contextlib.suppress(TensorCodecError):
        _check(DECODERS[decoder](body, dtype))


@CODEC_SETTINGS
@given(payload=st.binary(max_size=64))
def test_tensorproto_bytes_decode_or_raise_the_typed_error(payload: bytes) -> None:
    with contextlib.suppress(TensorCodecError):
        _check(decode_tensor_proto(payload))


FIELDS = st.fixed_dictionaries(
    {"dtype": st.integers(0, 130)},
    optional={
        "tensor_content": st.binary(max_size=24),
        "float_val": st.lists(st.floats(width=32), max_size=4),
        "double_val": st.lists(st.floats(), max_size=4),
        "int_val": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4),
        "int64_val": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4),
        "bool_val": st.lists(st.booleans(), max_size=4),
        "string_val": st.lists(st.binary(max_size=3), max_size=4),
        "scomplex_val": st.lists(st.floats(width=32), max_size=5),
        "half_val": st.lists(st.integers(0, 100), max_size=2),
    },
)
SHAPES = st.lists(st.integers(-2, 5), max_size=3)


@CODEC_SETTINGS
@given(fields=FIELDS, shape=SHAPES, unknown_rank=st.booleans())
def test_any_tensorproto_decodes_or_raises_the_typed_error(
    fields: dict[str, Any], shape: list[int], unknown_rank: bool
) -> None:
    proto = tensor_pb2.TensorProto(**fields)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_shape.unknown_rank = unknown_rank
    with contextlib.suppress(TensorCodecError):
        tensor = tensor_from_proto(proto)
        _check(tensor)
        assert list(tensor.shape) == shape and not unknown_rank


@CODEC_SETTINGS
@given(
    datatype=st.sampled_from(["FP32", "FP64", "INT32", "INT64", "BOOL", "BYTES", "FP16", "X"]),
    shape=SHAPES,
    raw=st.lists(st.binary(max_size=12), max_size=2),
    fp32=st.lists(st.floats(width=32), max_size=3),
)
def test_any_v2_request_decodes_or_raises_the_typed_error(
    datatype: str, shape: list[int], raw: list[bytes], fp32: list[float]
) -> None:
    request = v2_pb2.ModelInferRequest(raw_input_contents=raw)
    entry = request.inputs.add(name="x", datatype=datatype, shape=shape)
    entry.contents.fp32_contents.extend(fp32)
    with contextlib.suppress(TensorCodecError):
        tensor = v2.parse_infer_request_proto(request).tensors["x"]
        _check(tensor)
        assert list(tensor.shape) == shape


@CODEC_SETTINGS
@given(values=st.lists(st.floats(), max_size=4), shape=st.lists(st.integers(-1, 4), max_size=3),
       dtype=DTYPES)  # fmt: skip
def test_any_seldon_tensor_decodes_or_raises_the_typed_error(
    values: list[float], shape: list[int], dtype: DType | None
) -> None:
    message = seldon_pb2.SeldonMessage()
    message.data.tensor.values.extend(values)
    message.data.tensor.shape.extend(shape)
    with contextlib.suppress(TensorCodecError):
        tensor = seldon.parse_seldon_proto(message, dtype=dtype).tensor
        _check(tensor)
        assert list(tensor.shape) == shape and tensor.data.size == len(values)
