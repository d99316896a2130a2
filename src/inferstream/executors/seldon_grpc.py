"""Seldon Core v1 protocol over gRPC: ``seldon.protos.Seldon/Predict`` with a SeldonMessage.

Sends the one input as ``data.tensor`` (shape + doubles, understood by every Seldon wrapper);
reads ``tensor``, ``ndarray`` or ``tftensor`` answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import json_format

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, batch_size, check_outputs
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, malformed
from inferstream.executors.grpc_channel import open_channel, unary
from inferstream.executors.json_arrays import from_json
from inferstream.executors.seldon_rest import DEFAULT_OUTPUT, single_input
from inferstream.protos import seldon_pb2, seldon_pb2_grpc
from inferstream.tensors import TensorCodecError
from inferstream.tensors.tensorproto import tensor_from_proto


class SeldonGrpcExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.source = address
        self.channel = open_channel(address, config)
        self.stub = seldon_pb2_grpc.SeldonStub(self.channel)
        self.output_name = config.output_names[0] if config.output_names else DEFAULT_OUTPUT

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        array = single_input(inputs, self.source)
        if array.dtype.kind not in "biuf":
            reason = f"Seldon tensors are numeric, not {array.dtype}"
            raise ExecutorError(ErrorKind.REJECTED, reason, self.source)
        request = seldon_pb2.SeldonMessage()
        request.data.tensor.shape.extend(array.shape)
        request.data.tensor.values.extend(array.reshape(-1).astype(np.float64).tolist())
        response = await unary(self.stub.Predict, request, self.config, self.source)
        if response.status.status == seldon_pb2.Status.FAILURE:
            raise ExecutorError(ErrorKind.SERVER, f"model failed: {response.status.info}", self.source)
        return check_outputs({self.output_name: self._decode(response)}, rows, (), self.source)

    def _decode(self, response: Any) -> npt.NDArray[Any]:
        if response.WhichOneof("data_oneof") != "data":
            raise malformed(f"answer holds {response.WhichOneof('data_oneof')!r}, not 'data'", self.source)
        kind = response.data.WhichOneof("data_oneof")
        if kind == "tensor":
            values = np.asarray(response.data.tensor.values, dtype=np.float64)
            shape = list(response.data.tensor.shape)
            if values.size != int(np.prod(shape)):
                raise malformed(f"data.tensor: {values.size} values do not fit shape {shape}", self.source)
            return values.reshape(shape)
        if kind == "ndarray":
            return from_json(json_format.MessageToDict(response.data.ndarray), "data.ndarray", self.source)
        if kind == "tftensor":
            try:
                return tensor_from_proto(response.data.tftensor, "data.tftensor").data
            except TensorCodecError as exc:
                raise malformed(str(exc), self.source) from None
        raise malformed(f"data holds no tensor ({kind!r})", self.source)

    async def metadata(self) -> ModelMetadata:
        return ModelMetadata(name=self.config.model or "seldon", platform="seldon")

    async def close(self) -> None:
        await self.channel.close()
