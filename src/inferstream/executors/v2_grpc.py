"""Open Inference Protocol V2 over gRPC: ``inference.GRPCInferenceService/ModelInfer``.

Inputs travel as ``raw_input_contents`` (little-endian bytes: no per-element Python work);
answers are read from ``raw_output_contents`` or from the typed ``contents``, whichever is set.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
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
from inferstream.executors.errors import malformed
from inferstream.executors.grpc_channel import open_channel, unary
from inferstream.executors.json_arrays import V2_TO_NUMPY, v2_datatype
from inferstream.protos import v2_pb2, v2_pb2_grpc

_TYPED_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
    "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def raw_bytes(array: npt.NDArray[Any]) -> bytes:
    """The V2 raw encoding: little-endian values, or 4-byte-length-prefixed elements for BYTES."""
    if array.dtype.kind in "USO":
        items = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1).tolist()]
        return b"".join(struct.pack("<I", len(item)) + item for item in items)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def from_raw(raw: bytes, datatype: str, shape: list[int], name: str, source: str) -> npt.NDArray[Any]:
    if datatype == "BYTES":
        items, pos = [], 0
        while pos < len(raw):
            (size,) = struct.unpack_from("<I", raw, pos)
            items.append(raw[pos + 4 : pos + 4 + size])
            pos += 4 + size
        flat = np.empty(len(items), dtype=object)
        flat[:] = items
    else:
        dtype = V2_TO_NUMPY[datatype].newbyteorder("<")
        if len(raw) % dtype.itemsize:
            raise malformed(f"output {name!r}: {len(raw)} raw bytes are not whole {datatype} values", source)
        flat = np.frombuffer(raw, dtype=dtype).astype(V2_TO_NUMPY[datatype])
    return _shaped(flat, shape, name, source)


def _shaped(flat: npt.NDArray[Any], shape: list[int], name: str, source: str) -> npt.NDArray[Any]:
    try:
        return flat.reshape(shape)
    except ValueError:
        raise malformed(f"output {name!r}: {flat.size} values do not fit shape {shape}", source) from None


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
            request.inputs.add(name=name, datatype=v2_datatype(value), shape=list(value.shape))
            request.raw_input_contents.append(raw_bytes(value))
        for name in self.config.output_names:
            request.outputs.add(name=name)
        return request

    def _outputs(self, response: Any) -> Arrays:
        outputs: Arrays = {}
        raw = list(response.raw_output_contents)
        for index, tensor in enumerate(response.outputs):
            name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
            if datatype not in V2_TO_NUMPY:
                raise malformed(f"output {name!r} has unknown datatype {datatype!r}", self.source)
            if raw:
                if index >= len(raw):
                    raise malformed(f"output {name!r} has no raw_output_contents entry", self.source)
                outputs[name] = from_raw(raw[index], datatype, shape, name, self.source)
                continue
            values = list(getattr(tensor.contents, _TYPED_FIELD[datatype]))
            outputs[name] = _shaped(np.asarray(values, dtype=V2_TO_NUMPY[datatype]), shape, name, self.source)
        return outputs

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        response = await unary(self.stub.ModelInfer, self._request(inputs), self.config, self.source)
        return check_outputs(self._outputs(response), rows, self.config.output_names, self.source)

    async def metadata(self) -> ModelMetadata:
        request = v2_pb2.ModelMetadataRequest(name=self.config.model, version=self._version)
        answer = await unary(self.stub.ModelMetadata, request, self.config, self.source)

        def specs(tensors: Any) -> tuple[TensorSpec, ...]:
            return tuple(
                TensorSpec(t.name, V2_TO_NUMPY.get(t.datatype, V2_TO_NUMPY["BYTES"]),
                           tuple(None if d < 0 else int(d) for d in t.shape))
                for t in tensors
            )

        return ModelMetadata(
            name=answer.name, inputs=specs(answer.inputs), outputs=specs(answer.outputs),
            versions=tuple(answer.versions), platform=answer.platform,
        )

    async def close(self) -> None:
        await self.channel.close()
