"""Open Inference Protocol (V2) REST over the DataPlane: infer, model metadata and readiness, health."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy.typing as npt
from aiohttp import web

from inferstream import __version__
from inferstream.server import jsonio
from inferstream.server.codecs import decoding, output_tensors
from inferstream.server.dataplane import DataPlane
from inferstream.server.v2_types import v2_metadata, v2_version
from inferstream.tensors import TensorCodecError
from inferstream.tensors.v2 import binary_data, infer_response_json, parse_infer_request_json

PROTOCOL = "v2-rest"


def _json(payload: Any, status: int = 200, arrays: Iterable[npt.NDArray[Any]] = ()) -> web.Response:
    return web.Response(body=jsonio.dumps(payload, arrays), status=status, content_type="application/json")


_V2_STATE = {"AVAILABLE": "READY", "LOADING": "LOADING", "UNLOADING": "UNLOADING", "END": "UNAVAILABLE"}


def _header_length(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise TensorCodecError(binary_data.HEADER, f"{value!r} is not a byte count") from None


def _binary(model: str, version: str, id: str, outputs: dict[str, npt.NDArray[Any]],
            binary: frozenset[str] | bool) -> web.Response:
    """A binary-data response: JSON header (its length in a header), then the binary outputs."""
    header: dict[str, Any] = {"model_name": model, "model_version": version, **({"id": id} if id else {})}
    with decoding():
        payload, length = binary_data.encode_binary(
            header, list(output_tensors(outputs).values()), "outputs", binary
        )
    return web.Response(body=payload, content_type=binary_data.CONTENT_TYPE,
                        headers={binary_data.HEADER: str(length)})


def _version(request: web.Request) -> int | None:
    return v2_version(request.match_info.get("version"))


class V2Rest:
    def __init__(self, dataplane: DataPlane, max_bytes: int) -> None:
        self.dataplane = dataplane
        self.max_bytes = max_bytes

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/v2", self.server_metadata),
            web.get("/v2/health/live", self.live),
            web.get("/v2/health/ready", self.ready),
            web.post("/v2/repository/index", self.repository_index),
        ]
        for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
            routes += [
                web.get(prefix, self.model_metadata),
                web.get(prefix + "/ready", self.model_ready),
                web.post(prefix + "/infer", self.infer),
            ]
        return routes

    async def server_metadata(self, request: web.Request) -> web.Response:
        return _json({"name": "inferstream", "version": __version__, "extensions": ["binary_tensor_data"]})

    async def repository_index(self, request: web.Request) -> web.Response:
        """The model-repository extension's index: every version seen, its state and reason (load and
        unload are not offered: versions follow the model base and its policy)."""
        repository = self.dataplane.repository
        index = [
            {"name": name, "version": str(s.version), "state": _V2_STATE.get(s.state, s.state),
             "reason": s.error}
            for name in repository.names() for s in repository.states(name)
        ]
        return _json(index)

    async def live(self, request: web.Request) -> web.Response:
        live = self.dataplane.live()
        return _json({"live": live}, 200 if live else 503)

    async def ready(self, request: web.Request) -> web.Response:
        ready = self.dataplane.ready()
        return _json({"ready": ready}, 200 if ready else 503)

    async def model_metadata(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        entry = self.dataplane.resolve(name, _version(request))
        signature = self.dataplane.signature(entry)
        return _json(v2_metadata(entry, self.dataplane.versions(name), signature))

    async def model_ready(self, request: web.Request) -> web.Response:
        entry = self.dataplane.resolve(request.match_info["name"], _version(request))
        return _json({"name": entry.name, "ready": True})

    async def infer(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        version = _version(request)
        header_length = request.headers.get(binary_data.HEADER)
        binary: frozenset[str] | bool = frozenset()
        with decoding():
            if header_length is None:
                payload = jsonio.loads(await request.read())
                body = parse_infer_request_json(payload, max_bytes=self.max_bytes)
                binary = binary_data.binary_outputs_requested(payload)  # JSON in, binary out: allowed
            else:  # Triton's binary tensor data extension
                body, binary = binary_data.parse_binary_infer_request(
                    await request.read(), _header_length(header_length), max_bytes=self.max_bytes
                )
        result = await self.dataplane.predict(
            name,
            {k: v.data for k, v in body.tensors.items()},
            version,
            output_names=body.requested_outputs,
            protocol=PROTOCOL,
        )
        if binary:
            return _binary(result.model.name, str(result.model.version), body.id, result.outputs, binary)
        with decoding():
            response = infer_response_json(
                result.model.name,
                output_tensors(result.outputs),
                model_version=str(result.model.version),
                id=body.id or None,
            )
        return _json(response, arrays=result.outputs.values())
