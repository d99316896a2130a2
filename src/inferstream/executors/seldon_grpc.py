"""Seldon Core v1 protocol over gRPC: ``seldon.protos.Seldon/Predict`` with a SeldonMessage.

Sends the one input as ``data.tensor`` (shape + doubles, understood by every Seldon wrapper);
reads ``tensor``, ``ndarray`` or ``tftensor`` answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, batch_size, check_outputs
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, codec_errors
from inferstream.executors.grpc_channel import open_channel, unary
from inferstream.executors.seldon_rest import DEFAULT_OUTPUT, single_input
from inferstream.protos import seldon_pb2, seldon_pb2_grpc
from inferstream.tensors import DType, Tensor
from inferstream.tensors.seldon import SeldonKind, parse_seldon_proto, seldon_message_proto


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
        # Doubles on the wire: widen what a tensor type cannot hold (uint8, float16...) first.
        wide = array if array.dtype == np.int64 else array.astype(np.float64, copy=False)
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            request = seldon_message_proto(Tensor(DType.from_numpy(wide.dtype), wide), kind=SeldonKind.TENSOR)
        response = await unary(self.stub.Predict, request, self.config, self.source)
        if response.status.status == seldon_pb2.Status.FAILURE:
            raise ExecutorError(ErrorKind.SERVER, f"model failed: {response.status.info}", self.source)
        with codec_errors(ErrorKind.MALFORMED, self.source, "answer cannot be decoded: "):
            result = parse_seldon_proto(response, max_bytes=self.config.max_message_bytes).tensor.data
        return check_outputs({self.output_name: result}, rows, (), self.source)

    async def metadata(self) -> ModelMetadata:
        return ModelMetadata(name=self.config.model or "seldon", platform="seldon")

    async def close(self) -> None:
        await self.channel.close()
