"""Failed records of a pipeline: error outlets and the dead-letter topic, read back as one list.

A streamlet declares an outlet that carries failures with :class:`ErrorOutlet`. Its records
count as *error results* in a run's summary (and against ``--max-error-ratio``), and
``inferstream errors APP`` lists them beside the dead letters, each with the time, the streamlet
that failed it, the reason and a short view; ``inferstream replay`` (:mod:`.replay`) publishes
them again to the inlet they failed at::

    class FraudDecider(Processor):
        error = ErrorOutlet("error", SERVING_RESULT, explain=explain_result, replay_schema=SOURCE_REQUEST)

``explain(payload) -> Explained`` turns one record of the outlet into its reason, view, time and
(when it can be replayed) the record as the failing inlet reads it. Dead letters explain
themselves (:mod:`.deadletters`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from inferstream.runtime.codecs import Codec
from inferstream.runtime.deadletters import DEAD_LETTER_CODEC
from inferstream.runtime.streamlet import B, KeyFunction, Outlet
from inferstream.transports.base import MessageBatch, Transport

Source = Literal["dead-letters", "errors"]
SOURCES: tuple[Source, ...] = ("dead-letters", "errors")


@dataclass(frozen=True)
class Explained:
    """What one failed record says about itself."""

    reason: str
    view: str = ""  # a short, human view of the record
    time_ms: int = 0  # epoch millis of the failure (0: unknown)
    failed_at: str = ""  # the streamlet that failed it, when the record names it
    replay: bytes | None = None  # the record as the failing inlet reads it (None: not replayable)


Explain = Callable[[bytes], Explained]


class ErrorOutlet(Outlet[B]):
    """An outlet whose records are failures: counted as error results, listed, replayable.

    ``replay_schema``: the schema of :attr:`Explained.replay` payloads; replay publishes them to
    the topic read by the pipeline's inlet of that schema (the inlet the records failed at).
    """

    def __init__(
        self,
        name: str | None,
        schema: str | Mapping[str, Any],
        codec: Codec[Any] | None = None,
        key: KeyFunction | None = None,
        *,
        explain: Explain,
        replay_schema: str | None = None,
    ) -> None:
        super().__init__(name, schema, codec, key)
        self.explain = explain
        self.replay_schema = replay_schema


@dataclass(frozen=True)
class FailedRecord:
    """One record of an error outlet or of the dead-letter topic."""

    source: Source
    streamlet: str  # the streamlet that failed it
    reason: str
    view: str
    time_ms: int
    topic: str  # where the failure is kept (error outlet topic or dead-letter topic)
    partition: int
    offset: int
    replay_topic: str | None  # where replay publishes it (the inlet it failed at)
    replay_payload: bytes | None

    def to_json(self) -> dict[str, Any]:
        """Everything but the payload (``errors --json``)."""
        return {
            "source": self.source,
            "time": _iso(self.time_ms),
            "time_ms": self.time_ms,
            "streamlet": self.streamlet,
            "reason": self.reason,
            "view": self.view,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "replay_topic": self.replay_topic,
        }


def _iso(millis: int) -> str:
    if not millis:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis / 1000)) + f".{millis % 1000:03d}Z"


@dataclass(frozen=True)
class FailureTopic:
    """A topic holding failures, and how to read one of its records."""

    source: Source
    topic: str
    streamlet: str  # the streamlet writing it ("" for the dead-letter topic: each letter names one)
    explain: Explain | None  # None: dead letters
    replay_topic: str | None  # error outlets: the topic of the inlet reading ``replay_schema``


def failure_topics(plan: Any, sources: Sequence[Source] = SOURCES) -> list[FailureTopic]:
    """The topics of ``plan`` (a :class:`~inferstream.runtime.plan.Plan`) that hold failures."""
    found: list[FailureTopic] = []
    if "dead-letters" in sources:
        found.append(FailureTopic("dead-letters", plan.dead_letters, "", None, None))
    if "errors" in sources:
        for name, streamlet_plan in plan.streamlets.items():
            for outlet_name, outlet in streamlet_plan.cls.outlets().items():
                if not isinstance(outlet, ErrorOutlet):
                    continue
                target = _replay_topic(plan, outlet.replay_schema)
                for topic in streamlet_plan.wiring.outlet_topics.get(outlet_name, []):
                    found.append(FailureTopic("errors", topic, name, outlet.explain, target))
    return found


def _replay_topic(plan: Any, schema: str | None) -> str | None:
    """The one topic read by an inlet of ``schema`` (None if there is none or more than one)."""
    if schema is None:
        return None
    topics = {
        streamlet_plan.wiring.inlet_topics[inlet_name]
        for streamlet_plan in plan.streamlets.values()
        for inlet_name, inlet in streamlet_plan.cls.inlets().items()
        if inlet.schema_name == schema
    }
    return topics.pop() if len(topics) == 1 else None


def consumer_of(plan: Any, topic: str | None) -> str:
    """The (first) streamlet reading ``topic``, or ""."""
    for name, streamlet_plan in plan.streamlets.items():
        if topic in streamlet_plan.wiring.inlet_topics.values():
            return str(name)
    return ""


def explain_batch(plan: Any, where: FailureTopic, batch: MessageBatch) -> list[FailedRecord]:
    """The failed records of one consumed batch of a failure topic."""
    records: list[FailedRecord] = []
    if where.explain is None:
        letters, broken = DEAD_LETTER_CODEC.decode(batch.values)
        bad = {f.index for f in broken}
        good = [i for i in range(len(batch)) if i not in bad]
        for index, letter in zip(good, letters, strict=True):
            payload = bytes(letter["payload"])
            records.append(
                FailedRecord(
                    "dead-letters",
                    letter["streamlet"],
                    letter["reason"],
                    _bytes_view(payload),
                    int(letter["timestamp"]),
                    batch.topic,
                    batch.partition,
                    batch.offsets[index],
                    letter["topic"],
                    payload,
                )
            )
        for failure in broken:  # not even a dead letter: show it, never replay it
            records.append(
                FailedRecord(
                    "dead-letters",
                    "",
                    f"unreadable dead letter: {failure.reason}",
                    _bytes_view(bytes(batch.values[failure.index])),
                    0,
                    batch.topic,
                    batch.partition,
                    batch.offsets[failure.index],
                    None,
                    None,
                )
            )
        return sorted(records, key=lambda r: r.offset)
    failed_at = consumer_of(plan, where.replay_topic) or where.streamlet
    for offset, value in zip(batch.offsets, batch.values, strict=True):
        try:
            said = where.explain(bytes(value))
        except Exception as exc:  # an unreadable record is still listed, with why
            said = Explained(f"unreadable error record: {type(exc).__name__}: {exc}", _bytes_view(value))
        named = said.failed_at if said.failed_at in plan.streamlets else ""  # "NOT_FOUND: ..." names none
        records.append(
            FailedRecord(
                "errors",
                named or failed_at,
                said.reason,
                said.view,
                said.time_ms,
                batch.topic,
                batch.partition,
                offset,
                where.replay_topic if said.replay is not None else None,
                said.replay,
            )
        )
    return records


def _bytes_view(payload: bytes, shown: int = 16) -> str:
    more = "…" if len(payload) > shown else ""
    return f"{len(payload)} bytes: {payload[:shown].hex(' ')}{more}"


async def read_failures(
    plan: Any,
    transport: Transport,
    sources: Sequence[Source] = SOURCES,
    *,
    follow: bool = False,
    poll_timeout: float = 0.5,
    idle_timeout: float = 15.0,
) -> AsyncIterator[FailedRecord]:
    """Every failed record kept on ``transport`` for ``plan``, oldest first per partition.

    Reads through a consumer group of its own that never commits (it leaves nothing behind on
    the broker); without ``follow`` it ends once it read what the topics held when it started,
    or after ``idle_timeout`` s without a record (records deleted by retention meanwhile).
    """
    wheres = {w.topic: w for w in failure_topics(plan, sources)}
    if not wheres:
        return
    group = f"{plan.app}.inferstream-errors.{uuid.uuid4().hex[:12]}"
    expected = 0
    for topic in wheres:
        expected += await transport.lag(group, [topic])
    if expected == 0 and not follow:
        return
    consumer = transport.consumer(group, list(wheres), f"{group}.reader")
    try:
        seen, idle_since = 0, time.monotonic()
        while follow or seen < expected:
            batches = await consumer.poll(1000, poll_timeout)
            if not batches:
                if not follow and time.monotonic() - idle_since > idle_timeout:
                    return
                continue
            idle_since = time.monotonic()
            for batch in batches:
                seen += len(batch)
                for record in explain_batch(plan, wheres[batch.topic], batch):
                    yield record
            await asyncio.sleep(0)
    finally:
        await consumer.close()
