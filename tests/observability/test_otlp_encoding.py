"""The lean OTLP encoder gives the SDK encoder's bytes for the spans inferstream makes, and hands it
anything else."""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode

from inferstream.observability import otlp_encoding, tracing


class _Kept(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += spans
        return SpanExportResult.SUCCESS


def _fraud_path_spans() -> list[ReadableSpan]:
    """Real spans of a traced batch: ingress, process (one failed), batch wait, a linked model call,
    server-side children with numeric attributes."""
    kept = _Kept()
    assert tracing.configure_tracing("encoding", ratio=1.0, endpoint="unused:0", exporter=kept)
    try:
        headers = tracing.ingress_headers("card-ingress", "in", 4)
        batch = tracing.consume_batch("model-serving", "in", headers, range(4), [b"a", b"b", b"c", b"d"])
        assert batch is not None
        contexts = tracing.record_contexts(batch, range(4))
        assert contexts is not None
        tracing.end_waits(contexts, time.time_ns())
        with tracing.call_span(contexts, records=4, target="127.0.0.1:8500"):  # noqa: SIM117 - the order
            with tracing.server_span("Predict", tracing.outgoing_headers()):
                with tracing.child_span("model run", rows=4, share=0.5, warm=True):
                    pass
        batch.spans[3].set_status(Status(StatusCode.ERROR, "decoding failed"))
        batch.end()
    finally:
        tracing.shutdown_tracing()
    return kept.spans


def test_the_fraud_paths_spans_encode_to_the_sdks_bytes() -> None:
    spans = _fraud_path_spans()
    names = {s.name for s in spans}
    assert {"card-ingress produce", "model-serving process", "batch wait", "model call", "Predict",
            "model run"} <= names
    assert any(s.links for s in spans) and any(s.status.status_code is StatusCode.ERROR for s in spans)
    assert otlp_encoding.encode(spans).SerializeToString() == encode_spans(spans).SerializeToString()


def test_a_batch_with_anything_else_goes_to_the_sdks_encoder() -> None:
    spans = _fraud_path_spans()
    spans[0]._attributes = {"list": ("a", "b")}  # type: ignore[attr-defined]  # a sequence value
    assert otlp_encoding.encode(spans).SerializeToString() == encode_spans(spans).SerializeToString()
    assert otlp_encoding.encode([]) == encode_spans([])


def test_the_exporter_hook_it_replaces_exists() -> None:
    # If a later SDK renames it, export would silently use the SDK's encoder: this says so.
    assert callable(getattr(OTLPSpanExporter, "_translate_data", None))
    assert otlp_encoding.LeanOTLPSpanExporter._translate_data is not OTLPSpanExporter._translate_data
