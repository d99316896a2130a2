"""How spans leave a process: one tracer provider per process, spans batched to an OTLP/gRPC exporter.

Sized for 100 % sampling: exports of up to 4,096 spans from a queue of 32,768 (the SDK's defaults,
512 / 2,048, mean eight times the export calls). A collector that cannot keep up makes the SDK
drop spans rather than slow the pipeline — and log a warning per dropped span, which under load is
a flood of its own: :class:`QueueFullOnce` lets one through per minute with the count since. The
resource's hash is computed once (the SDK's OTLP encoder, used for unusual batches, hashes it per
span, as a JSON dump); our spans are encoded by :mod:`otlp_encoding`. Imported only once tracing is on.
"""

from __future__ import annotations

import logging
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from inferstream.observability.otlp_encoding import LeanOTLPSpanExporter

QUEUE_SPANS = 32_768
EXPORT_SPANS = 4_096
SDK_LOGGER = "opentelemetry.sdk._shared_internal"  # the batch processor's "Queue full, dropping …"


class QueueFullOnce(logging.Filter):
    """One "queue full" warning per ``every`` seconds, saying how many spans were dropped since."""

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every, self.dropped, self.last = every, 0, float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Queue full"):
            return True
        self.dropped += 1
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        record.msg = f"tracing: span queue full (collector too slow?): {self.dropped:,} span(s) dropped"
        record.args = ()
        self.last, self.dropped = now, 0
        return True


class _HashedResource(Resource):
    fixed_hash = 0

    def __hash__(self) -> int:
        return self.fixed_hash


def _hashed(resource: Resource) -> Resource:
    hashed = _HashedResource(resource.attributes, resource.schema_url)
    hashed.fixed_hash = hash(resource)
    return hashed


def make_provider(service: str, endpoint: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider exporting to ``endpoint`` (or to ``exporter``: benchmarks of the instrumentation alone).

    The ingress decides sampling itself; every other span follows its parent, or is a root we chose.
    """
    if exporter is None:
        exporter = LeanOTLPSpanExporter(endpoint=endpoint.removeprefix("http://"),
                                        insecure=not endpoint.startswith("https://"))
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, QueueFullOnce) for f in logger.filters):
        logger.addFilter(QueueFullOnce())
    provider = TracerProvider(resource=_hashed(Resource.create({"service.name": service})),
                              sampler=ParentBased(ALWAYS_ON))
    processor = BatchSpanProcessor(exporter, max_queue_size=QUEUE_SPANS, schedule_delay_millis=500,
                                   max_export_batch_size=EXPORT_SPANS)
    provider.add_span_processor(processor)
    return provider


