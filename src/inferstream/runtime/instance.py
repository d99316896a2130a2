"""One running instance of a streamlet on a transport: consume, decode, process, emit, commit.

Delivery is at-least-once: a consumed batch's position is committed only after every record
that ``process`` emitted for it (and every dead letter) was acknowledged by the transport, in
order per partition (:class:`~inferstream.runtime.offsets.OffsetTracker`), with up to
``max_in_flight`` batches being processed at once. Stopping drains: no new polls, in-flight
batches finish, positions are committed, clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from inferstream.observability import stage_times, tracing
from inferstream.runtime import transactional as txn
from inferstream.runtime.codecs import DecodeFailure
from inferstream.runtime.commits import Committer
from inferstream.runtime.deadletters import DEAD_LETTER_CODEC, dead_letter
from inferstream.runtime.emitter import Emitter
from inferstream.runtime.http_endpoint import start_http
from inferstream.runtime.offsets import OffsetTracker, Ticket
from inferstream.runtime.run_stats import InstanceStats
from inferstream.runtime.streamlet import (
    Egress,
    InBatch,
    Ingress,
    Inlet,
    Outlet,
    Processor,
    ServerStreamlet,
    Streamlet,
    StreamletContext,
)
from inferstream.transports.base import Consumer, MessageBatch, Producer, Transport, TransportError

if TYPE_CHECKING:
    from inferstream.runtime.failure_log import FailureLog

log = logging.getLogger("inferstream.runtime")


class InstanceFailure(Exception):
    """The instance cannot go on (an acknowledgement failed, ``on_start`` raised...)."""


@dataclass(frozen=True)
class Wiring:
    """Where an instance's ports lead: topics and consumer groups."""

    inlet_topics: dict[str, str] = field(default_factory=dict)
    inlet_groups: dict[str, str] = field(default_factory=dict)
    outlet_topics: dict[str, list[str]] = field(default_factory=dict)
    dead_letter_topic: str = "dead-letters"


class StreamletInstance:
    def __init__(
        self,
        streamlet: Streamlet,
        ctx: StreamletContext,
        transport: Transport,
        wiring: Wiring,
        stats: InstanceStats,
        record_budget: int | None = None,
        poll_timeout: float = 0.05,
        shutdown_timeout: float = 20.0,
        guarantee: str = txn.AT_LEAST_ONCE,
    ) -> None:
        self.streamlet = streamlet
        self.ctx = ctx
        self.transport = transport
        self.wiring = wiring
        self.stats = stats
        self.record_budget = record_budget  # ingress: records to emit before stopping (--records)
        self.poll_timeout = poll_timeout
        self.shutdown_timeout = shutdown_timeout  # longest wait for in-flight batches once stopping
        self.commit_interval = 0.05  # seconds: acknowledged positions are committed this often
        self.name = f"{ctx.streamlet}.{ctx.instance}"
        self.exhausted = asyncio.Event()  # ingress: the source ended or the budget is spent
        self._producer: Producer | None = None
        self._consumers: dict[str, Consumer] = {}
        self._trackers: dict[str, OffsetTracker] = {}
        self._committers: dict[str, Committer] = {}
        self._slots = asyncio.Semaphore(max(1, streamlet.max_in_flight))
        self._tasks: set[asyncio.Task[None]] = set()
        self._ingress_acks: list[Awaitable[None]] = []
        self._http: Any = None
        self._unwired_warned: set[str] = set()
        self._failure_log: FailureLog | None = None
        self._outlets = streamlet.outlets()
        self._is_ingress = isinstance(streamlet, Ingress)
        self._stage_times = stage_times.StageTimes(ctx.streamlet, ctx.instance)
        # Exactly-once applies to what consumes: an ingress has no positions to commit with its records.
        self.transactional = guarantee == txn.EXACTLY_ONCE and bool(wiring.inlet_topics)
        self._transaction_lock = asyncio.Lock()

    # -- lifecycle --------------------------------------------------------------------------------
    async def setup(self) -> None:
        """Join consumer groups (before any ingress produces), start HTTP, call ``on_start``."""
        client = f"{self.ctx.app}.{self.name}"
        self._producer = await txn.open_producer(self.transport, client, self.transactional)
        for inlet_name, topic in self.wiring.inlet_topics.items():
            group = self.wiring.inlet_groups[inlet_name]
            self._consumers[inlet_name] = self.transport.consumer(group, [topic], client)
            tracker = self._trackers[inlet_name] = OffsetTracker()
            self._committers[inlet_name] = Committer(
                self._consumers[inlet_name], tracker, self.commit_interval, self.ctx.stopping
            )
        if isinstance(self.streamlet, ServerStreamlet):
            self._http = await start_http(self.streamlet, self.ctx, self.name)
        await self.streamlet.on_start(self.ctx)

    async def run(self) -> None:
        """Run until the source ends (ingress) or ``ctx.stopping`` is set, then drain and close."""
        try:
            if isinstance(self.streamlet, Ingress):
                await self._run_ingress(self.streamlet)
            else:
                consume = partial(txn.consume_transactionally, self) if self.transactional else self._consume
                await asyncio.gather(*(consume(name) for name in self._consumers))
        except Exception as exc:
            self.stats.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await self.close()

    async def close(self) -> None:
        """Call ``on_stop`` and release clients and the HTTP endpoint (also after a failed setup)."""
        for task in list(self._tasks):  # only left over when run() itself was cancelled
            task.cancel()
        with contextlib.suppress(Exception):
            await self.streamlet.on_stop()
        for consumer in self._consumers.values():
            with contextlib.suppress(Exception):
                await consumer.close()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.close()
        if self._http is not None:
            await self._http.cleanup()
        self._stage_times.close()
        self.stats.ended = time.monotonic()

    @property
    def in_flight(self) -> int:
        return len(self._tasks) + sum(t.in_flight for t in self._trackers.values())

    @property
    def failure_log(self) -> FailureLog:
        """Rate-limited log lines about this instance's dead letters and error results."""
        if self._failure_log is None:
            from inferstream.runtime.failure_log import FailureLog

            self._failure_log = FailureLog(log, self.name)
        return self._failure_log

    # -- emitting -------------------------------------------------------------------------------
    async def emit(self, outlet: Outlet, batch: Any, acks: list[Awaitable[None]]) -> None:
        if self._outlets.get(outlet.name) is not outlet:
            raise ValueError(f"{self.name}: {outlet!r} is not an outlet of {type(self.streamlet).__name__}")
        stage_times.mark("emit")
        stage_times.mark("turn")
        payloads = outlet.codec.encode(batch)
        if not payloads:
            return
        keys = list(outlet.key(batch)) if outlet.key is not None else None
        if self.record_budget is not None:
            if self.record_budget <= 0:
                self.ctx.stopping.set()  # --records reached: the source should end now
                await asyncio.sleep(0)
                return
            if len(payloads) > self.record_budget:
                payloads = payloads[: self.record_budget]
                keys = keys[: self.record_budget] if keys is not None else None
            self.record_budget -= len(payloads)
            if self.record_budget <= 0:
                self.ctx.stopping.set()
                self.exhausted.set()
        topics = self.wiring.outlet_topics.get(outlet.name, [])
        if not topics and outlet.name not in self._unwired_warned:
            self._unwired_warned.add(outlet.name)
            log.warning("%s: outlet %r is not connected; its records are discarded", self.name, outlet.name)
        assert self._producer is not None
        # W3C trace context of sampled records (None when tracing is off or nothing is sampled)
        headers = tracing.emit_headers(payloads, self.ctx.streamlet, ",".join(topics), self._is_ingress)
        for topic in topics:  # headers only when there are some: producers written before them work
            sent = self._producer.send(topic, payloads, keys, headers) if headers else self._producer.send(
                topic, payloads, keys
            )
            acks.append(await sent)
        stage_times.mark("sent")
        self.stats.outlet(outlet.name).count(len(payloads))
        explain = getattr(outlet, "explain", None)  # an ErrorOutlet: these records are failures
        if explain is not None:
            self.stats.outlet(outlet.name).errors += len(payloads)
            first = payloads[0]
            reason = lambda: explain(first).reason  # noqa: E731 - decoded only when a line is written
            self.failure_log.failed("error results", len(payloads), f"outlet {outlet.name}", reason)
        await asyncio.sleep(0)  # a source that never waits must not starve the other instances

    # -- ingress --------------------------------------------------------------------------------
    async def _run_ingress(self, ingress: Ingress) -> None:
        emitter = Emitter(self, self._ingress_acks)
        run = asyncio.ensure_future(ingress.run(self.ctx, emitter))
        budget_spent = asyncio.ensure_future(self.exhausted.wait())
        ack_pruner = asyncio.ensure_future(self._prune_ingress_acks())
        try:
            await asyncio.wait({run, budget_spent, ack_pruner}, return_when=asyncio.FIRST_COMPLETED)
            if ack_pruner.done() and not ack_pruner.cancelled() and ack_pruner.exception() is not None:
                run.cancel()  # records were not acknowledged: emitting more would only lose more
                for ack in self._ingress_acks:  # the others are moot now: mark them looked at
                    if isinstance(ack, asyncio.Future):
                        ack.add_done_callback(lambda f: f.cancelled() or f.exception())
                raise ack_pruner.exception()  # type: ignore[misc]
            if not run.done():  # budget spent: ask the source to stop, then insist
                self.ctx.stopping.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(run), timeout=5)
                run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
        finally:
            budget_spent.cancel()
            ack_pruner.cancel()
            self.exhausted.set()
        await self._await_acks(self._ingress_acks)

    async def _prune_ingress_acks(self) -> None:
        # A long-running source must not keep every acknowledgement it ever got.
        while True:
            await asyncio.sleep(0.5)
            done = [a for a in self._ingress_acks if isinstance(a, asyncio.Future) and a.done()]
            if done:
                await self._await_acks(done)
                kept = [a for a in self._ingress_acks if not (isinstance(a, asyncio.Future) and a.done())]
                self._ingress_acks[:] = kept

    async def _await_acks(self, acks: Sequence[Awaitable[None]]) -> None:
        # return_exceptions: every failed ack is looked at (no "exception never retrieved" noise)
        results = await asyncio.gather(*acks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            first = errors[0]
            if not isinstance(first, TransportError):
                raise first
            raise InstanceFailure(f"{self.name}: records were not acknowledged: {first}") from first

    # -- consuming ------------------------------------------------------------------------------
    async def _consume(self, inlet_name: str) -> None:
        consumer = self._consumers[inlet_name]
        inlet = self.streamlet.inlets()[inlet_name]
        tracker = self._trackers[inlet_name]
        failed: list[BaseException] = []
        try:
            while not self.ctx.stopping.is_set() and not failed:
                batches = await consumer.poll(self.streamlet.max_batch_records, self.poll_timeout)
                polled_at = time.time()
                for polled in batches:
                    trace = self._stage_times.sample(
                        polled.topic, polled.partition, polled.offsets[0], polled.offsets[-1], polled_at
                    ) if polled.offsets else None
                    await self._slots.acquire()
                    ticket = tracker.track(polled.topic_partition, polled.next_offset)
                    task = asyncio.create_task(self._handle(inlet, polled, ticket, consumer, tracker, trace))
                    self._tasks.add(task)
                    task.add_done_callback(lambda t: self._finished(t, failed))
        finally:
            if self._tasks:  # drain what is in flight, then commit what it acknowledged
                _, late = await asyncio.wait(set(self._tasks), timeout=self.shutdown_timeout)
                if late:  # e.g. a broker that stopped acknowledging: give up, leave them uncommitted
                    log.warning(
                        "%s: %d batch(es) still unacknowledged after %.0f s; stopping without committing "
                        "them (they will be consumed again)",
                        self.name,
                        len(late),
                        self.shutdown_timeout,
                    )
                    for task in late:
                        task.cancel()
                    await asyncio.wait(late)
            with contextlib.suppress(TransportError):
                await self._commit(consumer, tracker)
        if failed:
            raise failed[0]

    def _finished(self, task: asyncio.Task[None], failed: list[BaseException]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())  # type: ignore[arg-type]

    async def _commit(self, consumer: Consumer, tracker: OffsetTracker) -> None:
        offsets = tracker.committable()
        if offsets:
            await consumer.commit(offsets)

    async def _handle(
        self,
        inlet: Inlet,
        polled: MessageBatch,
        ticket: Ticket,
        consumer: Consumer,
        tracker: OffsetTracker,
        trace: stage_times.BatchTrace | None = None,
    ) -> None:
        """One consumed batch: decode, process; once every ack is in, mark it done and commit."""
        started = time.perf_counter()
        if trace is not None:
            stage_times.activate(trace)  # this task's context only
            trace.mark("started")
        port = self.stats.inlet(inlet.name)
        port.count(len(polled))
        acks: list[Awaitable[None]] = []
        try:
            await self._decode_and_process(inlet, polled, ticket, acks)
        finally:
            ticket.emitted()  # whatever process() emitted is handed over: the next batch may emit
        port.busy_seconds += time.perf_counter() - started
        await self._await_acks(acks)
        tracker.done(ticket)
        if trace is not None:
            trace.mark("acked")
            self._stage_times.write(trace)
        committer = self._committers.get(inlet.name)
        if committer is not None and committer.consumer is consumer:
            committer.soon()  # one commit request per interval, off the records' path
        else:
            await self._commit(consumer, tracker)  # e.g. a transaction collecting its positions

    async def _decode_and_process(
        self, inlet: Inlet, polled: MessageBatch, ticket: Ticket, acks: list[Awaitable[None]]
    ) -> None:
        # A batch's stages: ``polled`` (payloads from the transport) -> ``decoded`` (the inlet codec's
        # batch; failures dead-lettered) -> ``batch`` (the InBatch process() gets).
        payloads = polled.values
        try:
            decoded, failures = inlet.codec.decode(payloads)
        except Exception as exc:  # a codec bug must not kill the instance: the batch is dead-lettered
            log.exception("%s: the codec of %s raised on a batch of %d", self.name, inlet, len(payloads))
            decoded = None
            reason = f"decoding failed: {type(exc).__name__}: {exc}"
            failures = [DecodeFailure(i, reason) for i in range(len(payloads))]
        offsets: Sequence[int] = polled.offsets
        good: Sequence[int] = range(len(payloads))
        if failures:
            await self._dead_letter(inlet, polled, [(f.index, f.reason) for f in failures], acks)
            bad = {f.index for f in failures}
            good = [i for i in range(len(payloads)) if i not in bad]
            offsets = [offsets[i] for i in good]
        if not good:
            return
        batch = InBatch(inlet, decoded, polled.topic, polled.partition, offsets)
        traced = None if polled.headers is None else tracing.consume_batch(
            self.ctx.streamlet, polled.topic, polled.headers, good, polled.values
        )
        token = tracing.activate(traced)  # this task's emits continue the records' traces
        try:
            if isinstance(self.streamlet, Egress):
                await self.streamlet.process(batch)
            elif isinstance(self.streamlet, Processor):
                await self.streamlet.process(batch, Emitter(self, acks, ticket))
        except (asyncio.CancelledError, InstanceFailure):
            raise
        except Exception as exc:  # errors are data: the batch goes to the dead letters
            log.exception("%s: processing a batch of %d records from %s failed", self.name, len(good), inlet)
            self.stats.inlet(inlet.name).errors += len(good)
            reason = f"processing failed: {type(exc).__name__}: {exc}"
            if traced is not None:
                traced.fail(reason)
            await self._dead_letter(inlet, polled, [(i, reason) for i in good], acks)
        finally:
            tracing.deactivate(token)
            if traced is not None:
                traced.end()

    async def _dead_letter(
        self,
        inlet: Inlet,
        polled: MessageBatch,
        failures: list[tuple[int, str]],
        acks: list[Awaitable[None]],
    ) -> None:
        streamlet = self.ctx.streamlet
        letters = [
            dead_letter(streamlet, inlet.name, *polled.position(i), reason, bytes(polled.values[i]))
            for i, reason in failures
        ]
        assert self._producer is not None
        acks.append(
            await self._producer.send(self.wiring.dead_letter_topic, DEAD_LETTER_CODEC.encode(letters))
        )
        self.stats.inlet(inlet.name).dead_letters += len(letters)
        self.failure_log.failed("dead letters", len(letters), f"inlet {inlet.name}", failures[0][1])
