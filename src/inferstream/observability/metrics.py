"""Prometheus metrics of a model-serving instance, in a registry of its own.

A registry per instance lets several instances live in one process (tests, a local run of a
scaled streamlet) without colliding; each instance's ``/metrics`` shows its own figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
    """Records in/out, batch sizes, call latency, errors by kind, calls in flight, calls per endpoint,
    each endpoint's health and ejections, and the model (name, version) answering."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.records_in = Counter(
            "inferstream_serving_records_in", "Records consumed by model-serving",
            registry=self.registry,
        )
        self.records_out = Counter(
            "inferstream_serving_records_out", "Results emitted by model-serving (including error results)",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "inferstream_serving_batch_size", "Records per model call",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.call_latency = Histogram(
            "inferstream_serving_call_seconds", "Duration of one model call attempt",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.errors = Counter(
            "inferstream_serving_errors", "Failed call attempts, by kind",
            ["kind"], registry=self.registry,
        )
        self.records_failed = Counter(
            "inferstream_serving_records_failed", "Results emitted with errors set, by kind",
            ["kind"], registry=self.registry,
        )
        self.in_flight = Gauge(
            "inferstream_serving_in_flight", "Model calls in flight",
            registry=self.registry,
        )
        self.endpoint_calls = Counter(
            "inferstream_serving_endpoint_calls", "Call attempts per endpoint and outcome",
            ["endpoint", "outcome"], registry=self.registry,
        )
        self.endpoint_up = Gauge(
            "inferstream_serving_endpoint_up", "1 while the endpoint's latest call attempt succeeded",
            ["endpoint"], registry=self.registry,
        )
        self.endpoint_ejections = Counter(
            "inferstream_serving_endpoint_ejections", "Times the endpoint was ejected from load balancing",
            ["endpoint"], registry=self.registry,
        )
        self.model_info = Gauge(
            "inferstream_serving_model_info", "The model answering (value 1), by name and version",
            ["model", "version"], registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format of this instance's metrics."""
        return generate_latest(self.registry)
