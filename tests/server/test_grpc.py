"""gRPC APIs of the built-in server (TF Serving and V2) through stubs generated from the .proto files."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from inferstream.protos import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    tensor_pb2,
    types_pb2,
    v2_pb2,
    v2_pb2_grpc,
)
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto
from inferstream.tensors.v2 import infer_request_proto, parse_infer_response_proto

from .conftest import ServerThread


@pytest.fixture(scope="module")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


def _predict_request(name: str, inputs: dict[str, np.ndarray], version: int | None = None) -> object:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        tensor_to_proto(Tensor.from_numpy(value), into=request.inputs[key])
    return request


def test_predict_matches_tensorflow(channel: grpc.Channel, fraud_reference: dict) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x, want = fraud_reference["transaction"], fraud_reference["predictions"]
    response = stub.Predict(_predict_request("fraud", {"transaction": x}, version=1), timeout=60)
    assert response.model_spec.name == "fraud" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    np.testing.assert_allclose(tensor_from_proto(response.outputs["predictions"]).data, want, atol=1e-5)


def test_predict_reads_typed_float_val(channel: grpc.Channel, autoencoder_reference: dict) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x, want = autoencoder_reference["transaction"][:2], autoencoder_reference["predictions"][:2]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tf-autoencoder"
    proto = request.inputs["transaction"]
    proto.dtype = types_pb2.DT_FLOAT
    proto.tensor_shape.dim.add().size = 2
    proto.tensor_shape.dim.add().size = 29
    proto.float_val.extend(x.reshape(-1).tolist())
    response = stub.Predict(request, timeout=60)
    np.testing.assert_allclose(tensor_from_proto(response.outputs["predictions"]).data, want, atol=1e-5)


def test_output_filter_and_sklearn(channel: grpc.Channel) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = _predict_request("classifier", {"input": np.zeros((3, 4))})
    request.output_filter.append("probabilities")
    response = stub.Predict(request, timeout=60)
    assert list(response.outputs) == ["probabilities"]
    assert tensor_from_proto(response.outputs["probabilities"]).shape == (3, 2)


def test_metadata_and_status(channel: grpc.Channel) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "fraud"
    response = stub.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 1
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(sig_map)
    info = sig_map.signature_def["serving_default"].inputs["transaction"]
    assert info.dtype == types_pb2.DT_FLOAT and [d.size for d in info.tensor_shape.dim] == [-1, 29]

    status_stub = model_service_pb2_grpc.ModelServiceStub(channel)
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "linear"
    status = status_stub.GetModelStatus(status_request, timeout=30)
    assert [(s.version, s.state) for s in status.model_version_status] == [(2, 30), (1, 30)]


def test_v2_grpc_infer_raw_and_typed(channel: grpc.Channel, fraud_reference: dict) -> None:
    stub = v2_pb2_grpc.GRPCInferenceServiceStub(channel)
    x, want = fraud_reference["transaction"], fraud_reference["predictions"]
    for raw in (True, False):
        request = infer_request_proto("fraud", {"transaction": x}, id="r1", raw=raw)
        response = stub.ModelInfer(request, timeout=60)
        body = parse_infer_response_proto(response)
        assert body.model_name == "fraud" and body.model_version == "1" and body.id == "r1"
        np.testing.assert_allclose(body.tensors["predictions"].data, want, atol=1e-5)
    assert stub.ServerLive(v2_pb2.ServerLiveRequest(), timeout=10).live
    assert stub.ServerReady(v2_pb2.ServerReadyRequest(), timeout=10).ready
    assert stub.ModelReady(v2_pb2.ModelReadyRequest(name="linear", version="1"), timeout=10).ready
    meta = stub.ModelMetadata(v2_pb2.ModelMetadataRequest(name="linear"), timeout=10)
    assert list(meta.versions) == ["2", "1"] and meta.inputs[0].datatype == "FP32"
    assert list(meta.inputs[0].shape) == [-1, 4]


def _code(call: object, *args: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=30)  # type: ignore[operator]
    return info.value.code(), info.value.details()


def test_bad_requests_get_status_codes_and_server_keeps_serving(channel: grpc.Channel) -> None:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    v2 = v2_pb2_grpc.GRPCInferenceServiceStub(channel)
    good = {"X": np.ones((1, 4), np.float32)}
    code, details = _code(stub.Predict, _predict_request("nope", good))
    assert code == grpc.StatusCode.NOT_FOUND and "nope" in details
    code, details = _code(stub.Predict, _predict_request("linear", good, version=5))
    assert code == grpc.StatusCode.NOT_FOUND and "version 5" in details
    code, details = _code(stub.Predict, _predict_request("linear", {"Y": np.ones((1, 4), np.float32)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'Y'" in details
    code, details = _code(stub.Predict, _predict_request("linear", {"X": np.ones((1, 3), np.float32)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'X'" in details and "size 4" in details
    code, details = _code(
        stub.Predict, _predict_request("linear", {"X": np.array([[b"a"] * 4], dtype=object)})
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "float32" in details
    truncated = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=b"\x00" * 7)
    truncated.tensor_shape.dim.add().size = 2
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "linear"
    request.inputs["X"].CopyFrom(truncated)
    code, details = _code(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "tensor_content" in details
    code, _ = _code(stub.GetModelMetadata, get_model_metadata_pb2.GetModelMetadataRequest())
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, details = _code(v2.ModelInfer, infer_request_proto("linear", {"X": np.ones((2, 5), np.float32)}))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'X'" in details

    raw_predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
    code, details = _code(raw_predict, b"\xff\xff\xff not protobuf")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "malformed" in details
    huge = _predict_request("linear", {"X": np.ones((20_000, 4), np.float32)})  # > 256 KiB limit
    code, _ = _code(stub.Predict, huge)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED

    response = stub.Predict(_predict_request("linear", good), timeout=30)
    assert tensor_from_proto(response.outputs["variable"]).shape == (1, 1)


def test_tensorflow_own_tensor_protos_interoperate(channel: grpc.Channel, fraud_reference: dict) -> None:
    import tensorflow as tf  # already loaded by the session's SavedModels

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    x, want = fraud_reference["transaction"][:5], fraud_reference["predictions"][:5]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fraud"
    request.inputs["transaction"].ParseFromString(tf.make_tensor_proto(x).SerializeToString())
    response = stub.Predict(request, timeout=60)
    theirs = tf.make_ndarray(
        tf.make_tensor_proto(0.0).FromString(response.outputs["predictions"].SerializeToString())
    )
    np.testing.assert_allclose(theirs, want, atol=1e-5)
