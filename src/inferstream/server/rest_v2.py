"""Open Inference Protocol (V2) REST over the DataPlane: infer, model metadata and readiness, health."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import web

from inferstream import __version__
from inferstream.server.dataplane import DataPlane
from inferstream.server.errors import invalid, not_found
from inferstream.server.json_values import to_array
from inferstream.server.v2_types import V2_TO_NUMPY, v2_datatype, v2_metadata

PROTOCOL = "v2-rest"


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(payload).encode(), status=status, content_type="application/json")


def _version(request: web.Request) -> int | None:
    text = request.match_info.get("version")
    if text is None:
        return None
    if not text.isdigit():
        raise not_found(f"model version {text!r} not found: versions are numbers")
    return int(text)


class V2Rest:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/v2", self.server_metadata),
            web.get("/v2/health/live", self.live),
            web.get("/v2/health/ready", self.ready),
        ]
        for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
            routes += [
                web.get(prefix, self.model_metadata),
                web.get(prefix + "/ready", self.model_ready),
                web.post(prefix + "/infer", self.infer),
            ]
        return routes

    async def server_metadata(self, request: web.Request) -> web.Response:
        return _json({"name": "inferstream", "version": __version__, "extensions": []})

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
        try:
            payload = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise invalid(f"JSON Parse error: {exc}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
            raise invalid("the request body must be a JSON object with an 'inputs' list")
        inputs = dict(decode_input(item) for item in payload["inputs"])
        outputs = payload.get("outputs") or []
        if not isinstance(outputs, list) or not all(isinstance(o, dict) and "name" in o for o in outputs):
            raise invalid("'outputs' must be a list of {\"name\": ...} objects")
        result = await self.dataplane.predict(
            name, inputs, version, output_names=[str(o["name"]) for o in outputs], protocol=PROTOCOL
        )
        response: dict[str, Any] = {
            "model_name": result.model.name,
            "model_version": str(result.model.version),
            "outputs": [encode_output(k, v) for k, v in result.outputs.items()],
        }
        if "id" in payload:
            response["id"] = payload["id"]
        return _json(response)


def decode_input(item: Any) -> tuple[str, npt.NDArray[Any]]:
    """One V2 request tensor ``{"name", "shape", "datatype", "data"}`` as (name, array)."""
    if not isinstance(item, dict) or not {"name", "shape", "datatype", "data"} <= set(item):
        raise invalid("each input needs 'name', 'shape', 'datatype' and 'data'")
    name = str(item["name"])
    datatype = item["datatype"]
    if datatype not in V2_TO_NUMPY:
        raise invalid(f"input {name!r}: unknown datatype {datatype!r}; use one of {', '.join(V2_TO_NUMPY)}")
    shape = item["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise invalid(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
    array = to_array(item["data"], name)
    want = V2_TO_NUMPY[datatype]
    compatible = (
        (want.kind == "O" and array.dtype.kind == "O")
        or (want.kind == "b" and array.dtype.kind == "b")
        or (want.kind in "iuf" and array.dtype.kind in "iu")
        or (want.kind == "f" and array.dtype.kind == "f")
        or array.size == 0
    )
    if not compatible:
        raise invalid(f"input {name!r}: data of type {array.dtype} does not match datatype {datatype}")
    try:
        return name, array.astype(want, copy=False).reshape(shape)
    except ValueError:
        raise invalid(f"input {name!r}: {array.size} values do not fill shape {shape}") from None


def encode_output(name: str, value: npt.NDArray[Any]) -> dict[str, Any]:
    flat = value.reshape(-1)
    if flat.dtype.kind in "OS":
        data: list[Any] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat.tolist()]
    else:
        data = np.asarray(flat).tolist()
    return {"name": name, "shape": list(value.shape), "datatype": v2_datatype(value.dtype), "data": data}
