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
from inferstream.executors.json_arrays import V2_TO_NUMPY, from_v2_tensor, to_json, v2_datatype
from inferstream.executors.rest import RestClient, require


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
        rows = batch_size(inputs)
        body: dict[str, Any] = {
            "inputs": [
                {
                    "name": name,
                    "shape": list(value.shape),
                    "datatype": v2_datatype(value),
                    "data": to_json(value.reshape(-1)),
                }
                for name, value in inputs.items()
            ]
        }
        if self.config.output_names:
            body["outputs"] = [{"name": name} for name in self.config.output_names]
        answer = await self.client.request("POST", self._path + "/infer", body)
        tensors = require(answer, "outputs", self.source + self._path + "/infer", self.source)
        tensors = tensors if isinstance(tensors, list) else [tensors]
        outputs = dict(from_v2_tensor(t, self.source) for t in tensors)
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


def _specs(tensors: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(
            str(t.get("name", "")),
            V2_TO_NUMPY.get(str(t.get("datatype")), V2_TO_NUMPY["BYTES"]),
            tuple(None if int(d) < 0 else int(d) for d in t.get("shape", [])),
        )
        for t in tensors
    )
