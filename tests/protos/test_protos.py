"""The .proto sources, their generated stubs, and their fidelity to the originals."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest

from inferstream import protos

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "src" / "inferstream" / "protos" / "gen"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_stubs_match_the_proto_sources(tmp_path: Path) -> None:
    _load_generator().generate(tmp_path / "gen")
    fresh, committed = _tree(tmp_path / "gen"), _tree(GEN)
    assert sorted(fresh) == sorted(committed), "stub files differ: run `make protos`"
    drifted = [name for name in fresh if fresh[name] != committed[name]]
    assert drifted == [], f"stubs drifted from the .proto sources: {drifted}; run `make protos`"


_BOTH_ORDERS = """
import sys
if sys.argv[1] == "tf-first":
    import tensorflow as tf
    from inferstream.protos import tensor_pb2, predict_pb2, seldon_pb2
else:
    from inferstream.protos import tensor_pb2, predict_pb2, seldon_pb2
    import tensorflow as tf
ours = tensor_pb2.TensorProto.FromString(tf.make_tensor_proto([[1.5, 2.5]]).SerializeToString())
theirs = tf.make_ndarray(tf.make_tensor_proto([[1.5, 2.5]]).__class__.FromString(ours.SerializeToString()))
request = predict_pb2.PredictRequest()
request.inputs["x"].CopyFrom(ours)
assert ours.DESCRIPTOR.full_name == "tensorflow.TensorProto"
assert type(ours) is not type(tf.make_tensor_proto(1.0))
print(theirs.tolist(), len(request.SerializeToString()), seldon_pb2.SeldonMessage.DESCRIPTOR.full_name)
"""


def test_stubs_import_alongside_tensorflow_in_either_order() -> None:
    # Both orders at once, each in a fresh interpreter (importing TensorFlow takes seconds).
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    runs = {
        order: subprocess.Popen(
            [sys.executable, "-c", _BOTH_ORDERS, order],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for order in ("tf-first", "ours-first")
    }
    try:
        for order, run in runs.items():
            stdout, stderr = run.communicate(timeout=300)
            assert run.returncode == 0, f"{order}: {stderr[-3000:]}"
            assert stdout.split()[:2] == ["[[1.5,", "2.5]]"], order
            assert stdout.strip().endswith("seldon.protos.SeldonMessage"), order
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()


def _shape(descriptor: Any) -> dict[str, tuple[int, int, bool, str]]:
    """Each field's number, wire type, repeatedness and message/enum type name."""
    return {
        f.name: (
            f.number,
            f.type,
            f.is_repeated,
            (f.message_type or f.enum_type).full_name if (f.message_type or f.enum_type) else "",
        )
        for f in descriptor.fields
    }


def test_tensorflow_core_protos_match_tensorflows_own() -> None:
    from tensorflow.core.example import example_pb2, feature_pb2
    from tensorflow.core.framework import (
        resource_handle_pb2,
        tensor_pb2,
        tensor_shape_pb2,
        types_pb2,
    )
    from tensorflow.core.protobuf import meta_graph_pb2

    theirs_enum = {v.name: v.number for v in types_pb2.DataType.DESCRIPTOR.values}
    ours_enum = {v.name: v.number for v in protos.types_pb2.DataType.DESCRIPTOR.values}
    assert ours_enum == theirs_enum
    for ours, theirs in [
        (protos.tensor_pb2.TensorProto, tensor_pb2.TensorProto),
        (protos.tensor_pb2.VariantTensorDataProto, tensor_pb2.VariantTensorDataProto),
        (protos.tensor_shape_pb2.TensorShapeProto, tensor_shape_pb2.TensorShapeProto),
        (protos.tensor_shape_pb2.TensorShapeProto.Dim, tensor_shape_pb2.TensorShapeProto.Dim),
        (protos.resource_handle_pb2.ResourceHandleProto, resource_handle_pb2.ResourceHandleProto),
        (protos.meta_graph_pb2.SignatureDef, meta_graph_pb2.SignatureDef),
        (protos.example_pb2.Example, example_pb2.Example),
        (protos.example_pb2.SequenceExample, example_pb2.SequenceExample),
        *[
            (getattr(protos.feature_pb2, name), getattr(feature_pb2, name))
            for name in ("BytesList", "FloatList", "Int64List", "Feature", "Features", "FeatureList",
                         "FeatureLists")
        ],
    ]:
        assert _shape(ours.DESCRIPTOR) == _shape(theirs.DESCRIPTOR), ours.DESCRIPTOR.full_name
    # TensorInfo: every field we declare is TensorFlow's (composite_tensor = 5 is left out).
    ours_info, theirs_info = (
        _shape(protos.meta_graph_pb2.TensorInfo.DESCRIPTOR),
        _shape(meta_graph_pb2.TensorInfo.DESCRIPTOR),
    )
    assert ours_info == {k: v for k, v in theirs_info.items() if k != "composite_tensor"}


def test_error_codes_match_tensorflows() -> None:
    from tensorflow.core.protobuf import error_codes_pb2

    theirs = {v.name: v.number for v in error_codes_pb2.Code.DESCRIPTOR.values}
    ours = {v.name: v.number for v in protos.error_codes_pb2.Code.DESCRIPTOR.values}
    assert ours == theirs
    assert protos.status_pb2.StatusProto.DESCRIPTOR.fields_by_name["error_code"].enum_type.full_name == (
        "tensorflow.error.Code"
    )


def test_predict_request_bytes_match_a_hand_encoded_message() -> None:
    request = protos.predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.version.value = 2
    request.model_spec.signature_name = "s"
    tensor = request.inputs["x"]
    tensor.dtype = protos.types_pb2.DT_FLOAT
    tensor.tensor_shape.dim.add().size = 1
    tensor.float_val.append(1.0)
    # field 1 (ModelSpec): name=1 "m", version=2 {value=1: 2}, signature_name=3 "s"
    spec = b"\x0a\x01m" + b"\x12\x02\x08\x02" + b"\x1a\x01s"
    # TensorProto: dtype=1 (DT_FLOAT=1), shape=2 {dim=2 {size=1: 1}}, float_val=5 packed [1.0]
    tp = b"\x08\x01" + b"\x12\x04\x12\x02\x08\x01" + b"\x2a\x04\x00\x00\x80\x3f"
    entry = b"\x0a\x01x" + b"\x12" + bytes([len(tp)]) + tp
    expected = b"\x0a" + bytes([len(spec)]) + spec + b"\x12" + bytes([len(entry)]) + entry
    assert request.SerializeToString(deterministic=True) == expected
    assert protos.predict_pb2.PredictRequest.FromString(expected) == request


def test_v2_and_seldon_field_numbers() -> None:
    infer = protos.v2_pb2.ModelInferRequest.DESCRIPTOR.fields_by_name
    assert {
        n: infer[n].number
        for n in (
            "model_name",
            "model_version",
            "id",
            "parameters",
            "inputs",
            "outputs",
            "raw_input_contents",
        )
    } == {
        "model_name": 1,
        "model_version": 2,
        "id": 3,
        "parameters": 4,
        "inputs": 5,
        "outputs": 6,
        "raw_input_contents": 7,
    }
    response = protos.v2_pb2.ModelInferResponse.DESCRIPTOR.fields_by_name
    assert response["raw_output_contents"].number == 6
    contents = protos.v2_pb2.InferTensorContents.DESCRIPTOR.fields_by_name
    assert [
        contents[n].number
        for n in (
            "bool_contents",
            "int_contents",
            "int64_contents",
            "uint_contents",
            "uint64_contents",
            "fp32_contents",
            "fp64_contents",
            "bytes_contents",
        )
    ] == list(range(1, 9))
    data = protos.seldon_pb2.DefaultData.DESCRIPTOR.fields_by_name
    assert (data["names"].number, data["tensor"].number, data["ndarray"].number, data["tftensor"].number) == (
        1,
        2,
        3,
        4,
    )
    assert data["tftensor"].message_type.full_name == "tensorflow.TensorProto"
    message = protos.seldon_pb2.SeldonMessage.DESCRIPTOR.fields_by_name
    assert [
        message[n].number for n in ("status", "meta", "data", "binData", "strData", "jsonData", "customData")
    ] == list(range(1, 8))


class _Servicers:
    """Minimal servicers answering over real gRPC to check the method paths of the stubs."""

    class Prediction(protos.prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
        def Predict(self, request: Any, context: Any) -> Any:
            response = protos.predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.outputs["y"].CopyFrom(request.inputs["x"])
            return response

        def Regress(self, request: Any, context: Any) -> Any:
            response = protos.regression_pb2.RegressionResponse()
            for example in request.input.example_list.examples:
                values = example.features.feature["x"].float_list.value
                response.result.regressions.add(value=sum(values))
            return response

    class Seldon(protos.seldon_pb2_grpc.SeldonServicer):  # type: ignore[misc]
        def Predict(self, request: Any, context: Any) -> Any:
            return protos.seldon_pb2.SeldonMessage(strData=request.strData.upper())

    class V2(protos.v2_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
        def ServerLive(self, request: Any, context: Any) -> Any:
            return protos.v2_pb2.ServerLiveResponse(live=True)

        def ModelInfer(self, request: Any, context: Any) -> Any:
            return protos.v2_pb2.ModelInferResponse(
                model_name=request.model_name, raw_output_contents=list(request.raw_input_contents)
            )

    class Status(protos.model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
        def GetModelStatus(self, request: Any, context: Any) -> Any:
            response = protos.get_model_status_pb2.GetModelStatusResponse()
            status = response.model_version_status.add(version=1)
            status.state = protos.get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return response


def test_services_answer_over_real_grpc_with_original_method_paths() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    protos.prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _Servicers.Prediction(), server
    )
    protos.seldon_pb2_grpc.add_SeldonServicer_to_server(_Servicers.Seldon(), server)
    protos.v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(_Servicers.V2(), server)
    protos.model_service_pb2_grpc.add_ModelServiceServicer_to_server(_Servicers.Status(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            request = protos.predict_pb2.PredictRequest()
            request.model_spec.name = "fraud"
            request.inputs["x"].float_val.extend([1.0, 2.0])
            reply = protos.prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                request, timeout=10
            )
            assert reply.model_spec.name == "fraud"
            assert list(reply.outputs["y"].float_val) == [1.0, 2.0]
            # The original method paths, as a peer that never saw our stubs would call them.
            raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")(
                request.SerializeToString(), timeout=10
            )
            assert protos.predict_pb2.PredictResponse.FromString(raw).outputs["y"].float_val[1] == 2.0
            regress = protos.regression_pb2.RegressionRequest()
            example = regress.input.example_list.examples.add()
            example.features.feature["x"].float_list.value.extend([1.0, 2.5])
            raw = channel.unary_unary("/tensorflow.serving.PredictionService/Regress")(
                regress.SerializeToString(), timeout=10
            )
            assert protos.regression_pb2.RegressionResponse.FromString(raw).result.regressions[0].value == 3.5
            with pytest.raises(grpc.RpcError) as unimplemented:
                protos.prediction_service_pb2_grpc.PredictionServiceStub(channel).Classify(
                    protos.classification_pb2.ClassificationRequest(), timeout=10
                )
            assert unimplemented.value.code() is grpc.StatusCode.UNIMPLEMENTED
            seldon = channel.unary_unary("/seldon.protos.Seldon/Predict")(
                protos.seldon_pb2.SeldonMessage(strData="hi").SerializeToString(), timeout=10
            )
            assert protos.seldon_pb2.SeldonMessage.FromString(seldon).strData == "HI"
            v2 = protos.v2_pb2_grpc.GRPCInferenceServiceStub(channel)
            assert v2.ServerLive(protos.v2_pb2.ServerLiveRequest(), timeout=10).live
            infer = v2.ModelInfer(
                protos.v2_pb2.ModelInferRequest(model_name="m", raw_input_contents=[b"\x01\x02"]),
                timeout=10,
            )
            assert (infer.model_name, list(infer.raw_output_contents)) == ("m", [b"\x01\x02"])
            status = channel.unary_unary("/tensorflow.serving.ModelService/GetModelStatus")(
                protos.get_model_status_pb2.GetModelStatusRequest().SerializeToString(), timeout=10
            )
            parsed = protos.get_model_status_pb2.GetModelStatusResponse.FromString(status)
            assert parsed.model_version_status[0].state == 30
    finally:
        server.stop(grace=None)
