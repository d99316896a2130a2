"""How spans leave a process: one "queue full" warning a minute, the resource hashed once."""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from inferstream.observability.span_export import SDK_LOGGER, QueueFullOnce, make_provider


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord(SDK_LOGGER, logging.WARNING, "", 0, message, ("span",), None)


def test_a_full_queue_warns_once_a_minute_with_the_count_dropped() -> None:
    once = QueueFullOnce(every=60)
    first = _record("Queue full, dropping %s.")
    assert once.filter(first) and "1 span(s) dropped" in first.getMessage()
    assert not any(once.filter(_record("Queue full, dropping %s.")) for _ in range(1_000))
    assert once.dropped == 1_000
    assert once.filter(_record("Exception while exporting %s."))  # other messages pass as they are
    once.last -= 61
    later = _record("Queue full, dropping %s.")
    assert once.filter(later) and "1,001 span(s) dropped" in later.getMessage()


class _Kept(SpanExporter):
    def __init__(self) -> None:
        self.names: list[str] = []

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.names += [s.name for s in spans]
        return SpanExportResult.SUCCESS


def test_the_provider_exports_batched_spans_under_the_service_name() -> None:
    kept = _Kept()
    provider = make_provider("svc", "unused:0", kept)
    try:
        for index in range(3):
            provider.get_tracer("t").start_span(f"s{index}").end()
        provider.force_flush()
        assert sorted(kept.names) == ["s0", "s1", "s2"]
        assert provider.resource.attributes["service.name"] == "svc"
        assert hash(provider.resource) == hash(provider.resource)  # computed once, stable
        assert sum(isinstance(f, QueueFullOnce) for f in logging.getLogger(SDK_LOGGER).filters) == 1
    finally:
        provider.shutdown()
