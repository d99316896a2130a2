"""Model-serving figures read back from a real instance's Prometheus exposition."""

from __future__ import annotations

import pytest

from inferstream.console.serving import parse_metrics, quantile, serving_view
from inferstream.observability.metrics import ServingMetrics


def _metrics(ok_calls: int, failed_calls: int, seconds: float = 0.003) -> ServingMetrics:
    metrics = ServingMetrics()
    for _ in range(ok_calls):
        metrics.batch_size.observe(16)
        metrics.call_latency.observe(seconds)
        metrics.endpoint_calls.labels("127.0.0.1:8500", "ok").inc()
    for _ in range(failed_calls):
        metrics.errors.labels("unavailable").inc()
        metrics.endpoint_calls.labels("127.0.0.1:8500", "unavailable").inc()
    metrics.records_in.inc(16 * ok_calls)
    metrics.model_info.labels("fraud", "1").set(1)
    return metrics


def test_calls_latency_records_per_call_and_model_come_from_the_exposition() -> None:
    metrics = _metrics(ok_calls=40, failed_calls=0)
    view = serving_view(parse_metrics(metrics.exposition().decode()), None)
    assert view["calls"] == 40 and view["records_in"] == 640
    assert view["records_per_call"] == pytest.approx(16.0)
    assert 2.5 <= view["latency_p50_ms"] <= 5.0  # inside the 2.5-5 ms bucket of 3 ms calls
    assert view["models"] == [{"model": "fraud", "version": "1"}]
    assert view["endpoints"] == [
        {"endpoint": "127.0.0.1:8500", "up": True, "ok": 40, "failed": 0, "ejections": 0}
    ]


def test_an_endpoint_failing_since_the_previous_reading_is_down() -> None:
    before = parse_metrics(_metrics(ok_calls=40, failed_calls=0).exposition().decode())
    now = parse_metrics(_metrics(ok_calls=40, failed_calls=7).exposition().decode())
    view = serving_view(now, before)
    assert view["endpoints"][0]["up"] is False and view["endpoints"][0]["failed"] == 7
    assert view["error_total"] == 7 and view["errors"] == {"unavailable": 7}


def test_the_health_gauge_wins_over_the_call_counts() -> None:
    metrics = _metrics(ok_calls=3, failed_calls=0)
    metrics.endpoint_up.labels("127.0.0.1:8500").set(0)
    metrics.endpoint_ejections.labels("127.0.0.1:8500").inc(2)
    view = serving_view(parse_metrics(metrics.exposition().decode()), None)
    assert view["endpoints"][0]["up"] is False and view["endpoints"][0]["ejections"] == 2


def test_quantile_interpolates_within_a_bucket_and_handles_empty_histograms() -> None:
    assert quantile({}, 0.5) is None
    assert quantile({1.0: 0.0, float("inf"): 0.0}, 0.5) is None
    assert quantile({1.0: 50.0, 2.0: 100.0, float("inf"): 100.0}, 0.75) == pytest.approx(1.5)
    assert quantile({1.0: 0.0, float("inf"): 10.0}, 0.99) == 1.0  # beyond the last bound: the bound
