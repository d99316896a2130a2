"""Interop with the reference Apache ``avro`` library, reading the same .avsc files.

Whatever it writes, we decode (single and batch codecs), and whatever we write, it reads to the
same datum: byte-for-byte equal encodings both ways.
"""

from __future__ import annotations

import io
import json
from typing import Any

import avro.io
import avro.name
import avro.schema
import numpy as np
import pytest

from inferstream import schemas
from inferstream.tensors import DType, Tensor
from inferstream.tensors.avro import (
    ModelDefinition,
    ModelDescriptor,
    ModelResultMetadata,
    ServingResult,
    SourceRequest,
    StackedTensor,
    TensorSpec,
    decode_model_descriptor,
    decode_serving_result,
    decode_serving_results,
    decode_source_request,
    decode_source_requests,
    decode_tensor,
    encode_model_descriptor,
    encode_serving_result,
    encode_serving_results,
    encode_source_request,
    encode_tensor,
)
from inferstream.tensors.avro.convert import tensor_to_avro
from inferstream.tensors.avro.generic import serving_result_to_avro, source_request_to_avro

# Dependency order: a schema's references are parsed before it.
ORDER = [
    "tensorflow.support.avro.DataType",
    "tensorflow.support.avro.TensorShape",
    "tensorflow.support.avro.Tensor",
    "tensorflow.modelserving.avro.SourceRecord",
    "tensorflow.modelserving.avro.ServingOutput",
    "tensorflow.modelserving.avro.ModelResultMetadata",
    "tensorflow.modelserving.avro.SourceRequest",
    "tensorflow.modelserving.avro.ServingResult",
    "tensorflow.modelserving.avro.ModelDescriptor",
]


@pytest.fixture(scope="module")
def reference() -> dict[str, avro.schema.Schema]:
    assert sorted(ORDER) == schemas.schema_names()
    names = avro.name.Names()
    parsed = {}
    for full_name in ORDER:
        text = (schemas.SCHEMA_DIR / f"{full_name}.avsc").read_text()
        parsed[full_name] = avro.schema.make_avsc_object(json.loads(text), names)
        assert parsed[full_name].fullname == full_name
    return parsed


def apache_write(schema: avro.schema.Schema, datum: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(out))
    return out.getvalue()


def apache_read(schema: avro.schema.Schema, payload: bytes) -> Any:
    return avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(payload)))


def every_dtype() -> list[Tensor]:
    return [
        Tensor.from_numpy(np.array([[1.5, -np.inf], [np.inf, 3.25]], np.float32)),
        Tensor.from_numpy(np.array([1e300, -0.0], np.float64)),
        Tensor.from_numpy(np.array([[-(2**63), 2**63 - 1]], np.int64)),
        Tensor.from_numpy(np.array(-(2**31), np.int32)),
        Tensor.from_numpy(np.array([b"caf\xc3\xa9", b""], dtype=object), dtype=DType.DT_STRING),
        Tensor.from_numpy(np.array([[True], [False]])),
        Tensor.from_numpy(np.array([1 + 2j, -3.5j], np.complex64)),
        Tensor.from_numpy(np.zeros((2, 0, 3), np.complex128)),
    ]


@pytest.mark.parametrize("tensor", every_dtype(), ids=lambda t: t.dtype.value)
def test_tensors_encode_identically_both_ways(reference: dict[str, Any], tensor: Tensor) -> None:
    schema = reference[schemas.TENSOR]
    theirs = apache_write(schema, tensor_to_avro(tensor))
    ours = encode_tensor(tensor)
    assert theirs == ours
    back = decode_tensor(theirs)
    assert isinstance(back, Tensor) and back.equals(tensor)
    assert apache_read(schema, ours) == tensor_to_avro(tensor)


def fraud_requests(n: int) -> list[SourceRequest]:
    x = np.random.default_rng(3).normal(size=(n, 1, 29)).astype(np.float32)
    spec = {"predictions": TensorSpec(DType.DT_FLOAT, (1, 29))}
    return [SourceRequest({"transaction": Tensor.from_numpy(row)}, spec, "fraud") for row in x]


def test_source_requests_written_by_apache_avro_decode_in_one_batch(reference: dict[str, Any]) -> None:
    schema = reference[schemas.SOURCE_REQUEST]
    requests = fraud_requests(6)
    payloads = [apache_write(schema, source_request_to_avro(r)) for r in requests]
    assert payloads == [encode_source_request(r) for r in requests]
    assert decode_source_request(payloads[0]).inputs["transaction"].equals(requests[0].inputs["transaction"])
    (group,) = decode_source_requests(payloads).groups
    expected = np.concatenate([r.inputs["transaction"].data for r in requests])
    assert np.array_equal(group.inputs["transaction"].values[np.argsort(group.indices)], expected)
    assert group.expected_outputs[0] == {"predictions": TensorSpec(DType.DT_FLOAT, (1, 29), "predictions")}


def test_serving_results_from_our_batch_encoder_read_with_apache_avro(reference: dict[str, Any]) -> None:
    schema = reference[schemas.SERVING_RESULT]
    requests = fraud_requests(3)
    inputs = {"transaction": StackedTensor.from_tensors([r.inputs["transaction"] for r in requests])}
    outputs = {"predictions": StackedTensor.uniform(inputs["transaction"].values + 1)}
    ok = ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_123, 7)
    failed = ModelResultMetadata("no model loaded", "fraud", "onnx", 1_700_000_000_123, 0)
    payloads = encode_serving_results(inputs, outputs, [ok, failed, ok], "fraud")
    for i, payload in enumerate(payloads):
        datum = apache_read(schema, payload)
        assert datum["modelResultMetadata"]["startTime"] == 1_700_000_000_123
        assert datum["datatype"] == "fraud"
        got = datum["inputRecord"]["inputs"]["transaction"]["float_data"]
        assert np.array_equal(np.array(got, np.float32), requests[i].inputs["transaction"].data.ravel())
        if i == 1:
            assert datum["modelResult"]["outputs"] == {} and datum["modelResultMetadata"]["errors"]
        else:
            pred = datum["modelResult"]["outputs"]["predictions"]
            assert pred["dtype"] == "DT_FLOAT" and [d["size"] for d in pred["tensorshape"]["dim"]] == [1, 29]
    # and the other way: Apache-written results decode in one batch
    results = [decode_serving_result(p) for p in payloads]
    theirs = [apache_write(schema, serving_result_to_avro(r)) for r in results]
    assert theirs == payloads
    batch = decode_serving_results(theirs)
    assert sorted(len(g) for g in batch.groups) == [1, 2] and not batch.failures


def test_single_serving_result_and_descriptor_interop(reference: dict[str, Any]) -> None:
    result = ServingResult(
        {"users": Tensor.from_numpy(np.array([[7.0], [7.0]], np.float32))},
        {"predictions": Tensor.from_numpy(np.array([[0.25], [0.5]], np.float32))},
        ModelResultMetadata("", "recommender", "seldon", 5, 6),
    )
    datum = serving_result_to_avro(result)
    theirs = apache_write(reference[schemas.SERVING_RESULT], datum)
    assert theirs == encode_serving_result(result)
    back = decode_serving_result(theirs)
    assert back.metadata == result.metadata and back.outputs["predictions"].equals(
        result.outputs["predictions"]
    )

    descriptor = ModelDescriptor("fraud", "v2", ModelDefinition("m", "serving_default"), [b"\x00\x01"], ["k"])
    schema = reference[schemas.MODEL_DESCRIPTOR]
    ours = encode_model_descriptor(descriptor)
    read = apache_read(schema, ours)
    assert read["modelcontent"] == [b"\x00\x01"] and read["model"] == {
        "model": "m",
        "signature": "serving_default",
    }
    assert decode_model_descriptor(apache_write(schema, read)) == descriptor


def test_ragged_recommender_requests_written_by_apache_avro(reference: dict[str, Any]) -> None:
    schema = reference[schemas.SOURCE_REQUEST]
    requests = []
    for i, n in enumerate([2, 7, 1, 30, 7, 4]):
        users = np.full((n, 1), float(i), np.float32)
        products = np.arange(n, dtype=np.float32)[:, None] * 3
        spec = {"predictions": TensorSpec(DType.DT_FLOAT, (n, 1))}
        requests.append(
            SourceRequest({"users": Tensor.from_numpy(users), "products": Tensor.from_numpy(products)}, spec)
        )
    payloads = [apache_write(schema, source_request_to_avro(r)) for r in requests]
    (group,) = decode_source_requests(payloads).groups
    assert group.indices.tolist() == list(range(6))
    for k, r in enumerate(requests):
        assert group.request(k).inputs["products"].equals(r.inputs["products"])
        assert group.expected_outputs[k]["predictions"].shape == r.expected_outputs["predictions"].shape
