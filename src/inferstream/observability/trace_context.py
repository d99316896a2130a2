"""W3C trace context (``traceparent``, ``tracestate``) to and from a record's headers, made cheaply;
and which records of a batch an ingress samples.

At 100 % sampling every stage reads and writes these headers for every record, so the common case
(version 00, no ``tracestate``) is parsed and formatted here directly instead of through the
propagator's carrier dicts and per-call Context copies; anything else (a ``tracestate``, a future
version) goes through OpenTelemetry's own ``TraceContextTextMapPropagator``, which defines the
rules. Imported only once tracing is on.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Headers = Sequence[tuple[str, bytes]]
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_VERSION_00 = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_PROPAGATOR = TraceContextTextMapPropagator()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def sampled(records: int, ratio: float) -> Sequence[int]:
    """Indices of the sampled records among ``records``, each with probability ``ratio``: the gaps
    between them are drawn (geometric), so a 1 % ratio costs a draw per sampled record, not per record."""
    if ratio >= 1.0:
        return range(records)
    if ratio <= 0.0:
        return ()
    chosen: list[int] = []
    log_miss = math.log1p(-ratio)
    index = -1
    while True:
        index += 1 + int(math.log(1.0 - random.random()) / log_miss)
        if index >= records:
            return chosen
        chosen.append(index)


def headers_of(span: Span) -> Headers:
    """The headers that continue ``span``'s trace downstream."""
    c = span.get_span_context()
    headers = [(TRACEPARENT, b"00-%032x-%016x-%02x" % (c.trace_id, c.span_id, c.trace_flags))]
    if c.trace_state:
        headers.append((TRACESTATE, c.trace_state.to_header().encode()))
    return headers


def context_from(headers: Headers) -> Context | None:
    """The context of a record's sampled ``traceparent``; None when absent, invalid or not sampled."""
    parent: bytes | None = None
    state: bytes | None = None
    for key, value in headers:
        if key == TRACEPARENT:
            parent = bytes(value)
        elif key == TRACESTATE:
            state = bytes(value)
    if parent is None:
        return None
    match = _VERSION_00.fullmatch(parent) if state is None else None
    if match is None:  # a tracestate to carry, another version, or malformed: the propagator decides
        carrier = {TRACEPARENT: parent.decode("latin-1")}
        if state is not None:
            carrier[TRACESTATE] = state.decode("latin-1")
        context = _PROPAGATOR.extract(carrier)
        span_context = trace.get_current_span(context).get_span_context()
        return context if span_context.is_valid and span_context.trace_flags.sampled else None
    trace_id, span_id, flags = int(match[1], 16), int(match[2], 16), int(match[3], 16)
    if not flags & TraceFlags.SAMPLED or not trace_id or not span_id:
        return None
    remote = SpanContext(trace_id, span_id, True, _SAMPLED if flags == 1 else TraceFlags(flags))
    return trace.set_span_in_context(NonRecordingSpan(remote))


def context_with(span: Span) -> Context:
    """A context whose current span is ``span`` (the parent of spans started with it)."""
    return trace.set_span_in_context(span)
