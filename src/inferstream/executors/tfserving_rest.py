"""TensorFlow Serving REST: ``POST /v1/models/<m>[/versions/<v>|/labels/<l>]:predict``, row or columnar.

Also what KServe's V1 protocol and Seldon's ``protocol: tensorflow`` (through Ambassador, with
``path_prefix=/seldon/<namespace>/<deployment>``) answer.
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
from inferstream.executors.errors import ErrorKind, codec_errors, malformed
from inferstream.executors.rest import RestClient, json_float_type, require
from inferstream.tensors.jsontext import array_json
from inferstream.tensors.tensorproto import numpy_dtype_of_tf_name
from inferstream.tensors.tfjson import parse_predict_response

#: The name given to a single output that the server returns unnamed.
UNNAMED_OUTPUT = "predictions"


def model_path(config: ExecutorConfig) -> str:
    path = f"/v1/models/{config.model}"
    if config.version is not None:
        path += f"/versions/{config.version}"
    elif config.version_label:
        path += f"/labels/{config.version_label}"
    return path


class TfServingRestExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.client = RestClient(address, config)
        self.source = self.client.base
        self._path = model_path(config)
        self._unnamed = config.output_names[0] if len(config.output_names) == 1 else UNNAMED_OUTPUT

    def _body(self, inputs: Mapping[str, npt.NDArray[Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"signature_name": self.config.signature} if self.config.signature else {}
        if self.config.rest_format == "columnar":
            body["inputs"] = {name: array_json(value, name, b64=True) for name, value in inputs.items()}
        elif len(inputs) == 1:
            name, value = next(iter(inputs.items()))
            body["instances"] = array_json(value, name, b64=True)
        else:  # one object per row, each holding every named input's row
            rows = batch_size(inputs)
            body["instances"] = [
                {name: array_json(value[i, ...], name, b64=True) for name, value in inputs.items()}
                for i in range(rows)
            ]
        return body

    def _outputs(self, answer: Any, url: str) -> Arrays:
        key = "outputs" if self.config.rest_format == "columnar" else "predictions"
        value = require(answer, key, url, self.source)
        with codec_errors(ErrorKind.MALFORMED, self.source, f"{url}: answer cannot be decoded: "):
            tensors = parse_predict_response(
                {key: value}, unnamed=self._unnamed, default_float=json_float_type(self.config)
            )
        return {name: tensor.data for name, tensor in tensors.items()}

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            body = self._body(inputs)
        answer = await self.client.request("POST", self._path + ":predict", body)
        outputs = self._outputs(answer, self.source + self._path)
        if self.config.output_names:
            outputs = {k: v for k, v in outputs.items() if k in self.config.output_names}
        return check_outputs(outputs, rows, self.config.output_names, self.source)

    async def metadata(self) -> ModelMetadata:
        answer = await self.client.request("GET", self._path + "/metadata")
        url = self.source + self._path + "/metadata"
        spec = require(answer, "model_spec", url, self.source)
        defs = require(require(answer, "metadata", url, self.source), "signature_def", url, self.source)
        signatures = defs.get("signature_def", {}) if isinstance(defs, dict) else {}
        name = self.config.signature or "serving_default"
        if name not in signatures:
            raise malformed(f"{url}: no signature {name!r} (has {sorted(signatures)})", self.source)
        signature = signatures[name]
        return ModelMetadata(
            name=str(spec.get("name", self.config.model)),
            inputs=_specs(signature.get("inputs", {})),
            outputs=_specs(signature.get("outputs", {})),
            versions=(str(spec.get("version", "")),),
            platform="tensorflow",
            raw=answer,
        )

    async def close(self) -> None:
        await self.client.close()


def _specs(tensors: dict[str, Any]) -> tuple[TensorSpec, ...]:
    """TF Serving's JSON ``TensorInfo`` map as specs (the map key is the name callers use)."""
    specs = []
    for name, info in tensors.items():
        shape_info = info.get("tensor_shape", {})
        shape = None if shape_info.get("unknown_rank") else tuple(
            None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape_info.get("dim", [])
        )
        specs.append(TensorSpec(name, numpy_dtype_of_tf_name(str(info.get("dtype", "DT_INVALID"))), shape))
    return tuple(specs)
