"""Seldon Core v1 protocol over REST: ``POST /api/v1.0/predictions`` with a SeldonMessage.

The protocol carries one tensor each way, so exactly one input is sent; the answer's tensor is
named after ``output_names[0]`` (default ``predictions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy.typing as npt

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, batch_size, check_outputs
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, malformed
from inferstream.executors.json_arrays import from_json, to_json
from inferstream.executors.rest import RestClient, require

PREDICT_PATH = "/api/v1.0/predictions"
DEFAULT_OUTPUT = "predictions"


def single_input(inputs: Mapping[str, npt.NDArray[Any]], source: str) -> npt.NDArray[Any]:
    if len(inputs) != 1:
        raise ExecutorError(
            ErrorKind.REJECTED, f"the Seldon protocol carries one tensor; got inputs {sorted(inputs)}", source
        )
    return next(iter(inputs.values()))


class SeldonRestExecutor(ModelExecutor):
    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.config = config
        self.client = RestClient(address, config)
        self.source = self.client.base
        self.output_name = config.output_names[0] if config.output_names else DEFAULT_OUTPUT

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        rows = batch_size(inputs)
        array = single_input(inputs, self.source)
        answer = await self.client.request("POST", PREDICT_PATH, {"data": {"ndarray": to_json(array)}})
        url = self.source + PREDICT_PATH
        data = require(answer, "data", url, self.source)
        if isinstance(data, dict) and "ndarray" in data:
            floats = self.config.json_float_dtype
            result = from_json(data["ndarray"], "data.ndarray", self.source, float_dtype=floats)
        elif isinstance(data, dict) and "tensor" in data:
            tensor = data["tensor"]
            values = from_json(
                require(tensor, "values", url, self.source), "data.tensor", self.source,
                float_dtype=self.config.json_float_dtype,
            )
            try:
                result = values.reshape([int(d) for d in require(tensor, "shape", url, self.source)])
            except ValueError as exc:
                raise malformed(f"{url}: data.tensor does not fit its shape: {exc}", self.source) from None
        else:
            raise malformed(f"{url}: 'data' holds neither 'ndarray' nor 'tensor': {data!r:.200}", self.source)
        return check_outputs({self.output_name: result}, rows, (), self.source)

    async def metadata(self) -> ModelMetadata:
        answer = await self.client.request("GET", "/api/v1.0/metadata")
        raw = answer if isinstance(answer, dict) else {}
        return ModelMetadata(name=str(raw.get("name", self.config.model)), platform="seldon", raw=raw)

    async def close(self) -> None:
        await self.client.close()
