"""The model-serving streamlet: SourceRequest in, ServingResult out, scored through any executor.

Records of concurrent batches are micro-batched into model calls (``max-batch-size`` records or
what arrived within ``max-batch-latency``), up to ``parallelism`` calls in flight. Results are
emitted in consumption order per partition. A record that cannot be scored after the retry
budget becomes a ServingResult with ``errors`` set; nothing is dropped. ``/state`` serves the
original's statistics JSON and ``/metrics`` this instance's Prometheus metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import web
from pydantic import ValidationError

from inferstream.executors.base import ModelExecutor
from inferstream.executors.batching import CallInfo, MicroBatcher, Segment
from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.observability.metrics import ServingMetrics
from inferstream.observability.stats import ExecutionStatistics
from inferstream.runtime import (
    BoolParameter,
    ConfigError,
    DecodeFailure,
    DurationParameter,
    InBatch,
    Inlet,
    IntParameter,
    Outlet,
    Output,
    Processor,
    ServerStreamlet,
    StreamletContext,
    StringParameter,
    parse_duration,
)
from inferstream.tensors.avro import (
    DecodedBatch,
    ModelResultMetadata,
    SourceRequestGroup,
    StackedTensor,
    decode_source_requests,
    encode_serving_results,
)
from inferstream.tensors.tensor import DType, TensorCodecError

SOURCE_REQUEST = "tensorflow.modelserving.avro.SourceRequest"
SERVING_RESULT = "tensorflow.modelserving.avro.ServingResult"

PROTOCOL = StringParameter("protocol", "tfserving", "tfserving | seldon | v2 | embedded",
                           choices=("tfserving", "seldon", "v2", "embedded"))
TRANSPORT = StringParameter("transport", "grpc", "rest | grpc", choices=("rest", "grpc"))
TARGET = StringParameter(
    "target", "", "host:port or URL, a comma-separated list, dns:///host:port or kubernetes:///ns/service/port"
)
MODEL = StringParameter("model", "", "model name on the server")
MODEL_PATH = StringParameter("model-path", "", "embedded: .onnx, .joblib or SavedModel folder")
VERSION = IntParameter("version", -1, "model version (-1: the server's latest)", minimum=-1)
VERSION_LABEL = StringParameter("version-label", "", "TF Serving version label (instead of version)")
SIGNATURE = StringParameter("signature", "", "signature name (empty: serving_default)")
REST_FORMAT = StringParameter("rest-format", "columnar", "TF Serving REST body: row | columnar",
                              choices=("row", "columnar"))
PATH_PREFIX = StringParameter("path-prefix", "", "REST path prefix, e.g. /seldon/<namespace>/<deployment>")
SELDON_DEPLOYMENT = StringParameter("seldon-deployment", "", "gRPC metadata 'seldon' (Ambassador routing)")
SELDON_NAMESPACE = StringParameter("seldon-namespace", "", "gRPC metadata 'namespace' (Ambassador routing)")
HEADERS = StringParameter("headers", "", "extra HTTP headers / gRPC metadata: 'key=value,key2=value2'")
TLS = BoolParameter("tls", False, "use TLS to the model servers")
TLS_CA = StringParameter("tls-ca-file", "", "CA bundle that signs the servers' certificates")
TLS_CERT = StringParameter("tls-cert-file", "", "client certificate (mutual TLS)")
TLS_KEY = StringParameter("tls-key-file", "", "client key (mutual TLS)")
OUTPUT_NAMES = StringParameter("output-names", "", "outputs to ask for, comma-separated (empty: all)")
RENAME_OUTPUTS = StringParameter(
    "rename-outputs", "", "rename server outputs in results: 'predict=predictions,...'"
)
MAX_BATCH_SIZE = IntParameter("max-batch-size", 64, "most records per model call", minimum=1)
MAX_BATCH_LATENCY = DurationParameter("max-batch-latency", "5 milliseconds",
                                      "longest a record waits for a batch to fill")
PARALLELISM = IntParameter("parallelism", 4, "model calls in flight per instance", minimum=1)
TIMEOUT = DurationParameter("timeout", "5 seconds", "deadline of one call attempt")
RETRIES = IntParameter("retries", 3, "extra attempts after a transient failure", minimum=0)
BACKOFF = DurationParameter("backoff", "50 milliseconds", "first retry delay (doubles, jittered)")
BACKOFF_MAX = DurationParameter("backoff-max", "2 seconds", "cap on the retry delay")
LB_POLICY = StringParameter("lb-policy", "round_robin", "round_robin | least_outstanding",
                            choices=("round_robin", "least_outstanding"))
EJECT_AFTER = IntParameter("eject-after", 1, "consecutive failures that eject an endpoint", minimum=1)
EJECT_FOR = DurationParameter("eject-for", "2 seconds", "how long an ejected endpoint rests")
DNS_REFRESH = DurationParameter("dns-refresh", "5 seconds", "how often dns:/// targets are re-resolved")

PARAMETERS = (
    PROTOCOL, TRANSPORT, TARGET, MODEL, MODEL_PATH, VERSION, VERSION_LABEL, SIGNATURE, REST_FORMAT,
    PATH_PREFIX, SELDON_DEPLOYMENT, SELDON_NAMESPACE, HEADERS, TLS, TLS_CA, TLS_CERT, TLS_KEY,
    OUTPUT_NAMES, RENAME_OUTPUTS, MAX_BATCH_SIZE, MAX_BATCH_LATENCY, PARALLELISM, TIMEOUT, RETRIES,
    BACKOFF, BACKOFF_MAX, LB_POLICY, EJECT_AFTER, EJECT_FOR, DNS_REFRESH,
)


def _pairs(text: str, key: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(key, f"{item!r} is not key=value")
        pairs[name.strip()] = value.strip()
    return pairs


def _seconds(values: dict[str, Any], parameter: DurationParameter) -> float:
    value = values.get(parameter.key)
    return float((value if value is not None else parse_duration(parameter.default)).total_seconds())


def executor_config(values: dict[str, Any]) -> ExecutorConfig:
    """The ExecutorConfig of a model-serving streamlet's parameter values (ConfigError if invalid)."""
    get = values.get
    try:
        return ExecutorConfig(
            protocol=get(PROTOCOL.key, "tfserving"),
            transport=get(TRANSPORT.key, "grpc"),
            target=get(TARGET.key, ""),
            model=get(MODEL.key, ""),
            model_path=get(MODEL_PATH.key) or None,
            version=None if get(VERSION.key, -1) < 0 else get(VERSION.key),
            version_label=get(VERSION_LABEL.key) or None,
            signature=get(SIGNATURE.key, ""),
            rest_format=get(REST_FORMAT.key, "columnar"),
            path_prefix=get(PATH_PREFIX.key, ""),
            seldon_deployment=get(SELDON_DEPLOYMENT.key, ""),
            seldon_namespace=get(SELDON_NAMESPACE.key, ""),
            headers=_pairs(get(HEADERS.key, ""), HEADERS.key),
            tls=TlsConfig(
                enabled=get(TLS.key, False),
                ca_file=get(TLS_CA.key) or None,
                cert_file=get(TLS_CERT.key) or None,
                key_file=get(TLS_KEY.key) or None,
            ),
            output_names=tuple(n.strip() for n in get(OUTPUT_NAMES.key, "").split(",") if n.strip()),
            timeout=_seconds(values, TIMEOUT),
            retries=get(RETRIES.key, 3),
            backoff_initial=_seconds(values, BACKOFF),
            backoff_max=_seconds(values, BACKOFF_MAX),
            lb_policy=get(LB_POLICY.key, "round_robin"),
            eject_after=get(EJECT_AFTER.key, 1),
            eject_seconds=_seconds(values, EJECT_FOR),
            refresh_seconds=_seconds(values, DNS_REFRESH),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError("model-serving", problems) from None


@dataclass(frozen=True)
class SourceRequestBatch:
    """Decoded SourceRequests of one consumed batch, grouped by input layout."""

    decoded: DecodedBatch[SourceRequestGroup]

    def __len__(self) -> int:
        return self.decoded.size


class SourceRequestsCodec:
    """Inlet codec: the tensors' batch decoder; undecodable payloads go to dead letters with a reason."""

    schema = SOURCE_REQUEST

    def decode(self, payloads: Sequence[bytes]) -> tuple[SourceRequestBatch, list[DecodeFailure]]:
        decoded = decode_source_requests(payloads)
        failures = [DecodeFailure(f.index, f"not a SourceRequest: {f.error}") for f in decoded.failures]
        return SourceRequestBatch(decoded), failures

    def encode(self, batch: SourceRequestBatch) -> list[bytes]:
        raise NotImplementedError("model-serving only reads SourceRequests")


class ServingResultsOut:
    """Outlet codec: payloads are encoded by the streamlet (batch encoder), so they pass as bytes."""

    schema = SERVING_RESULT

    def decode(self, payloads: Sequence[bytes]) -> tuple[list[bytes], list[DecodeFailure]]:
        return list(payloads), []

    def encode(self, batch: list[bytes]) -> list[bytes]:
        return batch


class ModelServing(ServerStreamlet, Processor):
    """Scores every SourceRequest against a model; emits a ServingResult per record, in order."""

    inlet = Inlet("in", SOURCE_REQUEST, SourceRequestsCodec())
    outlet = Outlet("out", SERVING_RESULT, ServingResultsOut())
    parameters = PARAMETERS
    max_batch_records = 1024
    max_in_flight = 8  # batches handed to process() at once; model calls are bounded by parallelism

    def __init__(self) -> None:
        self.executor: ModelExecutor | None = None
        self.batcher: MicroBatcher | None = None
        self.metrics = ServingMetrics()
        self.stats = ExecutionStatistics(name="")
        self.renames: dict[str, str] = {}
        self._in_flight: dict[tuple[str, int], dict[int, asyncio.Future[None]]] = {}

    async def on_start(self, ctx: StreamletContext) -> None:
        values = ctx.config.as_dict()
        config = executor_config(values)
        self.renames = _pairs(values.get(RENAME_OUTPUTS.key, ""), RENAME_OUTPUTS.key)
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
            max_batch_latency=_seconds(values, MAX_BATCH_LATENCY),
            parallelism=values.get(PARALLELISM.key, 4),
            observer=self._on_call,
        )
        self.metrics.in_flight.set_function(lambda: self.batcher.in_flight if self.batcher else 0)

    # -- observation ----------------------------------------------------------------------------
    def _on_attempt(self, endpoint: str, seconds: float, error: ExecutorError | None) -> None:
        self.metrics.call_latency.observe(seconds)
        self.metrics.endpoint_calls.labels(endpoint, "ok" if error is None else error.kind.value).inc()
        if error is not None:
            self.metrics.errors.labels(error.kind.value).inc()

    def _on_call(self, records: int, seconds: float, error: ExecutorError | None) -> None:
        self.metrics.batch_size.observe(records)
        if error is None:
            self.stats.record(seconds * 1000, records)
        if self.executor is not None and not hasattr(self.executor, "balancer"):
            self._on_attempt(self.executor.source, seconds, error)  # embedded: one attempt per call

    def state(self) -> dict[str, Any]:
        return self.stats.to_json()

    def http_routes(self) -> list[web.RouteDef]:
        async def state(_: web.Request) -> web.Response:
            return web.json_response(self.state())

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=self.metrics.exposition(), content_type="text/plain", charset="utf-8")

        return [web.get("/state", state), web.get("/metrics", metrics)]

    # -- processing -----------------------------------------------------------------------------
    async def process(self, batch: InBatch[Any], out: Output) -> None:
        assert self.batcher is not None, "on_start was not called"
        # Register before any await; emit only after every batch of this partition that started
        # from an earlier offset has emitted: output order follows consumption order.
        key = (batch.topic, batch.partition)
        first = batch.offsets[0]
        in_flight = self._in_flight.setdefault(key, {})
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        in_flight[first] = mine
        try:
            decoded: DecodedBatch[SourceRequestGroup] = batch.records.decoded
            self.metrics.records_in.inc(decoded.records())
            payloads = await self._score(decoded)
            while earlier := [f for offset, f in in_flight.items() if offset < first and not f.done()]:
                await asyncio.gather(*earlier)
            await out.emit(self.outlet, payloads)
            self.metrics.records_out.inc(len(payloads))
        finally:
            mine.set_result(None)
            del in_flight[first]
            if not in_flight:
                del self._in_flight[key]

    async def _score(self, decoded: DecodedBatch[SourceRequestGroup]) -> list[bytes]:
        """Payloads of the results, in the order of the decoded (good) records."""
        assert self.batcher is not None
        groups = decoded.groups
        batcher = self.batcher
        answers = await asyncio.gather(*(
            batcher.score_stacked({n: s.values for n, s in g.inputs.items()}, g.row_splits) for g in groups
        ))
        if len(groups) == 1:
            return self._encode(groups[0], answers[0])
        ordered: list[tuple[int, bytes]] = []
        for group, segments in zip(groups, answers, strict=True):
            ordered.extend(zip(group.indices.tolist(), self._encode(group, segments), strict=True))
        ordered.sort(key=lambda item: item[0])
        return [payload for _, payload in ordered]

    def _encode(self, group: SourceRequestGroup, segments: list[Segment]) -> list[bytes]:
        """ServingResults of one group: outputs stacked per name, one metadata per call."""
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
            outputs = _stack_outputs(group.row_splits, segments, names)
            return encode_serving_results(group.inputs, outputs, metadata, group.datatypes)
        except (TensorCodecError, ValueError) as exc:  # never lose the records: errors without outputs
            failed = [ModelResultMetadata(f"result cannot be encoded: {exc}", m.model_name, m.source,
                                          m.start_time, m.duration) for m in metadata]
            return encode_serving_results(group.inputs, {}, failed, group.datatypes)

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
