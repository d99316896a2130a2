"""Client-side load balancing across three live server processes: spread, failover, rejoin.

REST and gRPC clients stream side by side through the same three built-in servers while one of
the servers is killed and started again.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.micro_batching import MicroBatcher
from inferstream.executors.pool import BalancedExecutor

from .conftest import RunningServer, start_builtin, wait_builtin

pytestmark = pytest.mark.slow

RECORD = np.arange(29, dtype=np.float32).reshape(1, 29) / 29
TRANSPORTS = ("rest", "grpc")


def test_three_replicas_spread_failover_and_rejoin(tmp_path: Path, doubler_model: Path) -> None:
    servers: list[RunningServer] = []
    try:
        servers = [start_builtin(tmp_path, doubler_model, grpc=True, wait=False) for _ in range(3)]
        for server in servers:  # started together: each takes seconds to import and load
            wait_builtin(server)
        asyncio.run(asyncio.wait_for(_scenario(servers), timeout=150))
    finally:
        for server in servers:
            server.process.stop()


def _address(server: RunningServer, transport: str) -> str:
    return server.rest if transport == "rest" else server.grpc


async def _scenario(servers: list[RunningServer]) -> None:
    ok: Counter[str] = Counter()  # successful calls per endpoint (REST and gRPC addresses differ)

    def observe(endpoint: str, seconds: float, error: ExecutorError | None) -> None:
        if error is None:
            ok[endpoint] += 1

    batchers: dict[str, MicroBatcher] = {}
    executors: list[BalancedExecutor] = []
    for transport in TRANSPORTS:
        config = ExecutorConfig(
            protocol="tfserving", transport=transport,  # type: ignore[arg-type]
            target=",".join(_address(s, transport) for s in servers), model="fraud",
            retries=4, backoff_initial=0.02, eject_seconds=0.5, timeout=2.0, lb_policy="round_robin",
        )
        executor = await open_executor(config, observer=observe)
        assert isinstance(executor, BalancedExecutor)
        executors.append(executor)
        batchers[transport] = MicroBatcher(executor, max_batch_size=4, max_batch_latency=0.001, parallelism=3)

    async def stream(records: int) -> list[str]:
        """Score ``records`` through each client at once; return the errors of failed records."""
        batch = [{"transaction": RECORD}] * records
        results = await asyncio.gather(*(b.score(batch) for b in batchers.values()))
        return [o.error for outcomes in results for o in outcomes if not o.ok]

    try:
        # 1. calls spread evenly over the three replicas, for both transports
        assert await stream(300) == []
        for transport in TRANSPORTS:
            counts = [ok[_address(s, transport)] for s in servers]
            assert min(counts) >= 0.2 * sum(counts), (transport, counts)

        # 2. one replica dies mid-stream: no record fails, traffic moves to the other two
        victim = servers[1]
        streaming = asyncio.create_task(stream(400))
        await asyncio.sleep(0.05)
        victim.process.stop(sig=signal.SIGKILL)
        assert await streaming == []
        before = {t: ok[_address(victim, t)] for t in TRANSPORTS}
        assert await stream(120) == []
        assert {t: ok[_address(victim, t)] for t in TRANSPORTS} == before  # nothing from the dead one

        # 3. it comes back on the same ports and rejoins after its rest
        await asyncio.to_thread(victim.process.start)
        await asyncio.to_thread(wait_builtin, victim)
        for _ in range(40):
            assert await stream(60) == []
            if all(ok[_address(victim, t)] > before[t] + 5 for t in TRANSPORTS):
                break
            await asyncio.sleep(0.1)
        assert all(ok[_address(victim, t)] > before[t] + 5 for t in TRANSPORTS), dict(ok)
    finally:
        for batcher in batchers.values():
            await batcher.close()
        for executor in executors:
            await executor.close()
