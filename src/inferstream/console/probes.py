"""Where the console reads a run from: the in-process runner, or the processes of a multi-process run.

A probe answers three questions: the run's counters (the summary ``--summary-json`` writes, live),
the HTTP endpoints of the instances (``/state``, ``/metrics``), and each consumer group's lag.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from inferstream.runtime.run_stats import InstanceStats, PipelineStats

if TYPE_CHECKING:
    from inferstream.runtime.plan import Plan
    from inferstream.runtime.runner import Runner
    from inferstream.transports.base import Transport

Lag = dict[str, Any]  # {"group", "topic", "partition" (-1: all partitions), "lag"}


class ProcessRun(Protocol):
    """What a process-per-instance runner tells about its children (``runtime.processes.ProcessRunner``)."""

    @property
    def started(self) -> float: ...  # time.monotonic() of the run's start

    @property
    def control_urls(self) -> Mapping[tuple[str, int], str]: ...  # (streamlet, index) -> GET /stats base

    @property
    def http_urls(self) -> Mapping[tuple[str, int], str]: ...  # (streamlet, index) -> /state, /metrics base


class RunProbe(abc.ABC):
    """What the console needs of a run."""

    def __init__(self, plan: Plan, transport: Transport) -> None:
        self.plan = plan
        self.transport = transport
        self.final: dict[str, Any] | None = None  # the run's summary once it ended

    @abc.abstractmethod
    async def snapshot(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """The run's counters now (``PipelineStats.snapshot()``)."""

    @abc.abstractmethod
    def instance_urls(self) -> dict[str, list[str]]:
        """Streamlet -> base URLs of its instances' HTTP endpoints (``/state``, ``/metrics``)."""

    async def lags(self) -> list[Lag]:
        """Lag of every consumer group on every topic it reads, per partition where the transport says."""
        found: list[Lag] = []
        for name, streamlet in self.plan.streamlets.items():
            for inlet, group in streamlet.wiring.inlet_groups.items():
                topic = streamlet.wiring.inlet_topics[inlet]
                try:
                    per_partition = getattr(self.transport, "partition_lags", None)
                    if per_partition is not None:
                        lags = await per_partition(group, [topic])
                        found += [
                            {"group": group, "streamlet": name, "topic": tp.topic, "partition": tp.partition,
                             "lag": n}
                            for tp, n in sorted(lags.items())
                        ]
                    else:
                        n = await self.transport.lag(group, [topic])
                        found.append({"group": group, "streamlet": name, "topic": topic, "partition": -1,
                                      "lag": n})
                except Exception as exc:  # a broker that went away must not end the console
                    found.append({"group": group, "streamlet": name, "topic": topic, "partition": -1,
                                  "lag": None, "error": f"{type(exc).__name__}: {exc}"})
        return found


class RunnerProbe(RunProbe):
    """A run in this process (memory transport, or one ``--instance`` process): reads the Runner."""

    def __init__(self, plan: Plan, transport: Transport, runner: Callable[[], Runner | None]) -> None:
        """``runner``: returns the Runner once it exists (the demo creates it when the run starts)."""
        super().__init__(plan, transport)
        self._runner = runner

    async def snapshot(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        runner = self._runner()
        return runner.stats.snapshot() if runner is not None else PipelineStats(self.plan.app).snapshot()

    def instance_urls(self) -> dict[str, list[str]]:
        runner = self._runner()
        urls: dict[str, list[str]] = {}
        for instance in runner.instances if runner is not None else []:
            if instance.ctx.http_url:
                urls.setdefault(instance.ctx.streamlet, []).append(instance.ctx.http_url)
        return urls


class ProcessProbe(RunProbe):
    """A run of one process per instance: asks every child's control endpoint for its counters."""

    def __init__(self, plan: Plan, transport: Transport, runner: ProcessRun) -> None:
        super().__init__(plan, transport)
        self.runner = runner
        self._last: dict[tuple[str, int], InstanceStats] = {}  # a child that ended keeps its last count

    async def snapshot(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        controls = dict(self.runner.control_urls)

        async def ask(key: tuple[str, int], url: str) -> None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                async with session.get(url + "/stats") as response:
                    data = await response.json()
                for instance in data.get("instances", []):
                    if (instance["streamlet"], instance["instance"]) == key:
                        self._last[key] = InstanceStats.from_dict(instance)

        await asyncio.gather(*(ask(key, url) for key, url in controls.items()))
        stats = PipelineStats(self.plan.app)
        stats.started = self.runner.started
        order = list(self.plan.streamlets)
        stats.instances = [self._last[k] for k in sorted(self._last, key=lambda k: (order.index(k[0]), k[1]))]
        return stats.snapshot()

    def instance_urls(self) -> dict[str, list[str]]:
        urls: dict[str, list[str]] = {}
        for (streamlet, _), url in sorted(self.runner.http_urls.items()):
            urls.setdefault(streamlet, []).append(url)
        return urls
