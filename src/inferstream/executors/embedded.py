"""In-process models (ONNX Runtime, scikit-learn, TensorFlow SavedModel) behind the executor interface."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy.typing as npt

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, batch_size, check_outputs
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.models import LoadedModel, ModelError, ModelInputError, load_model


class EmbeddedExecutor(ModelExecutor):
    """Runs a model loaded in this process; input and output names come from the model's signature.

    Calls run on worker threads (the runtimes release the GIL), so several batches may be in
    flight at once, as with a remote server.
    """

    def __init__(self, model: LoadedModel, signature: str = "", name: str = "") -> None:
        self.model = model
        self.signature_name = signature
        self.name = name or model.path.name
        self.source = f"embedded:{model.path}"
        try:
            self.signature = model.signature(signature)
        except ModelError as exc:
            raise ExecutorError(ErrorKind.CONFIG, str(exc), self.source) from exc

    @classmethod
    def load(cls, path: str | Path, signature: str = "", name: str = "") -> EmbeddedExecutor:
        from inferstream.models.store import fetch_latest

        try:
            model = load_model(fetch_latest(path))  # a base's highest version; s3:// is downloaded
        except ModelError as exc:
            raise ExecutorError(ErrorKind.CONFIG, str(exc), f"embedded:{path}") from exc
        return cls(model, signature, name)

    def _run(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        return self.model.predict(inputs, self.signature_name)

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        batch = batch_size(inputs)
        try:
            outputs = await asyncio.to_thread(self._run, inputs)
        except ModelInputError as exc:
            raise ExecutorError(ErrorKind.REJECTED, str(exc), self.source) from exc
        except Exception as exc:  # the runtime failed on this batch: the batch's records get the reason
            raise ExecutorError(ErrorKind.SERVER, f"{type(exc).__name__}: {exc}", self.source) from exc
        return check_outputs(outputs, batch, (), self.source)

    async def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            name=self.name,
            inputs=self.signature.inputs,
            outputs=self.signature.outputs,
            platform=self.model.format,
            raw={"signature_name": self.signature.name, "path": str(self.model.path)},
        )

    async def close(self) -> None:
        self.model.close()
