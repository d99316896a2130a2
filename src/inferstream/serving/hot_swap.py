"""Model serving that swaps its model from a stream of ModelDescriptor records, between micro-batches.

:class:`HotSwapServing` is :class:`~inferstream.serving.model_serving.ModelServing` with a second
inlet, ``updates`` (ModelDescriptor), and an ``errors`` outlet. An update is loaded off the hot
path (a thread), checked (same input and output names and shapes as the model serving now, and a
warm-up call on a real record), then swapped in: batches that started before the swap finish on
the old model, batches after it use the new one. Every ServingResult names what scored it in
``modelResultMetadata.modelName`` as ``name:version``. A model that fails to load or check is
refused: an error record (model, reason) on ``errors``, and the old model keeps scoring.

Embedded serving loads the new model; remote serving (tfserving/v2) switches the model name and
version it asks the server for (the server must already hold it: the check asks its metadata).
Seldon's protocol has no versions, so an update to seldon serving is refused.
The updates inlet shares the streamlet's consumer group: run one instance per updates partition
reader, or one instance (docs/models.md, "Hot swap").
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.base import ModelExecutor, ModelMetadata
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.embedded import EmbeddedExecutor
from inferstream.executors.errors import ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.micro_batching import MicroBatcher
from inferstream.executors.retry import Backoff
from inferstream.models.spec import ModelLoadError
from inferstream.runtime import InBatch, Inlet, Outlet, Output, StreamletContext
from inferstream.schemas import MODEL_DESCRIPTOR
from inferstream.serving.model_serving import ModelServing
from inferstream.serving.model_updates import ModelUpdate, resolve, split_label
from inferstream.serving.outage import OutageWaiter
from inferstream.serving.parameters import (
    BACKOFF,
    BACKOFF_MAX,
    MAX_BATCH_LATENCY,
    MAX_BATCH_SIZE,
    MAX_WAIT,
    ON_UNAVAILABLE,
    PARALLELISM,
    executor_config,
    seconds,
)
from inferstream.tensors.avro import DecodedBatch, ModelResultMetadata, SourceRequestGroup

UPDATE_ERROR = {
    "type": "record", "name": "ModelUpdateError", "namespace": "inferstream.serving",
    "fields": [{"name": "modelName", "type": "string"}, {"name": "reason", "type": "string"},
               {"name": "serving", "type": "string"}],
}  # fmt: skip

_scoring_label: contextvars.ContextVar[str] = contextvars.ContextVar("scoring_label", default="")


class HotSwapServing(ModelServing):
    """ModelServing plus an ``updates`` inlet of ModelDescriptor records and an ``errors`` outlet."""

    updates = Inlet[list[dict[str, Any]]]("updates", MODEL_DESCRIPTOR)
    errors = Outlet[list[dict[str, Any]]]("errors", UPDATE_ERROR)

    def __init__(self) -> None:
        super().__init__()
        self.label = ""
        self.swaps = 0
        self._config: ExecutorConfig | None = None
        self._values: dict[str, Any] = {}
        self._meta: ModelMetadata | None = None
        self._sample: dict[str, npt.NDArray[Any]] | None = None
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def on_start(self, ctx: StreamletContext) -> None:
        await super().on_start(ctx)
        self._values = ctx.config.as_dict()
        self._config = config = executor_config(self._values)
        assert self.executor is not None
        path = Path(str(config.model_path)) if config.model_path is not None else None
        name = config.model or (path.parent.name if path is not None else "") or "model"
        version = config.version if config.version is not None and config.version >= 0 else None
        if path is not None and path.name.isdigit():
            version = int(path.name)
        self.label = ModelUpdate(split_label(name)[0], version, None).label
        self.stats.name = self.label
        try:
            self._meta = await asyncio.wait_for(self.executor.metadata(), 5.0)
        except Exception:  # a remote server not up yet: the first update's check asks it then
            self._meta = None

    # -- scoring: every batch remembers the model it started on ---------------------------------
    async def _score(self, decoded: DecodedBatch[SourceRequestGroup]) -> Any:
        _scoring_label.set(self.label)  # read with self.batcher/outage, in the same step
        if self._sample is None and decoded.groups:
            group = decoded.groups[0]
            end = int(group.row_splits[1])
            self._sample = {n: s.values[:end] for n, s in group.inputs.items()}
        return await super()._score(decoded)

    def _metadata(self, call: Any) -> ModelResultMetadata:
        return dataclasses.replace(super()._metadata(call), model_name=_scoring_label.get() or self.label)

    # -- updates ---------------------------------------------------------------------------------
    async def process(self, batch: InBatch[Any], out: Output) -> None:
        if batch.inlet.name != "updates":
            await super().process(batch, out)
            return
        refused = []
        for record in batch.records:
            reason = await self.apply(record)
            if reason is not None:
                refused.append({"modelName": str(record.get("modelName", "")), "reason": reason,
                                "serving": self.label})  # fmt: skip
        if refused:
            await out.emit(self.errors, refused)

    async def apply(self, record: dict[str, Any]) -> str | None:
        """Load, check and swap in the model ``record`` describes; the reason when it is refused."""
        assert self._config is not None
        async with self._lock:
            embedded = self._config.protocol == "embedded"
            executor: ModelExecutor | None = None
            try:
                update = await asyncio.to_thread(resolve, record, need_path=embedded)
                if embedded:
                    config = self._config.model_copy(update={"model_path": update.path, "model": update.name})
                    executor = await asyncio.to_thread(
                        EmbeddedExecutor.load, str(update.path), config.signature, update.name
                    )
                elif self._config.protocol == "seldon":  # no versions: the label would lie
                    raise ValueError("protocol seldon has no model versions to switch; roll the new model "
                                     "out on the Seldon deployment (or serve it with tfserving/v2)")
                else:  # the version named replaces a version label; a new name asks for that model
                    config = self._config.model_copy(
                        update={"model": update.name, "version": update.version, "version_label": None}
                    )
                    executor = await open_executor(config, observer=self._on_attempt)
                meta = await self._vetted(executor)
            except (ModelLoadError, ExecutorError, OSError, ValueError, RuntimeError) as exc:
                if executor is not None:
                    await executor.close()
                return f"{type(exc).__name__}: {exc}"
            self._swap(executor, config, meta, update.label)
            return None

    async def _vetted(self, executor: ModelExecutor) -> ModelMetadata:
        """The new model's metadata after its signature matched and a warm-up call answered."""
        meta = await asyncio.wait_for(executor.metadata(), 30.0)
        if self._meta is not None:
            for kind, old, new in (("inputs", self._meta.inputs, meta.inputs),
                                   ("outputs", self._meta.outputs, meta.outputs)):  # fmt: skip
                if _signature(old) != _signature(new):
                    serving = _signature(old)
                    raise ValueError(f"{kind} {_signature(new)} differ from the serving model's {serving}")
        sample = self._sample or _zeros(meta)
        if sample:
            outputs = await asyncio.wait_for(executor.predict(sample), 30.0)
            if not outputs:
                raise ValueError("the warm-up call answered no outputs")
        return meta

    def _swap(self, executor: ModelExecutor, config: ExecutorConfig, meta: ModelMetadata, label: str) -> None:
        """Between micro-batches: the next batch scores on the new model; the old finishes its calls."""
        values = self._values
        batcher = MicroBatcher(
            executor, max_batch_size=values.get(MAX_BATCH_SIZE.key, 64),
            max_batch_latency=seconds(values, MAX_BATCH_LATENCY),
            parallelism=values.get(PARALLELISM.key, 4), observer=self._on_call,
        )  # fmt: skip
        backoff = Backoff(seconds(values, BACKOFF), max(seconds(values, BACKOFF_MAX), 1.0))
        outage = OutageWaiter(
            batcher.score_stacked, wait=values.get(ON_UNAVAILABLE.key, "wait") == "wait",
            max_wait=seconds(values, MAX_WAIT), backoff=backoff, target=executor.source,
        )  # fmt: skip
        old = (self.batcher, self.executor)
        # one synchronous step: a batch sees either the old trio or the new one, never a mix
        self.executor, self.batcher, self.outage, self.label = executor, batcher, outage, label
        self._config, self._meta = config, meta
        self.stats.name = label
        self.swaps += 1
        task = asyncio.create_task(_retire(*old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def on_stop(self) -> None:
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        await super().on_stop()


async def _retire(batcher: MicroBatcher | None, executor: ModelExecutor | None) -> None:
    """Close the replaced model once its calls in flight answered."""
    if batcher is not None:
        await batcher.close()
    if executor is not None:
        await executor.close()


def _signature(specs: Any) -> list[tuple[str, tuple[int | None, ...] | None]]:
    return sorted((s.name, None if s.shape is None else tuple(s.shape[1:])) for s in specs)


def _zeros(meta: ModelMetadata) -> dict[str, npt.NDArray[Any]]:
    """A one-row input per declared input (free dimensions 1), for a warm-up before any record."""
    sample: dict[str, npt.NDArray[Any]] = {}
    for spec in meta.inputs:
        if spec.shape is None:
            return {}
        sample[spec.name] = np.zeros(tuple(d or 1 for d in spec.shape), dtype=spec.dtype)
    return sample
