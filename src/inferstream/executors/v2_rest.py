"""Open Inference Protocol V2 over REST (MLServer, KServe, Triton): ``POST /v2/models/<m>/infer``."""

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
from inferstream.executors.rest import RestClient, require
from inferstream.tensors import TensorCodecError
from inferstream.tensors.jsontext import array_json
from inferstream.tensors.v2 import NUMPY_OF_DATATYPE, array_from_json_tensor, binary_data, datatype_of_numpy
from inferstream.tensors.v2.binary_data import binary_infer_request, parse_binary_infer_response


def v2_model_path(config: ExecutorConfig) -> str:
    path = f"/v2/models/{config.model}"
    return path + (f"/versions/{config.version}" if config.version is not None else "")


class V2RestExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.client = RestClient(address, config)
        self.source = self.client.base
        self._path = v2_model_path(config)

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        if self.config.binary_data:
            return await self._predict_binary(inputs)
        rows = batch_size(inputs)
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            body: dict[str, Any] = {"inputs": [_input(name, value) for name, value in inputs.items()]}
        if self.config.output_names:
            body["outputs"] = [{"name": name} for name in self.config.output_names]
        answer = await self.client.request("POST", self._path + "/infer", body)
        tensors = require(answer, "outputs", self.source + self._path + "/infer", self.source)
        tensors = tensors if isinstance(tensors, list) else [tensors]
        with codec_errors(ErrorKind.MALFORMED, self.source, "answer cannot be decoded: "):
            outputs = dict(array_from_json_tensor(t, f"outputs[{i}]") for i, t in enumerate(tensors))
        return check_outputs(outputs, rows, self.config.output_names, self.source)

    async def _predict_binary(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Triton's binary tensor data extension: raw bytes both ways, no JSON numbers."""
        rows = batch_size(inputs)
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            body, length = binary_infer_request(inputs, self.config.output_names)
        headers = {binary_data.HEADER: str(length), "Content-Type": binary_data.CONTENT_TYPE}
        data, answer = await self.client.request_bytes(self._path + "/infer", body, headers)
        length_text = next((v for k, v in answer.items() if k.lower() == binary_data.HEADER.lower()), None)
        with codec_errors(ErrorKind.MALFORMED, self.source, "answer cannot be decoded: "):
            try:
                header_length = None if length_text is None else int(length_text)
            except ValueError:
                raise TensorCodecError(binary_data.HEADER, f"{length_text!r} is not a number") from None
            limit = self.config.max_message_bytes
            outputs = parse_binary_infer_response(data, header_length, max_bytes=limit)
        return check_outputs(outputs, rows, self.config.output_names, self.source)

    async def metadata(self) -> ModelMetadata:
        answer = await self.client.request("GET", self._path)
        return ModelMetadata(
            name=str(answer.get("name", self.config.model)),
            inputs=_specs(answer.get("inputs") or []),
            outputs=_specs(answer.get("outputs") or []),
            versions=tuple(str(v) for v in answer.get("versions") or ()),
            platform=str(answer.get("platform", "")),
            raw=answer,
        )

    async def close(self) -> None:
        await self.client.close()


def _input(name: str, value: npt.NDArray[Any]) -> dict[str, Any]:
    datatype = datatype_of_numpy(value.dtype)
    if datatype is None:
        raise TensorCodecError(f"inputs[{name}]", f"numpy dtype {value.dtype} has no V2 datatype")
    data = array_json(value.reshape(-1), f"inputs[{name}].data", b64=False)
    return {"name": name, "shape": list(value.shape), "datatype": datatype, "data": data}


def _specs(tensors: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(
            str(t.get("name", "")),
            NUMPY_OF_DATATYPE.get(str(t.get("datatype")), NUMPY_OF_DATATYPE["BYTES"]),
            tuple(None if int(d) < 0 else int(d) for d in t.get("shape", [])),
        )
        for t in tensors
    )
