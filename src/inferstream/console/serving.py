"""Model-serving figures from the instances' Prometheus ``/metrics`` text: calls, latency, endpoints.

Counters are cumulative; the console keeps the previous reading and reports recent figures
(latency quantiles, endpoint health) over the difference, so a server that went down shows at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

PREFIX = "inferstream_serving_"


@dataclass
class ServingReading:
    """One instance's (or several instances' summed) cumulative model-serving figures."""

    records_in: float = 0.0
    records_out: float = 0.0
    calls: float = 0.0
    records_called: float = 0.0  # sum of records over calls (batch-size histogram sum)
    in_flight: float = 0.0
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    errors: dict[str, float] = field(default_factory=dict)  # kind -> failed attempts
    endpoint_calls: dict[str, dict[str, float]] = field(default_factory=dict)  # endpoint -> outcome -> n
    endpoint_up: dict[str, float] = field(default_factory=dict)
    endpoint_ejections: dict[str, float] = field(default_factory=dict)
    models: set[tuple[str, str]] = field(default_factory=set)

    def add(self, other: ServingReading) -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.calls += other.calls
        self.records_called += other.records_called
        self.in_flight += other.in_flight
        for le, n in other.latency_buckets.items():
            self.latency_buckets[le] = self.latency_buckets.get(le, 0.0) + n
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0.0) + n
        for endpoint, outcomes in other.endpoint_calls.items():
            mine = self.endpoint_calls.setdefault(endpoint, {})
            for outcome, n in outcomes.items():
                mine[outcome] = mine.get(outcome, 0.0) + n
        for endpoint, up in other.endpoint_up.items():  # up if any instance reaches it
            self.endpoint_up[endpoint] = max(self.endpoint_up.get(endpoint, 0.0), up)
        for endpoint, n in other.endpoint_ejections.items():
            self.endpoint_ejections[endpoint] = self.endpoint_ejections.get(endpoint, 0.0) + n
        self.models |= other.models


def parse_metrics(text: str) -> ServingReading:
    """The model-serving figures of one ``/metrics`` exposition (other metrics are ignored)."""
    reading = ServingReading()
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(PREFIX):
            continue
        for sample in family.samples:
            name, labels, value = sample.name[len(PREFIX):], sample.labels, float(sample.value)
            if name == "records_in_total":
                reading.records_in = value
            elif name == "records_out_total":
                reading.records_out = value
            elif name == "batch_size_count":
                reading.calls = value
            elif name == "batch_size_sum":
                reading.records_called = value
            elif name == "in_flight":
                reading.in_flight = value
            elif name == "call_seconds_bucket":
                reading.latency_buckets[float(labels["le"])] = value
            elif name == "errors_total":
                reading.errors[labels["kind"]] = value
            elif name == "endpoint_calls_total":
                reading.endpoint_calls.setdefault(labels["endpoint"], {})[labels["outcome"]] = value
            elif name == "endpoint_up":
                reading.endpoint_up[labels["endpoint"]] = value
            elif name == "endpoint_ejections_total":
                reading.endpoint_ejections[labels["endpoint"]] = value
            elif name == "model_info" and value:
                reading.models.add((labels["model"], labels["version"]))
    return reading


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated within its bucket (None: empty)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the largest finite bucket: its bound is all we know
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _minus(now: dict[Any, float], before: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0.0) for k, v in now.items()}


def serving_view(now: ServingReading, before: ServingReading | None) -> dict[str, Any]:
    """What the page shows for one model-serving streamlet; recent figures come from ``now - before``."""
    recent = _minus(now.latency_buckets, before.latency_buckets) if before else now.latency_buckets
    if not any(v > 0 for v in recent.values()):
        recent = now.latency_buckets  # no call since the previous reading: show the run's figures
    p50, p99 = quantile(recent, 0.5), quantile(recent, 0.99)
    endpoints = []
    for endpoint in sorted(set(now.endpoint_calls) | set(now.endpoint_up)):
        outcomes = now.endpoint_calls.get(endpoint, {})
        earlier = before.endpoint_calls.get(endpoint, {}) if before else {}
        ok, failed = outcomes.get("ok", 0.0), sum(v for k, v in outcomes.items() if k != "ok")
        recent_ok = ok - earlier.get("ok", 0.0)
        recent_failed = failed - sum(v for k, v in earlier.items() if k != "ok")
        if endpoint in now.endpoint_up:
            up = now.endpoint_up[endpoint] > 0
        else:  # older instances without the gauge: judge by the latest attempts
            up = not (recent_failed > 0 and recent_ok == 0)
        endpoints.append({
            "endpoint": endpoint,
            "up": up,
            "ok": int(ok),
            "failed": int(failed),
            "ejections": int(now.endpoint_ejections.get(endpoint, 0.0)),
        })
    return {
        "records_in": int(now.records_in),
        "records_out": int(now.records_out),
        "calls": int(now.calls),
        "records_per_call": now.records_called / now.calls if now.calls else None,
        "in_flight": int(now.in_flight),
        "latency_p50_ms": None if p50 is None else p50 * 1000,
        "latency_p99_ms": None if p99 is None else p99 * 1000,
        "errors": {kind: int(n) for kind, n in sorted(now.errors.items())},
        "error_total": int(sum(now.errors.values())),
        "endpoints": endpoints,
        "models": [{"model": m, "version": v} for m, v in sorted(now.models)],
    }
