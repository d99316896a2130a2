"""Seldon Core v1 protocol over REST: ``POST /api/v1.0/predictions`` with a SeldonMessage.

The protocol carries one tensor each way, so exactly one input is sent; the answer's tensor is
named after ``output_names[0]`` (default ``predictions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, batch_size, check_outputs
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, codec_errors
from inferstream.executors.rest import RestClient, require
from inferstream.tensors.jsontext import array_json
from inferstream.tensors.seldon import SeldonKind, parse_seldon_json

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
        with codec_errors(ErrorKind.REJECTED, self.source, "input cannot be sent: "):
            body = {"data": {"ndarray": array_json(array, "data.ndarray")}}
        answer = await self.client.request("POST", PREDICT_PATH, body)
        url = self.source + PREDICT_PATH
        require(answer, "data", url, self.source)
        with codec_errors(ErrorKind.MALFORMED, self.source, f"{url}: answer cannot be decoded: "):
            seldon = parse_seldon_json(answer)
        result = seldon.tensor.data
        if seldon.kind is not SeldonKind.TFTENSOR and result.dtype == np.float64:
            # Doubles on the wire: untyped numbers take the configured float type.
            result = result.astype(self.config.json_float_dtype, copy=False)
        return check_outputs({self.output_name: result}, rows, (), self.source)

    async def metadata(self) -> ModelMetadata:
        answer = await self.client.request("GET", "/api/v1.0/metadata")
        raw = answer if isinstance(answer, dict) else {}
        return ModelMetadata(name=str(raw.get("name", self.config.model)), platform="seldon", raw=raw)

    async def close(self) -> None:
        await self.client.close()
