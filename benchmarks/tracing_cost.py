"""CPU per record that tracing's instrumentation costs, apart from Kafka, servers and load: the spans
of the fraud path (ingress produce; model-serving process, batch wait, one model call per batch;
decider process; egress process), their W3C headers and their OTLP encoding, in one process.

    .venv/bin/python benchmarks/tracing_cost.py                        # off, 1 %, 100 %; encode only
    .venv/bin/python benchmarks/tracing_cost.py --otlp-endpoint 127.0.0.1:4317 --ratio 1.0

It drives ``inferstream.observability.tracing`` as the runtime and the micro-batching executor do,
batch by batch (``--batch`` records), and prints CPU µs per record (process CPU time: the exporter's
thread included) per ratio. By default spans are encoded to OTLP protobuf and dropped (the encoding
is part of the cost; no collector needed); ``--otlp-endpoint`` sends them to a real one. What
tracing costs a whole pipeline's throughput is measured by ``inferstream bench --mode traced``
(docs/benchmarks.md, "Tracing cost"): divide these µs by a pipeline's CPU µs per record for the
share, which — unlike throughput on a shared machine — hardly depends on the load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from inferstream.bench.machine import describe_machine
from inferstream.observability import tracing
from inferstream.observability.otlp_encoding import encode


class EncodeOnly(SpanExporter):
    """Encodes each batch to an OTLP request, as inferstream's gRPC exporter does, and drops it."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode(spans).SerializeToString()
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def one_batch(size: int) -> None:
    """One batch through ingress → model-serving (one model call) → decider → an egress."""
    values = [b"r%d" % i for i in range(size)]
    ingress = tracing.ingress_headers("card-ingress", "in", size)
    serving = tracing.consume_batch("model-serving", "in", ingress, range(size), values)
    token = tracing.activate(serving)
    contexts = tracing.batch_contexts(range(size))
    sampled = [c for c in contexts or () if c is not None]
    tracing.end_waits(sampled, time.time_ns())
    with tracing.call_span(sampled or None, size, "127.0.0.1:8500"):
        tracing.outgoing_headers()
    results = tracing.emit_headers([b"s%d" % i for i in range(size)], "model-serving", "results", False)
    tracing.deactivate(token)
    if serving is not None:
        serving.end()
    decider = tracing.consume_batch("fraud-decider", "results", results, range(size))
    routed = None if decider is None else decider.headers_for(size, None)
    if decider is not None:
        decider.end()
    egress = tracing.consume_batch("normal-counter", "normal", routed, range(size))
    if egress is not None:
        egress.end()


def measure(ratio: float | None, records: int, batch: int, endpoint: str | None) -> tuple[float, int]:
    """CPU µs per record and spans exported, at ``ratio`` (None: tracing off)."""
    exporter = EncodeOnly() if endpoint is None else None
    if ratio is not None:
        assert tracing.configure_tracing("tracing-cost", ratio, endpoint or "unused:0", exporter=exporter)
    started = time.process_time()
    for _ in range(records // batch):
        one_batch(batch)
    tracing.shutdown_tracing()  # the last spans' export counts too
    return 1e6 * (time.process_time() - started) / records, exporter.spans if exporter else -1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ratio", type=float, action="append", help="repeatable; default: off, 0.01, 1.0")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="records per consumed batch and model call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--otlp-endpoint", help="a real OTLP/gRPC collector (default: encode, then drop)")
    args = parser.parse_args()
    ratios: list[float | None] = args.ratio or [None, 0.01, 1.0]
    print(describe_machine())
    print(f"| tracing | CPU µs per record (rounds of {args.records:,}) | median | spans per round |")
    print("| --- | --- | ---: | ---: |")
    for ratio in ratios:
        runs = [measure(ratio, args.records, args.batch, args.otlp_endpoint) for _ in range(args.rounds)]
        cpu = sorted(r[0] for r in runs)
        label = "off" if ratio is None else f"{ratio * 100:g} %"
        listed = ", ".join(f"{c:.2f}" for c in cpu)
        print(f"| {label} | {listed} | {cpu[len(cpu) // 2]:.2f} | {runs[0][1]:,} |", flush=True)


if __name__ == "__main__":
    main()
