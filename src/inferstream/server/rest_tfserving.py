"""TensorFlow Serving's REST API over the DataPlane: predict (row and columnar), status, metadata.

POST /v1/models/<m>[/versions/<v>]:predict   {"signature_name": "", "inputs"|"instances": ...}
GET  /v1/models/<m>[/versions/<v>]           model version status
GET  /v1/models/<m>[/versions/<v>]/metadata  signature defs
(each also under /seldon/<namespace>/<deployment>/, the path Seldon's Ambassador routes.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import numpy.typing as npt
from aiohttp import web

from inferstream.models import Arrays, TensorSpec
from inferstream.server import jsonio
from inferstream.server.codecs import decoding, input_dtypes, output_tensors
from inferstream.server.dataplane import DataPlane
from inferstream.server.errors import invalid, not_found
from inferstream.server.repository import ModelVersion
from inferstream.server.tf_examples import classify_json, predict_examples, regress_json, rest_examples
from inferstream.tensors.tensor import DType, TensorCodecError
from inferstream.tensors.tfjson import UNNAMED, parse_predict_request, predict_response

PROTOCOL = "tfserving-rest"
# <name>[/versions/<n> | /labels/<l>][/]  then  :predict | /metadata | nothing
_PATH = re.compile(
    r"^(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?/?"
    r"(?::(?P<verb>[a-z]+)|(?P<metadata>metadata))?$"
)


def _json(payload: Any, status: int = 200, arrays: Iterable[npt.NDArray[Any]] = ()) -> web.Response:
    return web.Response(body=jsonio.dumps(payload, arrays), status=status, content_type="application/json")


def _parse_path(tail: str) -> tuple[str, int | None, str | None, str, bool]:
    """(model, version, version label, verb, metadata?) of a /v1/models/ path."""
    match = _PATH.match(tail)
    if match is None:
        raise not_found(f"unknown path /v1/models/{tail}")
    version = int(match["version"]) if match["version"] else None
    return match["name"], version, match["label"], match["verb"] or "", bool(match["metadata"])


class TfServingRest:
    def __init__(self, dataplane: DataPlane, max_bytes: int) -> None:
        self.dataplane = dataplane
        self.max_bytes = max_bytes

    def routes(self) -> list[web.RouteDef]:
        # Also under Seldon's Ambassador prefix, so the original's Seldon curl commands work as written.
        return [
            route
            for prefix in ("", "/seldon/{namespace}/{deployment}")
            for route in (
                web.post(prefix + "/v1/models/{tail:.+}", self.post),
                web.get(prefix + "/v1/models/{tail:.+}", self.get),
            )
        ]

    async def post(self, request: web.Request) -> web.Response:
        name, version, label, verb, metadata = _parse_path(request.match_info["tail"])
        if verb not in ("predict", "classify", "regress") or metadata:
            answers = ":predict, :classify, :regress"
            raise not_found(f"unsupported method {verb or 'POST'!r}; this server answers {answers}")
        if label:
            version = self.dataplane.resolve(name, label=label).version
        if verb != "predict":
            examples = rest_examples(jsonio.loads(await request.read()))
            result = await predict_examples(self.dataplane, name, version, examples, "tfserving-rest")
            return _json(classify_json(result) if verb == "classify" else regress_json(result))
        payload, outputs = await self.predict(name, version, await request.read())
        return _json(payload, arrays=outputs.values())

    async def get(self, request: web.Request) -> web.Response:
        name, version, label, verb, metadata = _parse_path(request.match_info["tail"])
        if label:
            version = self.dataplane.resolve(name, label=label).version
        if verb:
            raise web.HTTPMethodNotAllowed("GET", ["POST"], text=json.dumps({"error": f":{verb} needs POST"}))
        if metadata:
            return _json(self.metadata(name, version))
        return _json(self.status(name, version))

    # ---- predict -------------------------------------------------------------------------------

    async def predict(self, name: str, version: int | None, body: bytes) -> tuple[dict[str, Any], Arrays]:
        """The response body and the output arrays it was made of."""
        payload = jsonio.loads(body)
        signature_name = payload.get("signature_name") if isinstance(payload, dict) else None
        entry = self.dataplane.resolve(name, version)
        signature = self.dataplane.signature(entry, signature_name if isinstance(signature_name, str) else "")
        with decoding(signature):
            request = parse_predict_request(payload, dtypes=input_dtypes(signature), max_bytes=self.max_bytes)
        inputs = {k: v.data for k, v in request.tensors.items()}
        if UNNAMED in inputs:
            if len(signature.inputs) != 1:
                names = ", ".join(s.name for s in signature.inputs)
                raise invalid(f"the signature has inputs {names}: name them in the request")
            inputs = {signature.inputs[0].name: inputs.pop(UNNAMED)}
        result = await self.dataplane.predict(
            name, inputs, entry.version, request.signature_name or "", protocol=PROTOCOL
        )
        with decoding():
            return predict_response(output_tensors(result.outputs), format=request.format), result.outputs

    # ---- status and metadata -------------------------------------------------------------------

    def status(self, name: str, version: int | None) -> dict[str, Any]:
        """Every version's state (AVAILABLE, LOADING, UNLOADING, END), failed ones with the reason."""
        states = self.dataplane.repository.states(name)
        if version is not None:
            states = [s for s in states if s.version == version]
            if not states:
                self.dataplane.resolve(name, version)  # raises NOT_FOUND naming what serves
        return {
            "model_version_status": [
                {
                    "version": str(s.version),
                    "state": s.state,
                    "status": {"error_code": "UNKNOWN" if s.error else "OK", "error_message": s.error},
                }
                for s in states
            ]
        }

    def metadata(self, name: str, version: int | None) -> dict[str, Any]:
        entry = self.dataplane.resolve(name, version)
        return {
            "model_spec": {"name": name, "signature_name": "", "version": str(entry.version)},
            "metadata": {"signature_def": {"signature_def": signature_defs(entry)}},
        }


def signature_defs(entry: ModelVersion) -> dict[str, Any]:
    """The model's signatures in TF Serving's SignatureDefMap JSON form."""
    return {
        sig.name: {
            "inputs": {s.name: _tensor_info(s) for s in sig.inputs},
            "outputs": {s.name: _tensor_info(s) for s in sig.outputs},
            "method_name": "tensorflow/serving/predict",
        }
        for sig in entry.model.signatures.values()
    }


def tf_dtype_name(spec: TensorSpec) -> str:
    try:
        return DType.from_numpy(spec.dtype).value
    except TensorCodecError:
        return "DT_INVALID"


def _tensor_info(spec: TensorSpec) -> dict[str, Any]:
    shape: dict[str, Any] = {"dim": [], "unknown_rank": spec.shape is None}
    if spec.shape is not None:
        shape["dim"] = [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape]
    return {"dtype": tf_dtype_name(spec), "tensor_shape": shape, "name": spec.name}
