"""TF Serving gRPC ``Classify``, ``Regress`` and ``MultiInference`` (see :mod:`tf_examples`)."""

from __future__ import annotations

from typing import Any

from inferstream.protos import classification_pb2, inference_pb2, regression_pb2
from inferstream.server.codecs import parse_proto
from inferstream.server.dataplane import DataPlane, PredictResult
from inferstream.server.errors import invalid
from inferstream.server.tf_examples import class_scores, predict_examples, proto_examples, scores

PROTOCOL = "tfserving-grpc"


def _version(spec: Any) -> int | None:
    return int(spec.version.value) if spec.HasField("version") else None


def _fill_classes(target: Any, result: PredictResult) -> None:
    for row in class_scores(result):
        classes = target.classifications.add()
        for label, score in enumerate(row):
            classes.classes.add(label=str(label), score=float(score))


def _fill_regressions(target: Any, result: PredictResult) -> None:
    for value in scores(result):
        target.regressions.add(value=float(value))


class TfExamplesGrpc:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    async def _run(self, spec: Any, input_proto: Any) -> PredictResult:
        examples = proto_examples(input_proto)
        return await predict_examples(self.dataplane, spec.name, _version(spec), examples, PROTOCOL)

    async def classify(self, data: bytes) -> bytes:
        request = parse_proto(classification_pb2.ClassificationRequest, data)
        result = await self._run(request.model_spec, request.input)
        response = classification_pb2.ClassificationResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = result.model.version
        _fill_classes(response.result, result)
        return bytes(response.SerializeToString())

    async def regress(self, data: bytes) -> bytes:
        request = parse_proto(regression_pb2.RegressionRequest, data)
        result = await self._run(request.model_spec, request.input)
        response = regression_pb2.RegressionResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = result.model.version
        _fill_regressions(response.result, result)
        return bytes(response.SerializeToString())

    async def multi_inference(self, data: bytes) -> bytes:
        request = parse_proto(inference_pb2.MultiInferenceRequest, data)
        response = inference_pb2.MultiInferenceResponse()
        for task in request.tasks:
            method = task.method_name.rsplit("/", 1)[-1]
            if method not in ("classify", "regress"):
                name = task.method_name
                raise invalid(f"task method {name!r}: only tensorflow/serving/classify and regress")
            result = await self._run(task.model_spec, request.input)
            out = response.results.add()
            out.model_spec.name = task.model_spec.name
            out.model_spec.version.value = result.model.version
            if method == "classify":
                _fill_classes(out.classification_result, result)
            else:
                _fill_regressions(out.regression_result, result)
        return bytes(response.SerializeToString())
