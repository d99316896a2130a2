"""Run a plan's streamlet instances in this process, on one asyncio loop, and stop them cleanly.

A run ends when every ingress has ended (its source is exhausted or ``records`` were emitted),
when ``run_for`` seconds have passed, or on :meth:`Runner.stop` (SIGINT/SIGTERM). Ending drains:
ingresses stop first, then the runner waits until every consumer group has committed everything
(lag 0, nothing in flight) and only then stops processors and egresses, which commit and close.

    runner = Runner(plan, MemoryTransport(), records=10_000, on_progress=print_stats)
    stats = await runner.run()            # PipelineStats; stats.snapshot() is the summary JSON
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from inferstream.runtime.instance import StreamletInstance
from inferstream.runtime.plan import Plan
from inferstream.runtime.run_stats import PipelineStats
from inferstream.runtime.signals import install_stop_handlers
from inferstream.runtime.streamlet import StreamletContext
from inferstream.runtime.transactional import AT_LEAST_ONCE, EXACTLY_ONCE
from inferstream.transports.base import Transport

log = logging.getLogger("inferstream.runtime")

ProgressHook = Callable[[PipelineStats], None]


def split_budget(total: int, parts: int, index: int) -> int:
    """Instance ``index``'s share of ``total`` records over ``parts`` instances."""
    return total // parts + (1 if index < total % parts else 0)


class Runner:
    def __init__(
        self,
        plan: Plan,
        transport: Transport,
        *,
        run_for: float | None = None,
        records: int | None = None,
        drain_timeout: float = 60.0,
        on_progress: ProgressHook | None = None,
        progress_interval: float = 0.5,
        only: Iterable[tuple[str, int]] | None = None,
        drain: bool = True,
        on_ready: Callable[[], None] | None = None,
        shutdown_timeout: float = 20.0,
        guarantees: Mapping[str, str] | None = None,
    ) -> None:
        """``only``: run just these (streamlet, instance) pairs (one process of a multi-process run);
        ``drain=False``: on stop, finish in-flight batches but do not wait for lag 0 (the parent does)."""
        self.plan = plan
        self.transport = transport
        self.guarantees = dict(guarantees or {})  # streamlet → exactly-once | at-least-once (default)
        if EXACTLY_ONCE in self.guarantees.values() and not transport.transactions:
            raise ValueError(f"exactly-once needs a transport with transactions (kafka): {transport.name}")
        self.run_for = run_for
        self.records = records
        self.drain_timeout = drain_timeout
        self.on_progress = on_progress
        self.progress_interval = progress_interval
        self.only = set(only) if only is not None else None
        self.drain = drain
        self.on_ready = on_ready  # called once every instance is set up, before records flow
        self.shutdown_timeout = shutdown_timeout  # per instance: longest wait for in-flight batches
        self.stats = PipelineStats(plan.app)
        self.instances: list[StreamletInstance] = []
        self._stop = asyncio.Event()
        self._aborted = False
        self._tasks: dict[asyncio.Task[None], StreamletInstance] = {}

    # -- control ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask for a clean stop (drain, commit, close). A second call aborts in-flight work."""
        if self._stop.is_set():
            self._aborted = True
            for instance in self.instances:
                instance.ctx.stopping.set()
        self._stop.set()

    def install_signal_handlers(self) -> None:
        install_stop_handlers(self.stop)

    def instance(self, streamlet: str, index: int = 0) -> StreamletInstance:
        """A running instance (tests use it to reach the streamlet object)."""
        return next(i for i in self.instances if i.ctx.streamlet == streamlet and i.ctx.instance == index)

    # -- run --------------------------------------------------------------------------------------
    def _build(self) -> None:
        for name, streamlet_plan in self.plan.streamlets.items():
            count = streamlet_plan.instances
            for index in range(count):
                if self.only is not None and (name, index) not in self.only:
                    continue
                budget = None
                if self.records is not None and streamlet_plan.cls.kind == "ingress":
                    budget = split_budget(self.records, count, index)
                ctx = StreamletContext(self.plan.app, name, index, count, streamlet_plan.config)
                self.instances.append(
                    StreamletInstance(
                        streamlet_plan.cls(),
                        ctx,
                        self.transport,
                        streamlet_plan.wiring,
                        self.stats.instance(name, index),
                        record_budget=budget,
                        shutdown_timeout=self.shutdown_timeout,
                        guarantee=self.guarantees.get(name, AT_LEAST_ONCE),
                    )
                )

    async def run(self) -> PipelineStats:
        await self.transport.create_topics(self.plan.topics)
        self._build()
        started: list[StreamletInstance] = []
        for instance in self.instances:  # every consumer joins before any ingress produces
            try:
                await instance.setup()
            except Exception as exc:  # e.g. a model server that is not there: end the run, cleanly
                log.error("%s could not start: %s: %s", instance.name, type(exc).__name__, exc)
                instance.stats.failure = f"could not start: {type(exc).__name__}: {exc}"
                for ready in [*started, instance]:
                    await ready.close()
                return self.stats
            started.append(instance)
        if self.on_ready is not None:
            self.on_ready()
        self.stats.started = time.monotonic()
        tasks = self._tasks  # scale() adds to it while the run goes on
        tasks.update({asyncio.create_task(i.run(), name=i.name): i for i in self.instances})
        progress = asyncio.create_task(self._report_progress()) if self.on_progress else None
        try:
            await self._wait_for_end(tasks)
            await self._stop_ingresses(tasks)
            if self.drain and not self._aborted and not self._failed(tasks):
                await self._drain(tasks)
            for instance in self.instances:
                instance.ctx.stopping.set()
            await asyncio.wait(set(tasks))
        finally:
            for task in tasks:
                task.cancel()
            if progress is not None:
                progress.cancel()
                self._progress_once()
        for task, instance in tasks.items():
            if not task.cancelled() and task.exception() is not None and instance.stats.failure is None:
                instance.stats.failure = repr(task.exception())
        return self.stats

    async def scale(self, streamlet: str, instances: int) -> None:
        """Change the instance count of a running processor or egress.

        New instances join the consumer groups (topics grow partitions so that each gets some);
        removed instances stop polling, finish their in-flight batches, commit and leave, and
        their partitions move to the others at the committed positions.
        """
        if streamlet not in self.plan.streamlets:
            raise ValueError(f"no streamlet {streamlet!r} in {self.plan.app}")
        streamlet_plan = self.plan.streamlets[streamlet]
        if streamlet_plan.cls.kind == "ingress" or instances < 1:
            raise ValueError("scale processors and egresses, to at least 1 instance")
        mine = [i for i in self.instances if i.ctx.streamlet == streamlet]
        if not mine:
            raise ValueError(f"{streamlet!r} has no running instance here (has the run started?)")
        live = sorted((i for i in mine if not i.ctx.stopping.is_set()), key=lambda i: i.ctx.instance)
        for instance in live[instances:]:
            instance.ctx.stopping.set()
        if instances <= len(live):
            return
        inlet_topics = set(streamlet_plan.wiring.inlet_topics.values())
        grown = [
            replace(t, partitions=max(t.partitions, instances))
            for t in self.plan.topics
            if t.name in inlet_topics
        ]
        await self.transport.create_topics(grown)
        next_index = max(i.ctx.instance for i in mine) + 1
        for index in range(next_index, next_index + instances - len(live)):
            ctx = StreamletContext(self.plan.app, streamlet, index, instances, streamlet_plan.config)
            instance = StreamletInstance(
                streamlet_plan.cls(),
                ctx,
                self.transport,
                streamlet_plan.wiring,
                self.stats.instance(streamlet, index),
                shutdown_timeout=self.shutdown_timeout,
                guarantee=self.guarantees.get(streamlet, AT_LEAST_ONCE),
            )
            await instance.setup()
            self.instances.append(instance)
            self._tasks[asyncio.create_task(instance.run(), name=instance.name)] = instance

    def _failed(self, tasks: dict[asyncio.Task[None], StreamletInstance]) -> bool:
        return any(t.done() and not t.cancelled() and t.exception() is not None for t in tasks)

    async def _wait_for_end(self, tasks: dict[asyncio.Task[None], StreamletInstance]) -> None:
        ingresses = {t for t, i in tasks.items() if i.streamlet.kind == "ingress"}  # scale() adds none
        deadline = None if self.run_for is None else time.monotonic() + self.run_for
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set() and not self._failed(tasks):
                if ingresses and all(t.done() for t in ingresses):
                    return
                timeout = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if timeout <= 0:
                    return
                await asyncio.wait({stop, *tasks}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("%s failed: %r", tasks[task].name, task.exception())

    async def _stop_ingresses(self, tasks: dict[asyncio.Task[None], StreamletInstance]) -> None:
        ingresses = {t: i for t, i in tasks.items() if i.streamlet.kind == "ingress"}
        for instance in ingresses.values():
            instance.ctx.stopping.set()
        if ingresses:
            await asyncio.wait(set(ingresses), timeout=30)

    async def _drain(self, tasks: dict[asyncio.Task[None], StreamletInstance]) -> None:
        """Wait until every consumer group has committed everything and nothing is in flight."""
        groups = {
            (group, topic)
            for streamlet_plan in self.plan.streamlets.values()
            for inlet, group in streamlet_plan.wiring.inlet_groups.items()
            for topic in [streamlet_plan.wiring.inlet_topics[inlet]]
        }
        deadline = time.monotonic() + self.drain_timeout
        quiet = 0
        while quiet < 2:  # twice in a row: a batch may be between a poll and its task
            if self._aborted or self._failed(tasks) or time.monotonic() > deadline:
                if time.monotonic() > deadline:
                    log.warning(
                        "drain timed out after %.0f s; stopping with records in flight", self.drain_timeout
                    )
                return
            lag = 0
            for group, topic in groups:
                lag += await self.transport.lag(group, [topic])
            busy = sum(i.in_flight for i in self.instances)
            quiet = quiet + 1 if lag == 0 and busy == 0 else 0
            await asyncio.sleep(0.01 if quiet else 0.02)

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(self.progress_interval)
            self._progress_once()

    def _progress_once(self) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(self.stats)
            except Exception:  # a display bug must not stop the pipeline
                log.exception("progress hook failed")
