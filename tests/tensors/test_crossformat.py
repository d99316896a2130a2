"""One tensor through every format in turn: Avro -> TensorProto -> V2 -> Seldon -> numpy, unchanged."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from codec_strategies import CODEC_SETTINGS, REAL_DTYPES, assert_same, tensors
from hypothesis import given

from inferstream.protos import seldon_pb2, v2_pb2
from inferstream.tensors import Tensor, TensorCodecError, avro
from inferstream.tensors.seldon import SeldonKind, parse_seldon_json, parse_seldon_proto, seldon_message_json
from inferstream.tensors.seldon import seldon_message_proto as seldon_proto
from inferstream.tensors.tensorproto import decode_tensor_proto, encode_tensor_proto
from inferstream.tensors.v2 import (
    infer_request_json,
    infer_request_proto,
    parse_infer_request_json,
    parse_infer_request_proto,
)


def _through_every_format(tensor: Tensor) -> npt.NDArray[Any]:
    decoded = avro.decode_tensor(avro.encode_tensor(tensor))
    assert isinstance(decoded, Tensor)
    step = decode_tensor_proto(encode_tensor_proto(decoded))
    step = decode_tensor_proto(encode_tensor_proto(step, typed_fields=True))
    wire = infer_request_proto("m", {"x": step}).SerializeToString()
    step = parse_infer_request_proto(v2_pb2.ModelInferRequest.FromString(wire)).tensors["x"]
    body = json.loads(json.dumps(infer_request_json({"x": step})))
    step = parse_infer_request_json(body).tensors["x"]
    wire = seldon_proto(step, kind=SeldonKind.TFTENSOR).SerializeToString()
    step = parse_seldon_proto(seldon_pb2.SeldonMessage.FromString(wire)).tensor
    body = json.loads(json.dumps(seldon_message_json(step, kind=SeldonKind.TFTENSOR)))
    return parse_seldon_json(body).tensor.numpy()


@CODEC_SETTINGS
@given(tensor=tensors(REAL_DTYPES, utf8_only=True))
def test_avro_tensorproto_v2_seldon_numpy_leaves_the_tensor_unchanged(tensor: Tensor) -> None:
    # Avro strings are UTF-8 and V2 has no complex type: the chain covers the types all formats share.
    assert_same(Tensor.from_numpy(_through_every_format(tensor), dtype=tensor.dtype), tensor)


def test_the_fraud_transaction_survives_the_chain() -> None:
    row = np.array([[-1.36, -0.07, 2.54, 1.38, -0.34, 0.46, 0.24, 0.1, 0.36, 0.09, -0.55, -0.62, -0.99,
                     -0.31, 1.47, -0.47, 0.21, 0.03, 0.4, 0.25, -0.02, 0.28, -0.11, 0.07, 0.13, -0.19,
                     0.13, -0.02, 149.62]], dtype=np.float32)  # fmt: skip
    row[0, 3] = np.nan
    out = _through_every_format(Tensor.from_numpy(row, name="transaction"))
    assert out.dtype == np.float32 and np.array_equal(out, row, equal_nan=True)


def test_complex_values_cross_avro_and_tensorproto() -> None:
    z = Tensor.from_numpy(np.array([[1 + 2j, complex(np.inf, np.nan)]], dtype=np.complex64))
    decoded = avro.decode_tensor(avro.encode_tensor(z))
    assert isinstance(decoded, Tensor)
    assert_same(decode_tensor_proto(encode_tensor_proto(decoded, typed_fields=True)), z)
    with pytest.raises(TensorCodecError, match="V2 has no datatype"):
        infer_request_proto("m", {"z": decoded})
