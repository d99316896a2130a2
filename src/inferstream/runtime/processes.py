"""Multi-process runs: one OS process per streamlet instance (for transports that span processes, Kafka).

The parent starts ``python -m inferstream.runtime.instance_process BLUEPRINT --instance
<streamlet>:<i> ...`` per instance, prefixes each child's log lines with ``[<streamlet>.<i>]``,
and ends the run like the in-process runner: when every ingress process has exited (or
``run_for`` passed, or on a signal) it waits until every consumer group's lag is 0, then
SIGTERMs the others, which finish their in-flight batches, commit and exit. Each child prints
its counters every second; the parent keeps the last report of each (a child killed by a signal
keeps its last known counts; a restarted instance adds up all its processes' counts and says how
the earlier ones ended) and merges them into one summary; nothing is written to disk. Whatever
fails in the parent after the records started, the instances are stopped and the summary made.
With ``control=True`` each child also serves its live counters (``GET /stats``);
:attr:`ProcessRunner.control_urls` and :attr:`ProcessRunner.http_urls` (model-serving's
``/state``, ``/metrics``) say where, for the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from inferstream.runtime.child_stats import instance_from_report, parse_stats_line
from inferstream.runtime.instance_process import CONTROL_MARKER, HTTP_MARKER, READY_MARKER, child_command
from inferstream.runtime.outcome import describe_exit
from inferstream.runtime.plan import Plan
from inferstream.runtime.run_stats import InstanceStats, PipelineStats
from inferstream.runtime.signals import install_stop_handlers
from inferstream.runtime.supervision import RestartPolicy
from inferstream.transports.base import Transport, TransportError

log = logging.getLogger("inferstream.runtime")

__all__ = ["READY_MARKER", "ProcessRunner"]


class ProcessRunner:
    def __init__(
        self,
        plan: Plan,
        transport: Transport,
        blueprint: str,
        transport_name: str,
        child_options: Sequence[str] = (),
        *,
        run_for: float | None = None,
        drain_timeout: float = 60.0,
        write: Callable[[str], None] | None = None,
        stop_timeout: float = 30.0,
        control: bool = False,
        colocate: Sequence[Sequence[str]] = (),
        restart: bool = True,
    ) -> None:
        """``child_options``: what every child gets besides the blueprint and transport (--conf...);
        ``control``: every child serves its live counters on a free loopback port (for the console)."""
        self.plan = plan
        self.transport = transport
        self.child_args = child_command(blueprint, transport_name, child_options)
        if control:
            self.child_args += ["--control-port", "0"]
        self.started = time.monotonic()
        self.control_urls: dict[tuple[str, int], str] = {}  # GET /stats of each child
        self.http_urls: dict[tuple[str, int], str] = {}  # /state and /metrics of server streamlets
        self.run_for = run_for
        self.drain_timeout = drain_timeout
        self.stop_timeout = stop_timeout
        self.write = write or (lambda line: print(line, flush=True))
        self.children: dict[tuple[str, int], asyncio.subprocess.Process] = {}
        self._stop = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []
        self._ready: dict[tuple[str, int], asyncio.Event] = {}
        self.ready_timeout = 60.0
        # Streamlets whose instances share one process (tiny stages need not cost a process each;
        # their topics stay between them). An ingress keeps its own: it ends first.
        for names in colocate:
            for name in names:
                if name not in plan.streamlets:
                    raise ValueError(f"colocate: {name!r} is not a streamlet of {plan.app}")
                if plan.streamlets[name].cls.kind == "ingress":
                    raise ValueError(f"colocate: {name!r} is an ingress; an ingress runs in its own process")
        self.colocate = [list(names) for names in colocate]
        self._reports: dict[tuple[str, int], dict[str, Any]] = {}  # each child's latest counts
        # a restarted instance's earlier processes: the last report of each and how it ended
        self._incarnations: dict[tuple[str, int], list[tuple[dict[str, Any] | None, str]]] = {}
        self._asked_to_stop: set[tuple[str, int]] = set()  # SIGTERM from us is not a failure
        self.restarts = RestartPolicy(max_restarts=5 if restart else 0)  # dead instances start again
        self._noted_exits: set[int] = set()  # pids whose death was seen (and a restart planned)
        self._scaled: dict[str, int] = {}  # streamlet -> highest instance index + 1, once scale() grew it
        self._running = False
        self.lag_attempts = 5  # failed lag reads in a row before the drain gives up waiting
        self.run_errors: list[str] = []  # what went wrong in the parent itself (the summary says it)
        self._phase = "starting"

    @property
    def stats(self) -> PipelineStats:
        """The merged counts so far (what the control endpoint's ``GET /stats`` shows)."""
        return self._merge(self.started, final=False)[0]

    def live_instances(self, streamlet: str) -> list[int]:
        """Indexes of ``streamlet``'s instances that run and are not asked to stop."""
        return sorted(
            i for (name, i), process in self.children.items()
            if name == streamlet and (name, i) not in self._asked_to_stop and process.returncode is None
        )

    async def scale(self, streamlet: str, instances: int) -> None:
        """Start or stop instance processes of a running processor or egress (what ``POST /scale`` does).

        New processes join the consumer group and take partitions at the committed positions; the
        highest-numbered ones get SIGTERM, finish their in-flight batches, commit and leave. The
        control endpoint bounds ``instances`` by the inlet topics' partitions.
        """
        if streamlet not in self.plan.streamlets:
            raise ValueError(f"no streamlet {streamlet!r} in {self.plan.app}")
        if self.plan.streamlets[streamlet].cls.kind == "ingress" or instances < 1:
            raise ValueError("scale processors and egresses, to at least 1 instance")
        if any(streamlet in group for group in self.colocate):
            raise ValueError(f"{streamlet!r} is co-located (--colocate): its instances share a process")
        if not self._running:
            raise ValueError(f"{streamlet!r} has no running instance here (has the run started?)")
        live = self.live_instances(streamlet)
        if instances < len(live):
            await self._terminate([(streamlet, i) for i in live[instances:]])
            return
        known = [i for name, i in self.children if name == streamlet]
        first = max(known, default=-1) + 1
        added = [(streamlet, i) for i in range(first, first + instances - len(live))]
        if not added:
            return
        self._scaled[streamlet] = added[-1][1] + 1
        for name, index in added:
            await self._spawn(name, index)
        await self._wait_ready(added)
        died = [f"{n}.{i} {describe_exit(self.children[(n, i)].returncode)}" for n, i in added
                if self.children[(n, i)].returncode is not None]
        if died:  # the supervisor starts them again; the caller hears it did not go as asked
            raise ValueError(f"new instances ended at start ({', '.join(died)}); their log lines say why")

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        install_stop_handlers(self.stop)

    def _members(self, key: tuple[str, int]) -> list[tuple[str, int]]:
        """The instances that run in one process with ``key`` (itself alone unless co-located)."""
        group = next((group for group in self.colocate if key[0] in group), None)
        if group is None:
            return [key]  # a process of its own
        return [(n, i) for n in group for i in range(self.plan.streamlets[n].instances)]

    async def _spawn(self, streamlet: str, index: int) -> None:
        members = self._members((streamlet, index))
        running = [self.children[k] for k in members if k in self.children]
        if any(p.returncode is None for p in running):
            return  # its process runs already (co-located, started or restarted for another member)
        instances = [a for name, i in members for a in ("--instance", f"{name}:{i}")]
        # An instance added by scale() has an index beyond the blueprint's count: its child must plan for it
        counts = [a for name, n in self._scaled.items() for a in ("--scale", f"{name}={n}")]
        process = await asyncio.create_subprocess_exec(
            *self.child_args, *counts, *instances,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        ready = asyncio.Event()
        for key in members:
            earlier = self.children.get(key)
            if earlier is not None and earlier.returncode is not None:  # a restart: keep what it counted
                ended = describe_exit(earlier.returncode)
                self._incarnations.setdefault(key, []).append((self._reports.pop(key, None), ended))
            self.children[key] = process
            self._ready[key] = ready
        assert process.stdout is not None
        prefix = "[" + "+".join(f"{name}.{i}" for name, i in members) + "] "
        self._readers.append(asyncio.create_task(self._prefix(prefix, process.stdout, ready, members)))

    async def _prefix(
        self, prefix: str, stream: asyncio.StreamReader, ready: asyncio.Event, keys: list[tuple[str, int]]
    ) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line beyond the reader's limit: skip it, read on (or the child blocks)
                self.write(prefix + "(a line too long to show was left out)")
                continue
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip()
            if line == READY_MARKER:
                ready.set()
                continue
            report = parse_stats_line(line)
            if report is not None:  # counts every second: a killed child keeps its last ones
                self._reports.update(dict.fromkeys(keys, report))
                continue
            if line.startswith(CONTROL_MARKER):
                self.control_urls.update(dict.fromkeys(keys, line.removeprefix(CONTROL_MARKER).strip()))
                continue
            if line.startswith(HTTP_MARKER):
                self.http_urls.update(dict.fromkeys(keys, line.removeprefix(HTTP_MARKER).strip()))
                continue
            self.write(prefix + line)
        ready.set()  # the child ended: nothing to wait for

    async def _wait_ready(self, keys: Sequence[tuple[str, int]]) -> None:
        """Consumers first: sources start once every other instance has joined, so partitions are
        shared from the first record on instead of after a rebalance."""
        waits = [asyncio.ensure_future(self._ready[k].wait()) for k in keys]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.ready_timeout)
            for wait in pending:
                wait.cancel()

    async def _terminate(self, keys: Sequence[tuple[str, int]]) -> None:
        signalled: set[int] = set()  # a second SIGTERM would abort a co-located child's drain
        for key in keys:
            process = self.children[key]
            if process.returncode is None:
                self._asked_to_stop.add(key)
                if process.pid not in signalled:
                    signalled.add(process.pid)
                    process.send_signal(signal.SIGTERM)
        for key in keys:
            process = self.children[key]
            try:
                await asyncio.wait_for(process.wait(), self.stop_timeout)
            except TimeoutError:
                log.error("%s.%d did not stop within %.0f s; killing it", *key, self.stop_timeout)
                with contextlib.suppress(ProcessLookupError):  # it ended just now
                    process.kill()
                await process.wait()

    async def _drained(self) -> bool:
        groups = [
            (group, streamlet_plan.wiring.inlet_topics[inlet])
            for streamlet_plan in self.plan.streamlets.values()
            for inlet, group in streamlet_plan.wiring.inlet_groups.items()
        ]
        for group, topic in groups:
            if await self.transport.lag(group, [topic]) > 0:
                return False
        return True

    async def run(self) -> tuple[PipelineStats, dict[str, int]]:
        """Run every instance; returns the merged stats and each instance's exit code."""
        await self.transport.create_topics(self.plan.topics)
        started = self.started = time.monotonic()
        keys = [(n, i) for n, s in self.plan.streamlets.items() for i in range(s.instances)]
        ingress = [k for k in keys if self.plan.streamlets[k[0]].cls.kind == "ingress"]
        others = [k for k in keys if k not in ingress]
        for name, index in others:
            await self._spawn(name, index)  # once per process: co-located instances start together
        await self._wait_ready(others)
        for name, index in ingress:
            await self._spawn(name, index)
        self._running = True  # scale() may add and remove instances from now on
        # --for counts from when records flow: starting the consumers may take long on a busy machine
        deadline = None if self.run_for is None else time.monotonic() + self.run_for
        try:
            await self._watch(ingress, deadline)
            await self._terminate(ingress)
            await self._drain()
        except Exception as exc:  # never lose the summary: stop every process and count what they did
            self.run_errors.append(f"the run failed while {self._phase}: {type(exc).__name__}: {exc}")
            log.exception("%s; stopping every instance (the summary counts them)", self.run_errors[-1])
        finally:
            self._running = False
            await self._terminate(list(self.children))
            await asyncio.gather(*self._readers, return_exceptions=True)
        return self._merge(started)

    async def _watch(self, ingress: Sequence[tuple[str, int]], deadline: float | None) -> None:
        """While records flow: supervise, until the sources end, ``run_for`` passes or a stop."""
        self._phase = "records flowed"
        while not self._stop.is_set():
            if ingress and all(self.children[k].returncode is not None for k in ingress):
                break
            if any(self.children[k].returncode not in (None, 0) for k in ingress):
                break  # a source failed: stop the run
            if not await self._supervise(self._consumers()):
                break  # an instance keeps dying: stop the run
            if deadline is not None and time.monotonic() >= deadline:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.2)

    async def _drain(self) -> None:
        """Wait until every consumer group's lag is 0 (twice in a row), up to ``drain_timeout``.

        The lag is read from the broker; a busy or restarting broker may fail to answer. A failed
        read is retried (``lag_attempts`` in a row at most), then the run stops without waiting
        for the rest, with a warning: what was not committed is read again by the next run
        (at-least-once), and the summary is written all the same.
        """
        self._phase = "draining"
        drain_deadline = time.monotonic() + self.drain_timeout
        quiet = failed = 0
        while quiet < 2 and time.monotonic() < drain_deadline and await self._supervise(self._consumers()):
            try:
                drained = await self._drained()
                failed = 0
            except TransportError as exc:
                failed += 1
                if failed >= self.lag_attempts:
                    log.warning(
                        "cannot read the consumer groups' lag (%s; %d attempts): stopping the instances "
                        "without waiting for the rest; records not yet committed are read again by the "
                        "next run", exc, failed,
                    )  # fmt: skip
                    return
                log.info("reading the consumer groups' lag failed (%s); trying again", exc)
                drained = False
                await asyncio.sleep(min(2.0, 0.2 * 2**failed))  # a busy broker: back off a little
            quiet = quiet + 1 if drained else 0
            await asyncio.sleep(0.2)
        if quiet < 2 and time.monotonic() >= drain_deadline:
            log.warning("records still in flight after --drain-timeout %.0f s; stopping the instances "
                        "(uncommitted records are read again by the next run)", self.drain_timeout)

    def _consumers(self) -> list[tuple[str, int]]:
        """Every instance but the ingresses', those added by scale() too."""
        return [k for k in self.children if self.plan.streamlets[k[0]].cls.kind != "ingress"]

    async def _supervise(self, keys: Sequence[tuple[str, int]]) -> bool:
        """Restart instances that died on their own (kill -9, a crash), with backoff (runtime.supervision);
        False once one has used up its restarts."""
        for key in keys:
            process = self.children[key]
            code = process.returncode
            if code in (None, 0) or key in self._asked_to_stop or process.pid in self._noted_exits:
                continue
            self._noted_exits.add(process.pid)
            if not self.restarts.failed(key, code):
                return False
        for name, index in self.restarts.due():
            await self._spawn(name, index)
        return True

    def _add_incarnations(self, key: tuple[str, int], instance: InstanceStats) -> None:
        """Add the counts of ``key``'s earlier processes (died, restarted) to ``instance``; say how
        each ended. The instance's elapsed time becomes the sum of its processes' lifetimes."""
        for report, how in self._incarnations.get(key, []):
            earlier = instance_from_report(report, *key)
            if earlier is not None:
                for name, port in earlier.inlets.items():
                    instance.inlet(name).add(port)
                for name, port in earlier.outlets.items():
                    instance.outlet(name).add(port)
                instance.started -= earlier.elapsed()
            instance.restarted_after.append(how)
        if instance.restarted_after:
            earlier_ends = "; ".join(instance.restarted_after)
            instance.ended_how = f"{instance.ended_how} (restarted after: {earlier_ends})"

    def _merge(self, started: float, final: bool = True) -> tuple[PipelineStats, dict[str, int]]:
        stats = PipelineStats(self.plan.app)
        stats.started = started
        codes: dict[str, int] = {}
        cpu = 0.0
        counted: set[int] = set()
        in_plan_order = sorted(self.children, key=lambda k: (list(self.plan.streamlets).index(k[0]), k[1]))
        for name, index in in_plan_order:
            process = self.children[(name, index)]
            code = process.returncode
            report = self._reports.get((name, index))
            if report and process.pid not in counted:  # co-located instances share one process's CPU
                counted.add(process.pid)
                cpu += float(report.get("cpu_s", 0.0))
            instance = instance_from_report(report, name, index) or InstanceStats(name, index)
            if instance.ended is None and (final or code is not None):  # killed before its last report
                instance.ended = time.monotonic()
            instance.ended_how = describe_exit(code)
            self._add_incarnations((name, index), instance)
            stopped_by_us = (name, index) in self._asked_to_stop and code == -signal.SIGTERM
            if stopped_by_us:  # e.g. asked to stop before it could install its handlers
                instance.ended_how += " (asked to stop by the run)"
            elif code is not None and code != 0 and instance.failure is None:
                instance.failure = instance.ended_how
            codes[f"{name}.{index}"] = 0 if stopped_by_us else (code if code is not None else -1)
            stats.instances.append(instance)
        stats.ended = time.monotonic()
        stats.child_cpu_s = cpu
        return stats, codes
