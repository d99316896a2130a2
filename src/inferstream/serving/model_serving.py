"""The model-serving streamlet: SourceRequest in, ServingResult out, scored through any executor.

Records of concurrent batches are micro-batched into model calls (``max-batch-size`` records or
what arrived within ``max-batch-latency``), up to ``parallelism`` calls in flight. Results are
emitted in consumption order per partition. When the server is unreachable the records wait
(``on-unavailable: wait``, :mod:`~inferstream.serving.outage`): nothing more is consumed until
it answers. A record the server refuses becomes a ServingResult with ``errors`` set; nothing is
dropped. ``/state`` serves the
original's statistics JSON and ``/metrics`` this instance's Prometheus metrics.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import web
from prometheus_client import Gauge

from inferstream.executors.base import ModelExecutor
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.micro_batching import CallInfo, MicroBatcher, Segment
from inferstream.executors.retry import Backoff
from inferstream.observability import stage_times
from inferstream.observability.execution_stats import ExecutionStatistics
from inferstream.observability.metrics import ServingMetrics
from inferstream.runtime import (
    ConfigError,
    InBatch,
    Inlet,
    Outlet,
    Output,
    Processor,
    ServerStreamlet,
    StreamletContext,
)
from inferstream.schemas import SERVING_RESULT, SOURCE_REQUEST
from inferstream.serving.outage import OutageWaiter
from inferstream.serving.parameters import (
    BACKOFF,
    BACKOFF_MAX,
    MAX_BATCH_LATENCY,
    MAX_BATCH_SIZE,
    MAX_WAIT,
    ON_UNAVAILABLE,
    PARALLELISM,
    PARAMETERS,
    RENAME_OUTPUTS,
    executor_config,
    pairs,
    seconds,
)
from inferstream.serving.port_codecs import (
    ScoredBatch,
    ScoredGroup,
    ScoredResultsCodec,
    SourceRequestBatch,
    SourceRequestsCodec,
    failed_metadata,
)
from inferstream.tensors.avro import DecodedBatch, ModelResultMetadata, SourceRequestGroup, StackedTensor
from inferstream.tensors.tensor import DType, TensorCodecError


class ModelServing(ServerStreamlet, Processor):
    """Scores every SourceRequest against a model; emits a ServingResult per record, in order."""

    inlet = Inlet[SourceRequestBatch]("in", SOURCE_REQUEST, SourceRequestsCodec())
    outlet = Outlet[ScoredBatch]("out", SERVING_RESULT, ScoredResultsCodec())
    parameters = PARAMETERS
    max_batch_records = 1024
    max_in_flight = 8  # batches handed to process() at once; model calls are bounded by parallelism

    @classmethod
    def check_config(cls, config: Any) -> list[ConfigError]:
        from inferstream.serving.config_checks import config_problems  # verify's path only

        return config_problems(config.as_dict())

    @classmethod
    async def preflight(cls, name: str, config: Any) -> list[str]:
        from inferstream.serving.config_checks import serving_preflight  # once per run, before any record

        return await serving_preflight(name, config.as_dict())

    def __init__(self) -> None:
        self.executor: ModelExecutor | None = None
        self.batcher: MicroBatcher | None = None
        self.metrics = ServingMetrics()
        self.stats = ExecutionStatistics(name="")
        self.renames: dict[str, str] = {}
        self.outage: OutageWaiter | None = None
        self._waiting = Gauge("inferstream_serving_waiting_for_server",
                              "1 while records wait out a model server outage (on-unavailable: wait)",
                              registry=self.metrics.registry)  # fmt: skip
        self._waiting_records = Gauge("inferstream_serving_waiting_records",
                                      "Records kept back while the model server is unavailable",
                                      registry=self.metrics.registry)  # fmt: skip

    async def on_start(self, ctx: StreamletContext) -> None:
        values = ctx.config.as_dict()
        config = executor_config(values)
        self.renames = pairs(values.get(RENAME_OUTPUTS.key, ""), RENAME_OUTPUTS.key)
        where = config.model_path if config.protocol == "embedded" else config.target
        self.stats = ExecutionStatistics(
            name=config.model or str(config.model_path or ""),
            description=f"{config.protocol} over {config.transport} at {where} "
            f"({ctx.streamlet} instance {ctx.instance})" if config.remote
            else f"embedded model {where} ({ctx.streamlet} instance {ctx.instance})",
        )
        try:
            self.executor = await open_executor(config, observer=self._on_attempt)
        except ExecutorError as exc:
            raise ConfigError("model-serving", str(exc)) from None
        self.batcher = MicroBatcher(
            self.executor,
            max_batch_size=values.get(MAX_BATCH_SIZE.key, 64),
            max_batch_latency=seconds(values, MAX_BATCH_LATENCY),
            parallelism=values.get(PARALLELISM.key, 4),
            observer=self._on_call,
        )
        self.metrics.in_flight.set_function(lambda: self.batcher.in_flight if self.batcher else 0)
        await self._note_model(config.model or str(config.model_path or ""))
        backoff = Backoff(seconds(values, BACKOFF), max(seconds(values, BACKOFF_MAX), 1.0))
        self.outage = outage = OutageWaiter(
            self.batcher.score_stacked, wait=values.get(ON_UNAVAILABLE.key, "wait") == "wait",
            max_wait=seconds(values, MAX_WAIT), backoff=backoff, target=str(where or ""),
        )  # fmt: skip
        self._waiting.set_function(lambda: float(outage.waiting))
        self._waiting_records.set_function(lambda: float(outage.waiting_records))

    # -- observation ----------------------------------------------------------------------------
    def _on_attempt(self, endpoint: str, seconds: float, error: ExecutorError | None) -> None:
        self.metrics.call_latency.observe(seconds)
        self.metrics.endpoint_calls.labels(endpoint, "ok" if error is None else error.kind.value).inc()
        if error is not None:
            self.metrics.errors.labels(error.kind.value).inc()
        # health as the console shows it: the latest attempt; an ejection each time the balancer rests it
        self.metrics.endpoint_up.labels(endpoint).set(1 if error is None else 0)
        balancer = getattr(self.executor, "balancer", None)
        if error is not None and error.transient and balancer is not None:
            state = balancer.state(endpoint)
            if state is not None and state.failures >= balancer.eject_after:
                self.metrics.endpoint_ejections.labels(endpoint).inc()

    async def _note_model(self, fallback: str) -> None:
        """The model and version answering, as the server reports them (best effort, at start)."""
        assert self.executor is not None
        try:
            meta = await asyncio.wait_for(self.executor.metadata(), 2.0)
            self.metrics.model_info.labels(meta.name or fallback, ",".join(meta.versions) or "latest").set(1)
        except Exception:  # a server not up yet: the console shows the model name only
            return

    def _on_call(self, records: int, seconds: float, error: ExecutorError | None) -> None:
        self.metrics.batch_size.observe(records)
        if error is None:
            self.stats.record(seconds * 1000, records)
        if self.executor is not None and not hasattr(self.executor, "balancer"):
            self._on_attempt(self.executor.source, seconds, error)  # embedded: one attempt per call

    def state(self) -> dict[str, Any]:
        """The original's statistics JSON; during an outage also ``status: waiting for model server``,
        how many records wait and for how long (the original's keys alone otherwise)."""
        state = self.stats.to_json()
        if self.outage is not None and self.outage.waiting:
            state["status"] = self.outage.status()
            state["waiting_records"] = self.outage.waiting_records
            state["waiting_seconds"] = round(self.outage.outage_seconds(), 1)
        return state

    def http_routes(self) -> list[web.RouteDef]:
        async def state(_: web.Request) -> web.Response:
            return web.json_response(self.state())

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=self.metrics.exposition(), content_type="text/plain", charset="utf-8")

        return [web.get("/state", state), web.get("/metrics", metrics)]

    # -- processing -----------------------------------------------------------------------------
    async def process(self, batch: InBatch[SourceRequestBatch], out: Output) -> None:
        # Output order is the runtime's: with several batches in flight, emits still leave in
        # consumption order per partition.
        assert self.batcher is not None, "on_start was not called"
        decoded = batch.records.decoded
        self.metrics.records_in.inc(decoded.records())
        scored = await self._score(decoded)
        await out.emit(self.outlet, scored)
        self.metrics.records_out.inc(len(scored))

    async def _score(self, decoded: DecodedBatch[SourceRequestGroup]) -> ScoredBatch:
        """The answers for the decoded (good) records, group by group (the outlet codec encodes them)."""
        assert self.batcher is not None
        groups = decoded.groups
        batcher = self.outage or self.batcher
        answers = await asyncio.gather(*(
            batcher.score_stacked({n: s.values for n, s in g.inputs.items()}, g.row_splits) for g in groups
        ))
        if stage_times.current() is not None:  # a traced batch: when its model calls ran
            calls = [s.call for segments in answers for s in segments if s.call.started_at]
            if calls:
                stage_times.mark("call-start", min(c.started_at for c in calls))
                stage_times.mark("call-end", max(c.started_at + c.seconds for c in calls))
        return ScoredBatch([self._scored(g, segments) for g, segments in zip(groups, answers, strict=True)])

    def _scored(self, group: SourceRequestGroup, segments: list[Segment]) -> ScoredGroup:
        """The answer of one group: outputs stacked per name, one metadata per call."""
        segments = [self._checked(s) for s in segments]
        names = next((sorted(s.outputs) for s in segments if s.outputs is not None), [])
        segments = [self._checked(s, names) for s in segments]
        metadata: list[ModelResultMetadata] = []
        for segment in segments:
            metadata.extend([self._metadata(segment.call)] * (segment.end - segment.first))
            if segment.outputs is None:
                kind = segment.call.error_kind.value if segment.call.error_kind else "unknown"
                self.metrics.records_failed.labels(kind).inc(segment.end - segment.first)
        try:
            return ScoredGroup(group, _stack_outputs(group.row_splits, segments, names), metadata)
        except (TensorCodecError, ValueError) as exc:  # never lose the records: errors without outputs
            return ScoredGroup(group, {}, failed_metadata(metadata, f"result cannot be encoded: {exc}"))

    def _checked(self, segment: Segment, names: list[str] | None = None) -> Segment:
        """Apply ``rename-outputs``; with ``names``, fail a segment whose outputs differ from them."""
        if segment.outputs is None:
            return segment
        if names is None:
            if not self.renames:
                return segment
            outputs = {self.renames.get(k, k): v for k, v in segment.outputs.items()}
            return Segment(segment.first, segment.end, outputs, segment.call)
        if sorted(segment.outputs) == names:
            return segment
        call = segment.call
        reason = f"outputs {sorted(segment.outputs)} differ from the other calls' {names}"
        return Segment(segment.first, segment.end, None, CallInfo(
            reason, ErrorKind.MALFORMED, call.source, call.start_time_ms, call.duration_ms, call.batch_records
        ))

    def _metadata(self, call: CallInfo) -> ModelResultMetadata:
        return ModelResultMetadata(
            errors=call.error,
            model_name=self.stats.name,
            source=call.source,
            start_time=call.start_time_ms,
            duration=call.duration_ms,
        )

    async def on_stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.close()
        if self.executor is not None:
            await self.executor.close()


def _stack_outputs(
    input_splits: npt.NDArray[np.int64], segments: list[Segment], names: list[str]
) -> dict[str, StackedTensor]:
    """Each output over all records of a group: a model answers row for row, so a scored record
    has as many output rows as input rows; a failed record has none."""
    if not names:
        return {}
    rows = np.diff(input_splits)
    for segment in segments:
        if segment.outputs is None:
            rows[segment.first : segment.end] = 0
    splits = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(rows, out=splits[1:])
    stacked: dict[str, StackedTensor] = {}
    for name in names:
        pieces = [_writable(s.outputs[name]) for s in segments if s.outputs is not None]
        values = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        stacked[name] = StackedTensor(DType.from_numpy(values.dtype), values, splits)
    return stacked


def _writable(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Widen dtypes the Avro tensor has no type for (float16, int8, uint32...) to ones it has."""
    if values.dtype.kind == "f" and values.dtype not in (np.float32, np.float64):
        return values.astype(np.float32)
    if values.dtype.kind in "iu" and values.dtype not in (np.int32, np.int64):
        return values.astype(np.int64)
    return values
