"""TensorFlow Serving gRPC: ``tensorflow.serving.PredictionService`` ``Predict`` and ``GetModelMetadata``.

With ``seldon_deployment``/``seldon_namespace`` set, calls carry the ``seldon``/``namespace``
metadata that Ambassador and Istio route on, as the original's gRPC client did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy.typing as npt

from inferstream.executors.base import (
    Arrays,
    ModelExecutor,
    ModelMetadata,
    TensorSpec,
    batch_size,
    check_outputs,
)
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, malformed
from inferstream.executors.grpc_channel import open_channel, unary
from inferstream.protos import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    types_pb2,
)
from inferstream.tensors import Tensor, TensorCodecError
from inferstream.tensors.tensorproto import numpy_dtype_of_tf_name, tensor_from_proto, tensor_to_proto


def fill_model_spec(spec: Any, config: ExecutorConfig) -> None:
    spec.name = config.model
    if config.version is not None:
        spec.version.value = config.version
    elif config.version_label:
        spec.version_label = config.version_label
    if config.signature:
        spec.signature_name = config.signature


class TfServingGrpcExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.source = address
        self.channel = open_channel(address, config)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def _request(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Any:
        request = predict_pb2.PredictRequest()
        fill_model_spec(request.model_spec, self.config)
        try:
            for name, value in inputs.items():
                tensor_to_proto(Tensor.from_numpy(value, name), into=request.inputs[name])
        except TensorCodecError as exc:
            raise ExecutorError(ErrorKind.REJECTED, f"input cannot be sent: {exc}", self.source) from None
        request.output_filter.extend(self.config.output_names)
        return request

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        response = await unary(self.stub.Predict, self._request(inputs), self.config, self.source)
        outputs: Arrays = {}
        for name, proto in response.outputs.items():
            try:
                tensor = tensor_from_proto(proto, f"outputs[{name!r}]", self.config.max_message_bytes)
                outputs[name] = tensor.data
            except TensorCodecError as exc:
                raise malformed(f"answer cannot be decoded: {exc}", self.source) from None
        return check_outputs(outputs, rows, self.config.output_names, self.source)

    async def metadata(self) -> ModelMetadata:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        fill_model_spec(request.model_spec, self.config)
        request.model_spec.ClearField("signature_name")
        response = await unary(self.stub.GetModelMetadata, request, self.config, self.source)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        packed = response.metadata.get("signature_def")
        if packed is None or not packed.Unpack(signatures):
            raise malformed("GetModelMetadata answered without a signature_def map", self.source)
        name = self.config.signature or "serving_default"
        if name not in signatures.signature_def:
            raise malformed(f"no signature {name!r} (has {sorted(signatures.signature_def)})", self.source)
        signature = signatures.signature_def[name]
        return ModelMetadata(
            name=response.model_spec.name or self.config.model,
            inputs=_specs(signature.inputs),
            outputs=_specs(signature.outputs),
            versions=(str(response.model_spec.version.value),),
            platform="tensorflow",
        )

    async def close(self) -> None:
        await self.channel.close()


def _specs(infos: Any) -> tuple[TensorSpec, ...]:
    specs = []
    for name, info in infos.items():
        shape = None if info.tensor_shape.unknown_rank else tuple(
            None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim
        )
        specs.append(TensorSpec(name, numpy_dtype_of_tf_name(types_pb2.DataType.Name(info.dtype)), shape))
    return tuple(specs)
