"""W3C trace context in record headers, the fast path and the propagator's, and the ingress's sampling."""

from __future__ import annotations

import random

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from inferstream.observability import trace_context

TRACE_ID, SPAN_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
PARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _span_context(headers: list[tuple[str, bytes]]) -> SpanContext | None:
    context = trace_context.context_from(headers)
    return None if context is None else trace.get_current_span(context).get_span_context()


def test_a_sampled_traceparent_becomes_a_remote_parent_and_back_the_same_bytes() -> None:
    found = _span_context([("other", b"x"), ("traceparent", PARENT)])
    assert found is not None and found.is_remote and found.trace_flags.sampled
    assert (found.trace_id, found.span_id) == (TRACE_ID, SPAN_ID)
    assert trace_context.headers_of(NonRecordingSpan(found)) == [("traceparent", PARENT)]


def test_unsampled_absent_or_malformed_context_is_no_parent() -> None:
    assert _span_context([("traceparent", PARENT[:-2] + b"00")]) is None  # not sampled
    assert _span_context([("other", b"x")]) is None
    for bad in (b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01", PARENT.upper(), PARENT + b"-extra", b"garbage"):
        assert _span_context([("traceparent", bad)]) is None, bad


def test_tracestate_and_other_versions_go_through_the_propagator() -> None:
    found = _span_context([("traceparent", PARENT), ("tracestate", b"vendor=abc")])
    assert found is not None and found.trace_state.get("vendor") == "abc"
    future = _span_context([("traceparent", b"01" + PARENT[2:] + b"-more")])  # a later version: accepted
    assert future is not None and future.span_id == SPAN_ID
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1), TraceState([("v", "1")])))
    assert trace_context.headers_of(span) == [("traceparent", PARENT), ("tracestate", b"v=1")]


def test_sampling_draws_about_the_ratio_and_covers_the_edges() -> None:
    random.seed(7)
    picked = [trace_context.sampled(1_000, 0.01) for _ in range(200)]
    total = sum(len(p) for p in picked)
    assert 1_600 < total < 2_400  # 1 % of 200,000
    assert all(list(p) == sorted(set(p)) and all(0 <= i < 1_000 for i in p) for p in picked)
    assert list(trace_context.sampled(5, 1.0)) == [0, 1, 2, 3, 4]
    assert list(trace_context.sampled(5, 0.0)) == []
