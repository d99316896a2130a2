"""Statistics in the original's /state shape and Prometheus metrics, served over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import ClientSession

from inferstream.observability import ExecutionStatistics, ServingMetrics, StatsServer


def test_statistics_follow_calls() -> None:
    stats = ExecutionStatistics("fraud", "tfserving over grpc")
    assert stats.to_json()["usage"] == 0 and stats.to_json()["average"] == 0.0
    stats.record(4.0, records=64)
    stats.record(2.0, records=1)
    stats.record(9.0, records=10)
    document = stats.to_json()
    assert document["usage"] == 75
    assert (document["min"], document["max"], document["average"]) == (2.0, 9.0, 5.0)
    assert abs(document["since"] - time.time() * 1000) < 60_000


def test_state_and_metrics_endpoints() -> None:
    stats = ExecutionStatistics("fraud", "embedded")
    stats.record(3.0, records=5)
    metrics = ServingMetrics()
    metrics.records_in.inc(5)
    metrics.errors.labels("timeout").inc()
    metrics.batch_size.observe(5)

    async def body() -> tuple[Any, str, int]:
        server = await StatsServer(stats.to_json, metrics.exposition).start()
        try:
            assert server.port != 0
            async with ClientSession() as session:
                async with session.get(server.url + "/state") as resp:
                    state = await resp.json()
                async with session.get(server.url + "/metrics") as resp:
                    text, status = await resp.text(), resp.status
        finally:
            await server.close()
        return state, text, status

    state, text, status = asyncio.run(body())
    assert state == stats.to_json()
    assert status == 200
    assert "inferstream_serving_records_in_total 5.0" in text
    assert 'inferstream_serving_errors_total{kind="timeout"} 1.0' in text
    assert "inferstream_serving_batch_size_count 1.0" in text
