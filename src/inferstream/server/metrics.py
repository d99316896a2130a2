"""Prometheus metrics of the built-in model server, in a registry per server instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    def __init__(self) -> None:
        # A registry of its own lets several servers live in one process (tests) without colliding.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "inferstream_server_requests", "Predict requests by model, protocol and outcome",
            ["model", "protocol", "outcome"], registry=self.registry,
        )
        self.latency = Histogram(
            "inferstream_server_request_seconds", "Predict request duration inside the server",
            ["model", "protocol"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.batch_rows = Histogram(
            "inferstream_server_batch_rows", "Rows per inference call (after adaptive batching)",
            ["model"], buckets=SIZE_BUCKETS, registry=self.registry,
        )
        self.batch_requests = Histogram(
            "inferstream_server_batch_requests", "Requests merged into one inference call",
            ["model"], buckets=SIZE_BUCKETS, registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
