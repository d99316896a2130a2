"""Bad input: every decoder raises one TensorCodecError that names the field and the reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inferstream import schemas
from inferstream.tensors import DType, Tensor, TensorCodecError
from inferstream.tensors.avro import (
    DEFAULT_MAX_TENSOR_BYTES,
    ModelResultMetadata,
    SourceRequest,
    StackedTensor,
    TensorSpec,
    decode_model_descriptor,
    decode_serving_result,
    decode_serving_results,
    decode_source_request,
    decode_source_requests,
    decode_tensor,
    encode_serving_results,
    encode_source_request,
    encode_tensor,
)
from inferstream.tensors.avro.convert import tensor_to_avro
from inferstream.tensors.avro.generic import write


def raw_tensor(**fields: Any) -> dict[str, Any]:
    record = tensor_to_avro(TensorSpec(DType.DT_FLOAT, (2, 2)))
    record.update(fields)
    return record


def raw_request(tensor: dict[str, Any]) -> bytes:
    return write(
        schemas.SOURCE_REQUEST,
        {
            "inputRecords": {"inputs": {"transaction": tensor}},
            "modelResults": {"outputs": {}},
            "datatype": "x",
        },
    )


def fraud_payload() -> bytes:
    x = Tensor.from_numpy(np.ones((1, 29), np.float32))
    return encode_source_request(
        SourceRequest({"transaction": x}, {"p": TensorSpec(DType.DT_FLOAT, (1, 29))})
    )


def raises(field: str, reason: str) -> Any:
    return pytest.raises(TensorCodecError, match=rf"^{field}: .*{reason}")


def test_data_length_not_matching_the_shape() -> None:
    payload = write(schemas.TENSOR, raw_tensor(float_data=[1.0, 2.0, 3.0]))
    with raises(r"Tensor\.float_data", "3 values do not fill shape"):
        decode_tensor(payload)
    with raises(r"inputRecords\.inputs\[transaction\]\.float_data", "3 values"):
        decode_source_request(raw_request(raw_tensor(float_data=[1.0, 2.0, 3.0])))


def test_dtype_with_no_data_field() -> None:
    with raises(r"inputRecords\.inputs\[transaction\]\.float_data", "no data field set"):
        decode_source_request(raw_request(raw_tensor()))


def test_data_field_of_another_dtype_and_two_data_fields() -> None:
    with raises(r"Tensor\.int_data", "does not match dtype DT_FLOAT"):
        decode_tensor(write(schemas.TENSOR, raw_tensor(int_data=[1, 2, 3, 4])))
    with raises(r"Tensor\.double_data", "more than one data field"):
        decode_tensor(write(schemas.TENSOR, raw_tensor(float_data=[1.0] * 4, double_data=[1.0] * 4)))


def test_unknown_enum_symbol() -> None:
    payload = fraud_payload()
    at = payload.index(b"transaction") + len(b"transaction")  # the dtype's varint follows the map key
    bad = payload[:at] + b"\x0c" + payload[at + 1 :]  # index 6: one past DT_BOOL
    with raises(r"inputRecords\.inputs\[transaction\]\.dtype", "unknown DataType symbol index 6"):
        decode_source_request(bad)
    with raises(r"Tensor\.dtype", "unknown DataType symbol index 63"):
        decode_tensor(b"\x7e" + encode_tensor(Tensor.from_numpy(np.zeros(1)))[1:])


def test_unknown_union_branch() -> None:
    payload = encode_tensor(Tensor.from_numpy(np.zeros(1, np.float32)))
    assert payload[:6] == b"\x00\x02\x02\x00\x00\x02"  # dtype, dims [1], then float_data's branch
    bad = payload[:5] + b"\x06" + payload[6:]  # branch 3 of a 2-branch union
    with raises("Tensor", "union branch"):
        decode_tensor(bad)


def test_truncated_and_trailing_bytes() -> None:
    payload = fraud_payload()
    for cut in (1, 40, len(payload) - 1):
        with raises("SourceRequest", "truncated"):
            decode_source_request(payload[:cut])
    with raises("SourceRequest", "2 trailing bytes"):
        decode_source_request(payload + b"\x00\x00")
    with raises("ServingResult", "truncated"):
        decode_serving_result(b"")
    with raises("ModelDescriptor", "truncated"):
        decode_model_descriptor(b"\x02")


def test_size_beyond_the_limit() -> None:
    assert DEFAULT_MAX_TENSOR_BYTES == 64 * 1024 * 1024
    huge = write(schemas.TENSOR, tensor_to_avro(TensorSpec(DType.DT_DOUBLE, (1 << 20, 1 << 20))))
    with raises(r"Tensor\.tensorshape", "beyond the limit of 67108864 bytes"):
        decode_tensor(huge)
    with raises(r"inputRecords\.inputs\[transaction\]\.tensorshape", "116 bytes, beyond the limit of 100"):
        decode_source_request(fraud_payload(), max_bytes=100)


def test_negative_dimension_and_non_utf8_strings() -> None:
    with raises(r"Tensor\.tensorshape\.dim\[1\]\.size", "negative size -3"):
        decode_tensor(write(schemas.TENSOR, tensor_to_avro(TensorSpec(DType.DT_FLOAT, (2, -3)))))
    strings = encode_tensor(Tensor.from_numpy(np.array([b"ok"], dtype=object), dtype=DType.DT_STRING))
    with raises("Tensor", "not UTF-8"):
        decode_tensor(strings.replace(b"ok", b"o\xff"))
    with raises(r"tensor\.string_data", "must be UTF-8"):
        encode_tensor(Tensor.from_numpy(np.array([b"\xff"], dtype=object), dtype=DType.DT_STRING))


def test_batch_decode_reports_each_bad_payload_and_keeps_the_rest() -> None:
    good = fraud_payload()
    payloads = [good, good[:10], good, raw_request(raw_tensor()), b"", good + b"\x01", good]
    batch = decode_source_requests(payloads)
    assert [f.index for f in batch.failures] == [1, 3, 4, 5]
    reasons = [f.error.reason for f in batch.failures]
    assert "truncated" in reasons[0] and "no data field" in reasons[1]
    assert "truncated" in reasons[2] and "trailing" in reasons[3]
    assert batch.failures[1].error.field == "inputRecords.inputs[transaction].float_data"
    (group,) = batch.groups
    assert sorted(group.indices.tolist()) == [0, 2, 6]


def test_batch_encoders_reject_inconsistent_record_counts() -> None:
    inputs = {"x": StackedTensor.uniform(np.zeros((3, 2), np.float32))}
    outputs = {"y": StackedTensor.uniform(np.zeros((2, 2), np.float32))}
    with raises("batch", r"inconsistent record counts \[2, 3\]"):
        encode_serving_results(inputs, outputs, ModelResultMetadata())
    with raises("batch", r"inconsistent record counts \[2, 3\]"):
        encode_serving_results(inputs, {}, [ModelResultMetadata()] * 2)
    with raises("values", "do not split into records of 2"):
        StackedTensor.uniform(np.zeros((3, 2)), rows_per_record=2)


def test_payloads_that_are_not_bytes_fail_alone() -> None:
    good = fraud_payload()
    for fast in (True, False):
        mixed: list[Any] = [good, None, bytearray(good), memoryview(good), 7]
        batch = decode_source_requests(mixed, fast=fast)
        assert [f.index for f in batch.failures] == [1, 4]
        assert batch.failures[0].error.field == "payload" and "not NoneType" in batch.failures[0].error.reason
        (group,) = batch.groups
        assert group.indices.tolist() == [0, 2, 3]
        result = encode_serving_results(
            {"x": StackedTensor.uniform(np.ones((1, 2), np.float32))}, {}, ModelResultMetadata()
        )[0]
        results = decode_serving_results([None, b"", memoryview(result), bytearray(result)], fast=fast)
        assert [f.index for f in results.failures] == [0, 1]
        assert [g.indices.tolist() for g in results.groups] == [[2, 3]]
