"""TensorFlow Serving's gRPC API over the DataPlane.

``tensorflow.serving.PredictionService/Predict`` and ``/GetModelMetadata``, and
``tensorflow.serving.ModelService/GetModelStatus``; tensors go through ``inferstream.tensors``.
"""

from __future__ import annotations

from typing import Any

from inferstream.models import TensorSpec
from inferstream.observability import tracing
from inferstream.protos import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    meta_graph_pb2,
    predict_pb2,
    types_pb2,
)
from inferstream.server.codecs import decoding, output_tensors, parse_proto
from inferstream.server.dataplane import DataPlane
from inferstream.server.errors import invalid
from inferstream.server.grpc_tf_examples import TfExamplesGrpc
from inferstream.server.repository import ModelVersion
from inferstream.server.rest_tfserving import tf_dtype_name
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto

PROTOCOL = "tfserving-grpc"
PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"


_STATES = {"LOADING": 20, "AVAILABLE": 30, "UNLOADING": 40, "END": 50}  # ModelVersionStatus.State


def _version(spec: Any, dataplane: DataPlane) -> int | None:
    """The version a ModelSpec asks for: its number, its label's number, or None (the default)."""
    if spec.WhichOneof("version_choice") == "version_label":
        return dataplane.repository.label_version(spec.name, spec.version_label)
    return int(spec.version.value) if spec.HasField("version") else None


class TfServingGrpc:
    def __init__(self, dataplane: DataPlane, max_tensor_bytes: int) -> None:
        self.dataplane = dataplane
        self.max_tensor_bytes = max_tensor_bytes
        self.examples = TfExamplesGrpc(dataplane)

    def methods(self) -> dict[str, dict[str, Any]]:
        return {
            PREDICTION_SERVICE: {
                "Predict": self.predict, "GetModelMetadata": self.metadata,
                "Classify": self.examples.classify, "Regress": self.examples.regress,
                "MultiInference": self.examples.multi_inference,
            },
            MODEL_SERVICE: {"GetModelStatus": self.status},
        }

    async def predict(self, data: bytes) -> bytes:
        request = parse_proto(predict_pb2.PredictRequest, data)
        spec = request.model_spec
        with tracing.child_span("decode"), decoding():
            inputs = {
                name: tensor_from_proto(proto, f"inputs[{name!r}]", self.max_tensor_bytes).data
                for name, proto in request.inputs.items()
            }
        version = _version(spec, self.dataplane)
        result = await self.dataplane.predict(
            spec.name, inputs, version, spec.signature_name, list(request.output_filter), PROTOCOL
        )
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = result.model.version
        response.model_spec.signature_name = result.signature.name
        for name, tensor in output_tensors(result.outputs).items():
            tensor_to_proto(tensor, into=response.outputs[name])
        return bytes(response.SerializeToString())

    async def metadata(self, data: bytes) -> bytes:
        request = parse_proto(get_model_metadata_pb2.GetModelMetadataRequest, data)
        fields = list(request.metadata_field)
        if not fields:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        unsupported = [f for f in fields if f != "signature_def"]
        if unsupported:
            raise invalid(f"Metadata field {unsupported[0]} is not supported; ask for 'signature_def'")
        entry = self.dataplane.resolve(request.model_spec.name, _version(request.model_spec, self.dataplane))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = entry.name
        response.model_spec.version.value = entry.version
        response.metadata["signature_def"].Pack(signature_def_map(entry))
        return bytes(response.SerializeToString())

    async def status(self, data: bytes) -> bytes:
        request = parse_proto(get_model_status_pb2.GetModelStatusRequest, data)
        version = _version(request.model_spec, self.dataplane)
        name = request.model_spec.name
        states = self.dataplane.repository.states(name)
        if version is not None:
            states = [s for s in states if s.version == version]
            if not states:
                self.dataplane.resolve(name, version)  # raises NOT_FOUND naming what serves
        response = get_model_status_pb2.GetModelStatusResponse()
        for state in states:
            status = response.model_version_status.add()
            status.version = state.version
            status.state = _STATES[state.state]
            if state.error:
                status.status.error_code = 2  # UNKNOWN
                status.status.error_message = state.error
        return bytes(response.SerializeToString())


def signature_def_map(entry: ModelVersion) -> Any:
    """The model's signatures as a ``tensorflow.serving.SignatureDefMap`` message."""
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    for sig in entry.model.signatures.values():
        sig_def = sig_map.signature_def[sig.name]
        sig_def.method_name = "tensorflow/serving/predict"
        for spec in sig.inputs:
            _tensor_info(spec, sig_def.inputs[spec.name])
        for spec in sig.outputs:
            _tensor_info(spec, sig_def.outputs[spec.name])
    return sig_map


def _tensor_info(spec: TensorSpec, info: Any) -> None:
    info.name = spec.name
    info.dtype = types_pb2.DataType.Value(tf_dtype_name(spec))
    if spec.shape is None:
        info.tensor_shape.unknown_rank = True
        return
    for size in spec.shape:
        info.tensor_shape.dim.add().size = -1 if size is None else size


_ = meta_graph_pb2  # SignatureDef lives there; imported so its descriptors are registered first
