"""The one core of the model server: model lookup, input checks, batching, inference off the loop.

Protocol adapters (TF Serving REST/gRPC, V2 REST/gRPC) decode requests into numpy arrays, call
``DataPlane.predict`` and encode what it returns; they hold no model logic, and this module holds
no protocol logic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from inferstream.models import Arrays, ModelInputError, Signature, UnknownSignatureError
from inferstream.server.adaptive_batching import AdaptiveBatcher, QueueFull, rows_of
from inferstream.server.errors import ErrorKind, ServerError, invalid, not_found
from inferstream.server.metrics import ServerMetrics
from inferstream.server.repository import ModelRepository, ModelVersion
from inferstream.server.settings import BatchingSettings


@dataclass(frozen=True)
class PredictResult:
    model: ModelVersion
    signature: Signature
    outputs: Arrays  # in the signature's output order, filtered when the caller asked for some


class DataPlane:
    def __init__(
        self,
        repository: ModelRepository,
        batching: BatchingSettings | None = None,
        inference_threads: int = 2,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.repository = repository
        self.batching = batching or BatchingSettings()
        self.metrics = metrics or ServerMetrics()
        self._executor = ThreadPoolExecutor(inference_threads, thread_name_prefix="inference")
        self._batchers: dict[tuple[str, int, str], AdaptiveBatcher] = {}
        self._closed = False

    # ---- health and metadata -------------------------------------------------------------------

    def live(self) -> bool:
        return not self._closed

    def ready(self) -> bool:
        return not self._closed and bool(self.repository.names())

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> ModelVersion:
        """The requested version of a model (by number or label), the highest when neither is given."""
        return self.repository.resolve(name, version, label)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every loaded version of a model, highest first (NOT_FOUND if the model is unknown)."""
        return self.repository.versions(name)

    def signature(self, entry: ModelVersion, signature_name: str = "") -> Signature:
        try:
            return entry.model.signature(signature_name)
        except UnknownSignatureError as exc:
            raise not_found(f"model {entry.name!r} version {entry.version}: {exc}") from None

    # ---- inference -----------------------------------------------------------------------------

    async def predict(
        self,
        name: str,
        inputs: Mapping[str, npt.NDArray[Any]],
        version: int | None = None,
        signature_name: str = "",
        output_names: Sequence[str] = (),
        protocol: str = "",
    ) -> PredictResult:
        """Score ``inputs`` on a model; raises ServerError (NOT_FOUND, INVALID_ARGUMENT, ...) saying why."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._predict(name, inputs, version, signature_name, output_names)
            outcome = "ok"
            return result
        except ServerError as exc:
            outcome = exc.kind.name.lower()
            raise
        finally:
            label = name if name in self.repository else "-"  # unknown names would grow the label set
            self.metrics.requests.labels(label, protocol, outcome).inc()
            self.metrics.latency.labels(label, protocol).observe(time.perf_counter() - started)

    async def _predict(
        self,
        name: str,
        inputs: Mapping[str, npt.NDArray[Any]],
        version: int | None,
        signature_name: str,
        output_names: Sequence[str],
    ) -> PredictResult:
        if self._closed:
            raise ServerError(ErrorKind.UNAVAILABLE, "the server is shutting down")
        entry = self.resolve(name, version)
        entry.in_flight.enter()  # the version is unloaded only once every request on it is done
        try:
            return await self._predict_on(entry, inputs, signature_name, output_names)
        finally:
            entry.in_flight.leave()

    async def _predict_on(
        self,
        entry: ModelVersion,
        inputs: Mapping[str, npt.NDArray[Any]],
        signature_name: str,
        output_names: Sequence[str],
    ) -> PredictResult:
        name = entry.name
        signature = self.signature(entry, signature_name)
        known_outputs = [spec.name for spec in signature.outputs]
        for output in output_names:
            if output not in known_outputs:
                raise invalid(f"output {output!r} not found; the model's outputs: {', '.join(known_outputs)}")
        try:
            checked = signature.check_inputs(inputs)
        except ModelInputError as exc:
            raise invalid(str(exc)) from None
        try:
            outputs = await self._run(entry, signature, checked)
        except ServerError:
            raise
        except Exception as exc:
            reason = f"model {name!r} failed: {type(exc).__name__}: {exc}"
            raise ServerError(ErrorKind.INTERNAL, reason) from exc
        wanted = output_names or known_outputs
        return PredictResult(entry, signature, {k: outputs[k] for k in wanted if k in outputs})

    async def _run(self, entry: ModelVersion, signature: Signature, inputs: Arrays) -> Arrays:
        if not (self.batching.enabled and signature.batched):
            loop = asyncio.get_running_loop()
            self.metrics.batch_rows.labels(entry.name).observe(rows_of(inputs))
            return await loop.run_in_executor(self._executor, entry.model.run, signature, inputs)
        try:
            return await self._batcher(entry, signature).submit(inputs)
        except QueueFull as exc:
            raise ServerError(ErrorKind.UNAVAILABLE, f"model {entry.name!r} is overloaded: {exc}") from None

    def _batcher(self, entry: ModelVersion, signature: Signature) -> AdaptiveBatcher:
        key = (entry.name, entry.version, signature.name)
        batcher = self._batchers.get(key)
        if batcher is None:
            rows = self.metrics.batch_rows.labels(entry.name)
            requests = self.metrics.batch_requests.labels(entry.name)

            def observe(n_requests: int, n_rows: int) -> None:
                requests.observe(n_requests)
                rows.observe(n_rows)

            batcher = AdaptiveBatcher(
                lambda inputs: entry.model.run(signature, inputs),
                self._executor,
                max_batch_size=self.batching.max_batch_size,
                max_wait_s=self.batching.max_wait_ms / 1000,
                workers=self.batching.workers_per_model,
                on_batch=observe,
                max_queued_rows=self.batching.max_queued_rows,
            )
            self._batchers[key] = batcher
        return batcher

    async def unload(self, entry: ModelVersion) -> None:
        """Close the batchers of a version that no longer serves (its requests are all done)."""
        keys = [k for k in self._batchers if k[:2] == (entry.name, entry.version)]
        await asyncio.gather(*(self._batchers.pop(k).close() for k in keys))

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*(b.close() for b in self._batchers.values()))
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.repository.close()
