"""Tracing of records across a pipeline with OpenTelemetry: W3C trace context in record headers.

Off by default, and then free: every entry point returns ``None`` or does nothing, and no
OpenTelemetry module is imported. :func:`configure_tracing` (a run option) or the standard
``OTEL_*`` variables (an OTLP endpoint) turn it on for the process. The ingress decides once per
record whether it is sampled (ratio); downstream stages follow the ``traceparent`` header
(parent-based), so a trace is whole or absent. Records without trace headers (written by other
producers) simply carry none onwards.

Spans: ``<streamlet> produce`` per sampled ingress record; ``<streamlet> process`` per sampled
record a stage consumed (from receipt to the acknowledgement of what it emitted); in
model-serving ``batch wait`` per record and one ``model call`` client span per call, linked to
every sampled record in it; the model server continues the call's context (:func:`server_span`).
The runtime, executors and server import tracing only through this module.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

Headers = Sequence[tuple[str, bytes]]  # a record's headers, as Kafka carries them
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
INSTRUMENTATION = "inferstream"


@dataclass
class _State:
    provider: TracerProvider | None = None
    tracer: Tracer | None = None
    ratio: float = 1.0
    service: str = ""
    w3c: Any = None  # the trace_context module (headers ⇄ contexts), imported once tracing is on


_state = _State()


def tracing_enabled() -> bool:
    return _state.tracer is not None


def env_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """The OTLP endpoint the standard variables name, unless ``OTEL_SDK_DISABLED`` or the exporter is off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER") == "none":
        return None
    return env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def env_ratio(environ: Mapping[str, str] | None = None) -> float:
    """``OTEL_TRACES_SAMPLER_ARG`` for the (parent-based) trace-id ratio samplers; 1.0 otherwise."""
    env = os.environ if environ is None else environ
    sampler = env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    if "ratio" not in sampler:
        return 0.0 if sampler.endswith("always_off") else 1.0
    try:
        return min(1.0, max(0.0, float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))))
    except ValueError:
        return 1.0


def configure_tracing(
    service: str, ratio: float | None = None, endpoint: str | None = None, exporter: Any = None
) -> bool:
    """Turn tracing on for this process when ``endpoint`` (or ``OTEL_EXPORTER_OTLP_*``) names a collector.

    ``ratio``: share of ingress records sampled (default ``OTEL_TRACES_SAMPLER_ARG``, else 1.0).
    Returns whether tracing is on. Spans leave in batches over OTLP/gRPC.
    """
    endpoint = endpoint or env_endpoint()
    if not endpoint:
        return False
    from inferstream.observability import trace_context
    from inferstream.observability.span_export import make_provider

    provider = make_provider(service, endpoint, exporter)  # batched OTLP/gRPC export
    shutdown_tracing()
    _state.provider = provider
    _state.tracer = provider.get_tracer(INSTRUMENTATION)
    _state.w3c = trace_context
    _state.ratio = env_ratio() if ratio is None else min(1.0, max(0.0, ratio))
    _state.service = service
    return True


def shutdown_tracing() -> None:
    """Export what is buffered and turn tracing off."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.force_flush(5_000)
        provider.shutdown()


def flush_tracing(timeout_ms: int = 5_000) -> None:
    if _state.provider is not None:
        _state.provider.force_flush(timeout_ms)


# -- records ------------------------------------------------------------------------------------


def ingress_headers(streamlet: str, topic: str, records: int) -> list[Headers | None] | None:
    """Headers of ``records`` records an ingress emits: a sampled record gets a ``produce`` span's context.

    ``None`` when tracing is off or no record was sampled (the common case at low ratios).
    """
    tracer = _state.tracer
    if tracer is None or records == 0:
        return None
    chosen = _state.w3c.sampled(records, _state.ratio)
    if not chosen:
        return None
    from opentelemetry.trace import SpanKind

    headers: list[Headers | None] = [None] * records
    name, attributes = f"{streamlet} produce", {"messaging.destination.name": topic}  # streamlet: in the name
    for index in chosen:
        span = tracer.start_span(name, kind=SpanKind.PRODUCER, attributes=attributes)
        headers[index] = _state.w3c.headers_of(span)
        span.end()
    return headers


@dataclass
class BatchTrace:
    """The sampled records of one consumed batch: a ``process`` span each, keyed by index in the batch."""

    streamlet: str
    size: int = 0  # good records in the batch
    spans: dict[int, Span] = field(default_factory=dict)
    inputs: Sequence[bytes] = ()  # the good records' payloads, to tell which output came from which
    _headers: dict[int, Headers] = field(default_factory=dict)
    _contexts: dict[int, Context] = field(default_factory=dict)

    def context(self, index: int) -> Context | None:
        """The context of record ``index``'s span (children of it: batch wait, model call)."""
        found = self._contexts.get(index)
        if found is None and index in self.spans:
            found = self._contexts[index] = _state.w3c.context_with(self.spans[index])
        return found

    def headers_for(self, outputs: int, sources: Sequence[int] | None) -> list[Headers | None] | None:
        """Headers of ``outputs`` emitted records; ``sources[i]`` is the batch index record i came from
        (``None``: one output per input, in order). Outputs of unsampled records carry none."""
        if sources is None:
            if outputs != self.size:
                return None  # no telling which output came from which input: the trace ends here
            headers: list[Headers | None] = [None] * outputs  # only the sampled ones are visited
            for source in self.spans:
                headers[source] = self._headers_for(source)
            return headers
        picked = [None if s not in self.spans else self._headers_for(s) for s in sources]
        return picked if any(h is not None for h in picked) else None

    def _headers_for(self, source: int) -> Headers:
        found = self._headers.get(source)
        if found is None:
            found = self._headers[source] = _state.w3c.headers_of(self.spans[source])
        return found

    def headers_for_payloads(self, payloads: Sequence[bytes]) -> list[Headers | None] | None:
        """Headers of emitted ``payloads``: an output that IS an input payload (a router passing records
        on) continues that record's trace; otherwise one output per input, in order, is assumed."""
        ids = {id(self.inputs[i]): i for i in self.spans} if self.inputs else {}  # sampled inputs only
        if ids and not ids.keys().isdisjoint(map(id, payloads)):  # some are sampled inputs passed on
            return self.headers_for(len(payloads), [ids.get(id(p), -1) for p in payloads])
        return self.headers_for(len(payloads), None)

    def fail(self, reason: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        for span in self.spans.values():
            span.set_status(Status(StatusCode.ERROR, reason))

    def end(self) -> None:
        for span in self.spans.values():
            span.end()
        self.spans.clear()


def consume_batch(
    streamlet: str,
    topic: str,
    headers: Sequence[Headers | None] | None,
    good: Sequence[int],
    values: Sequence[bytes] = (),
) -> BatchTrace | None:
    """Start a ``process`` span for each sampled record among ``good`` (indices into ``headers``).

    Index i of the returned trace is the i-th good record (its index in the streamlet's batch);
    ``values``: the batch's payloads (all of them, as consumed).
    """
    tracer = _state.tracer
    if tracer is None or headers is None:
        return None
    from opentelemetry.trace import SpanKind

    inputs = values if len(good) == len(values) else [values[i] for i in good] if values else ()
    trace = BatchTrace(streamlet, size=len(good), inputs=inputs)
    name, attributes = f"{streamlet} process", {"messaging.source.name": topic}  # streamlet: in the name
    everything = len(good) == len(headers)
    carrying = enumerate(headers) if everything else ((p, headers[i]) for p, i in enumerate(good))
    for position, record_headers in [(p, h) for p, h in carrying if h]:  # only records with headers
        parent = _state.w3c.context_from(record_headers)
        if parent is not None:
            trace.spans[position] = tracer.start_span(name, parent, SpanKind.CONSUMER, attributes)
    return trace if trace.spans else None


_current: contextvars.ContextVar[BatchTrace | None] = contextvars.ContextVar("inferstream_batch")


def activate(trace: BatchTrace | None) -> contextvars.Token[BatchTrace | None] | None:
    """Make ``trace`` the batch being processed in this task (its emits continue its records' traces)."""
    return None if trace is None else _current.set(trace)


def deactivate(token: contextvars.Token[BatchTrace | None] | None) -> None:
    if token is not None:
        _current.reset(token)


def current_batch() -> BatchTrace | None:
    return _current.get(None) if _state.tracer is not None else None


def emit_headers(
    payloads: Sequence[bytes], streamlet: str, topics: str, ingress: bool
) -> list[Headers | None] | None:
    """Headers for records a streamlet emits: a traced batch's context, or an ingress's sampling."""
    if _state.tracer is None:
        return None
    trace = _current.get(None)
    if trace is not None:
        return trace.headers_for_payloads(payloads)
    return ingress_headers(streamlet, topics, len(payloads)) if ingress else None


def batch_contexts(indices: Sequence[int]) -> list[Any] | None:
    """Per record ``indices[i]`` of the batch being processed: its span's context, or None (not sampled)."""
    trace = current_batch()
    if trace is None:
        return None
    spans = trace.spans
    contexts = [trace.context(i) if i in spans else None for i in indices]
    return contexts if spans else None


# -- model calls ----------------------------------------------------------------------------------
def record_contexts(trace: object, indices: Sequence[int]) -> list[Any] | None:
    """The contexts of the sampled records among ``indices`` of a batch's trace (None: none sampled)."""
    if not isinstance(trace, BatchTrace):
        return None
    found = [c for c in (trace.context(i) for i in indices) if c is not None]
    return found or None


def end_waits(contexts: Sequence[Any], started_ns: int, name: str = "batch wait") -> None:
    """A span per sampled record from ``started_ns`` (when it reached the batcher) until now."""
    tracer = _state.tracer
    if tracer is None:
        return
    for context in contexts:
        tracer.start_span(name, context=context, start_time=started_ns).end()


@contextlib.contextmanager
def call_span(contexts: Sequence[Any] | None, records: int, target: str) -> Iterator[None]:
    """One client span around a model call: child of the first sampled record, linked to the others.

    While it is open, :func:`outgoing_headers` gives its context for gRPC metadata / HTTP headers.
    """
    tracer = _state.tracer
    if tracer is None or not contexts:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind

    links = [Link(trace.get_current_span(c).get_span_context()) for c in contexts[1:]]
    with tracer.start_as_current_span(
        "model call", context=contexts[0], kind=SpanKind.CLIENT, links=links,
        attributes={"inferstream.records": records, "inferstream.sampled_records": len(contexts),
                    "server.address": target},
    ):
        yield


def outgoing_headers() -> list[tuple[str, str]]:
    """``traceparent`` (and ``tracestate``) of the current span, for a request; ``[]`` when none."""
    if _state.tracer is None:
        return []
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return list(carrier.items())


# -- servers --------------------------------------------------------------------------------------
@contextlib.contextmanager
def server_span(name: str, carrier: Mapping[str, str] | Sequence[tuple[str, str]]) -> Iterator[None]:
    """A server span continuing the caller's context (from request headers / gRPC metadata), if any.

    Requests without a sampled ``traceparent`` make no span: the client decided not to trace them.
    """
    tracer = _state.tracer
    if tracer is None:
        yield
        return
    pairs = carrier.items() if isinstance(carrier, Mapping) else carrier
    headers = [(k.lower(), str(v).encode()) for k, v in pairs if k.lower() in (TRACEPARENT, TRACESTATE)]
    parent = _state.w3c.context_from(headers) if headers else None
    if parent is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER):
        yield


@contextlib.contextmanager
def child_span(name: str, **attributes: Any) -> Iterator[None]:
    """A span under the current one (decode, queue wait, model run); nothing without a current span."""
    tracer = _state.tracer
    if tracer is None:
        yield
        return
    from opentelemetry import trace

    if not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    with tracer.start_as_current_span(name, attributes=attributes or None):
        yield


def traced_context() -> Any:
    """The current context when a sampled span is open (to carry across a queue), else None."""
    if _state.tracer is None:
        return None
    from opentelemetry import context, trace

    span_context = trace.get_current_span().get_span_context()
    return context.get_current() if span_context.is_valid and span_context.trace_flags.sampled else None


def span_between(name: str, parent: Any, start_ns: int, end_ns: int, **attributes: Any) -> None:
    """A finished span under ``parent`` (from :func:`traced_context`), e.g. a request's time in a queue."""
    tracer = _state.tracer
    if tracer is None or parent is None:
        return
    tracer.start_span(name, context=parent, start_time=start_ns, attributes=attributes or None).end(end_ns)
