"""Open Inference Protocol V2 over gRPC: ``inference.GRPCInferenceService/ModelInfer``.

Inputs travel as ``raw_input_contents`` (little-endian bytes: no per-element Python work);
answers are read from ``raw_output_contents`` or from the typed ``contents``, whichever is set.
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
from inferstream.executors.errors import ErrorKind, codec_errors
from inferstream.executors.grpc_channel import open_channel, unary
from inferstream.protos import v2_pb2, v2_pb2_grpc
from inferstream.tensors import TensorCodecError
from inferstream.tensors.v2 import (
    NUMPY_OF_DATATYPE,
    array_raw_bytes,
    arrays_from_infer_response_proto,
    datatype_of_numpy,
)


class V2GrpcExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.source = address
        self.channel = open_channel(address, config)
        self.stub = v2_pb2_grpc.GRPCInferenceServiceStub(self.channel)
        self._version = "" if config.version is None else str(config.version)

    def _request(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Any:
        request = v2_pb2.ModelInferRequest(model_name=self.config.model, model_version=self._version)
        for name, value in inputs.items():
            datatype = datatype_of_numpy(value.dtype)
            if datatype is None:
                raise TensorCodecError(f"inputs[{name}]", f"numpy dtype {value.dtype} has no V2 datatype")
            request.inputs.add(name=name, datatype=datatype, shape=list(value.shape))
            request.raw_input_contents.append(array_raw_bytes(value, f"inputs[{name}]"))
        for name in self.config.output_names:
            request.outputs.add(name=name)
        return request

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            request = self._request(inputs)
        response = await unary(self.stub.ModelInfer, request, self.config, self.source)
        with codec_errors(ErrorKind.MALFORMED, self.source, "answer cannot be decoded: "):
            outputs = arrays_from_infer_response_proto(response, max_bytes=self.config.max_message_bytes)
        return check_outputs(outputs, rows, self.config.output_names, self.source)

    async def metadata(self) -> ModelMetadata:
        request = v2_pb2.ModelMetadataRequest(name=self.config.model, version=self._version)
        answer = await unary(self.stub.ModelMetadata, request, self.config, self.source)

        def specs(tensors: Any) -> tuple[TensorSpec, ...]:
            return tuple(
                TensorSpec(t.name, NUMPY_OF_DATATYPE.get(t.datatype, NUMPY_OF_DATATYPE["BYTES"]),
                           tuple(None if d < 0 else int(d) for d in t.shape))
                for t in tensors
            )

        return ModelMetadata(
            name=answer.name, inputs=specs(answer.inputs), outputs=specs(answer.outputs),
            versions=tuple(answer.versions), platform=answer.platform,
        )

    async def close(self) -> None:
        await self.channel.close()
