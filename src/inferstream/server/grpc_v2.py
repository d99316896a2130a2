"""Open Inference Protocol (V2) gRPC, ``inference.GRPCInferenceService``, over the DataPlane.

Request tensors may come in typed ``contents`` or in ``raw_input_contents``; answers use
``raw_output_contents`` (see ``inferstream.tensors.v2``).
"""

from __future__ import annotations

from typing import Any

from inferstream import __version__
from inferstream.protos import v2_pb2
from inferstream.server.codecs import decoding, output_tensors, parse_proto
from inferstream.server.dataplane import DataPlane
from inferstream.server.v2_types import v2_metadata, v2_version
from inferstream.tensors.v2 import infer_response_proto, parse_infer_request_proto

PROTOCOL = "v2-grpc"
SERVICE = "inference.GRPCInferenceService"


class V2Grpc:
    def __init__(self, dataplane: DataPlane, max_tensor_bytes: int) -> None:
        self.dataplane = dataplane
        self.max_tensor_bytes = max_tensor_bytes

    def methods(self) -> dict[str, dict[str, Any]]:
        return {
            SERVICE: {
                "ServerLive": self.live,
                "ServerReady": self.ready,
                "ModelReady": self.model_ready,
                "ServerMetadata": self.server_metadata,
                "ModelMetadata": self.model_metadata,
                "ModelInfer": self.infer,
            }
        }

    async def live(self, data: bytes) -> bytes:
        return bytes(v2_pb2.ServerLiveResponse(live=self.dataplane.live()).SerializeToString())

    async def ready(self, data: bytes) -> bytes:
        return bytes(v2_pb2.ServerReadyResponse(ready=self.dataplane.ready()).SerializeToString())

    async def model_ready(self, data: bytes) -> bytes:
        request = parse_proto(v2_pb2.ModelReadyRequest, data)
        self.dataplane.resolve(request.name, v2_version(request.version))
        return bytes(v2_pb2.ModelReadyResponse(ready=True).SerializeToString())

    async def server_metadata(self, data: bytes) -> bytes:
        response = v2_pb2.ServerMetadataResponse(name="inferstream", version=__version__)
        return bytes(response.SerializeToString())

    async def model_metadata(self, data: bytes) -> bytes:
        request = parse_proto(v2_pb2.ModelMetadataRequest, data)
        entry = self.dataplane.resolve(request.name, v2_version(request.version))
        meta = v2_metadata(entry, self.dataplane.versions(request.name), self.dataplane.signature(entry))
        response = v2_pb2.ModelMetadataResponse(
            name=meta["name"], versions=meta["versions"], platform=meta["platform"]
        )
        for field in ("inputs", "outputs"):
            for tensor in meta[field]:
                getattr(response, field).add(**tensor)
        return bytes(response.SerializeToString())

    async def infer(self, data: bytes) -> bytes:
        request = parse_proto(v2_pb2.ModelInferRequest, data)
        with decoding():
            body = parse_infer_request_proto(request, max_bytes=self.max_tensor_bytes)
        result = await self.dataplane.predict(
            request.model_name,
            {k: v.data for k, v in body.tensors.items()},
            v2_version(request.model_version),
            output_names=body.requested_outputs,
            protocol=PROTOCOL,
        )
        with decoding():
            response = infer_response_proto(
                result.model.name,
                output_tensors(result.outputs),
                model_version=str(result.model.version),
                id=request.id,
            )
        return bytes(response.SerializeToString())
