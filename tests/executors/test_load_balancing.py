"""Client-side load balancing across three live server processes: spread, failover, rejoin."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from inferstream.executors.batching import MicroBatcher
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.pool import BalancedExecutor

from .conftest import RunningServer, start_builtin, wait_builtin

pytestmark = pytest.mark.slow

RECORD = np.arange(29, dtype=np.float32).reshape(1, 29) / 29


def test_three_replicas_spread_failover_and_rejoin(tmp_path: Path, doubler_model: Path) -> None:
    servers: list[RunningServer] = []
    try:
        servers = [start_builtin(tmp_path, doubler_model, wait=False) for _ in range(3)]
        for server in servers:  # started together: each takes seconds to import and load
            wait_builtin(server)
        _scenario(tmp_path, doubler_model, servers)
    finally:
        for server in servers:
            server.process.stop()


def _scenario(tmp_path: Path, doubler_model: Path, servers: list[RunningServer]) -> None:
    ok: Counter[str] = Counter()

    def observe(endpoint: str, seconds: float, error: ExecutorError | None) -> None:
        if error is None:
            ok[endpoint] += 1

    config = ExecutorConfig(
        protocol="tfserving", transport="rest", target=",".join(s.rest for s in servers), model="fraud",
        retries=4, backoff_initial=0.02, eject_seconds=0.5, timeout=2.0,
    )

    async def stream(batcher: MicroBatcher, records: int) -> list[str]:
        outcomes = await batcher.score([{"transaction": RECORD}] * records)
        return [o.error for o in outcomes if not o.ok]

    async def body() -> None:
        executor = await open_executor(config, observer=observe)
        assert isinstance(executor, BalancedExecutor)
        batcher = MicroBatcher(executor, max_batch_size=4, max_batch_latency=0.001, parallelism=3)
        try:
            # 1. calls spread evenly over the three replicas
            assert await stream(batcher, 300) == []
            counts = [ok[s.rest] for s in servers]
            assert min(counts) >= 0.25 * sum(counts), counts

            # 2. one replica dies mid-stream: no record fails, traffic moves to the other two
            victim = servers[1]
            streaming = asyncio.create_task(stream(batcher, 400))
            await asyncio.sleep(0.05)
            victim.process.stop(sig=signal.SIGKILL)
            assert await streaming == []
            before = ok[victim.rest]
            assert await stream(batcher, 120) == []
            assert ok[victim.rest] == before  # nothing answered by the dead one
            state = executor.balancer.state(victim.rest)
            assert state is not None and state.failures >= 1

            # 3. it comes back on the same port and rejoins after its rest
            await asyncio.to_thread(victim.process.start)
            await asyncio.to_thread(wait_builtin, victim)
            await asyncio.sleep(config.eject_seconds)
            for _ in range(20):
                assert await stream(batcher, 60) == []
                if ok[victim.rest] > before + 5:
                    break
            assert ok[victim.rest] > before + 5, dict(ok)
        finally:
            await batcher.close()
            await executor.close()

    asyncio.run(asyncio.wait_for(body(), timeout=120))
