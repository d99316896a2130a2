"""Single-record Avro codecs: every record type round-trips through the generic codec."""

from __future__ import annotations

import numpy as np

from inferstream.tensors import DType, Tensor
from inferstream.tensors.avro import (
    ModelDefinition,
    ModelDescriptor,
    ModelResultMetadata,
    ServingOutput,
    ServingResult,
    SourceRecord,
    SourceRequest,
    StackedTensor,
    TensorSpec,
    decode_model_descriptor,
    decode_model_result_metadata,
    decode_serving_output,
    decode_serving_result,
    decode_serving_results,
    decode_source_record,
    decode_source_request,
    decode_source_requests,
    encode_model_descriptor,
    encode_model_result_metadata,
    encode_serving_output,
    encode_serving_result,
    encode_serving_results,
    encode_source_record,
    encode_source_request,
    encode_source_requests,
)


def fraud_request(seed: int = 0) -> SourceRequest:
    values = np.random.default_rng(seed).normal(size=(1, 29)).astype(np.float32)
    return SourceRequest(
        inputs={"transaction": Tensor.from_numpy(values, "transaction")},
        expected_outputs={"predictions": TensorSpec(DType.DT_FLOAT, (1, 29), "predictions")},
        datatype="fraud",
    )


def test_fraud_source_request_is_182_bytes_and_round_trips() -> None:
    request = fraud_request()
    payload = encode_source_request(request)
    assert len(payload) == 182  # the size the issue quotes for one fraud SourceRequest
    back = decode_source_request(payload)
    assert back.inputs["transaction"].equals(request.inputs["transaction"])
    assert back.inputs["transaction"].name == "transaction"
    assert back.expected_outputs == request.expected_outputs
    assert back.datatype == "fraud"


def test_serving_result_round_trips_with_metadata() -> None:
    request = fraud_request(1)
    result = ServingResult(
        inputs=request.inputs,
        outputs={"predictions": Tensor.from_numpy(np.ones((1, 29), np.float32), "predictions")},
        metadata=ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_000, 3),
        datatype="fraud",
    )
    back = decode_serving_result(encode_serving_result(result))
    assert back.metadata == result.metadata
    assert back.outputs["predictions"].equals(result.outputs["predictions"])
    assert back.inputs["transaction"].equals(result.inputs["transaction"])


def test_wrapper_records_metadata_and_descriptor_round_trip() -> None:
    t = Tensor.from_numpy(np.arange(6, dtype=np.int64).reshape(2, 3), "x")
    assert decode_source_record(encode_source_record(SourceRecord({"x": t}))).inputs["x"].equals(t)
    out = ServingOutput({"y": t, "z": TensorSpec(DType.DT_BOOL, (-1, 2), "z")})
    back = decode_serving_output(encode_serving_output(out)).outputs
    assert isinstance(back["y"], Tensor) and back["y"].equals(t)
    assert back["z"] == TensorSpec(DType.DT_BOOL, (-1, 2), "z")
    meta = ModelResultMetadata("boom", "m", "s", -5, 2**40)
    assert decode_model_result_metadata(encode_model_result_metadata(meta)) == meta
    desc = ModelDescriptor("m", "d", ModelDefinition("a", "b"), [b"\x00\xff"], ["s3://x"], "bucket", "fraud")
    assert decode_model_descriptor(encode_model_descriptor(desc)) == desc
    bare = ModelDescriptor("m")
    assert decode_model_descriptor(encode_model_descriptor(bare)) == bare


def test_batch_decode_stacks_fraud_records_and_reports_failures() -> None:
    requests = [fraud_request(i) for i in range(5)]
    payloads = [encode_source_request(r) for r in requests]
    payloads[2] = payloads[2][:50]
    batch = decode_source_requests(payloads)
    assert batch.size == 5
    assert [f.index for f in batch.failures] == [2]
    (group,) = batch.groups
    assert group.indices.tolist() == [0, 1, 3, 4]
    stacked = group.inputs["transaction"]
    assert stacked.values.shape == (4, 29)
    assert group.row_splits.tolist() == [0, 1, 2, 3, 4]
    expected = np.concatenate([requests[i].inputs["transaction"].data for i in (0, 1, 3, 4)])
    assert np.array_equal(stacked.values, expected)


def test_batch_encode_results_then_decode_results() -> None:
    requests = [fraud_request(i) for i in range(4)]
    group = decode_source_requests([encode_source_request(r) for r in requests]).groups[0]
    predictions = StackedTensor.uniform(group.inputs["transaction"].values * 2)
    ok = ModelResultMetadata(model_name="fraud", source="test", start_time=10, duration=2)
    failed = ModelResultMetadata(errors="server said no", model_name="fraud")
    metas = [ok, ok, failed, ok]
    payloads = encode_serving_results(group.inputs, {"predictions": predictions}, metas, group.datatypes)
    batch = decode_serving_results(payloads)
    assert not batch.failures
    by_size = {len(g): g for g in batch.groups}
    good, bad = by_size[3], by_size[1]
    assert good.indices.tolist() == [0, 1, 3] and bad.indices.tolist() == [2]
    assert bad.outputs == {} and bad.metadata == [failed]
    mse = ((good.inputs["transaction"].values - good.outputs["predictions"].values) ** 2).mean(axis=1)
    assert np.allclose(mse, (group.inputs["transaction"].values[[0, 1, 3]] ** 2).mean(axis=1))


def test_encode_source_requests_matches_single_record_encoding() -> None:
    requests = [fraud_request(i) for i in range(3)]
    stacked = StackedTensor.from_tensors([r.inputs["transaction"] for r in requests])
    payloads = encode_source_requests({"transaction": stacked}, requests[0].expected_outputs, "fraud")
    assert payloads == [encode_source_request(r) for r in requests]
