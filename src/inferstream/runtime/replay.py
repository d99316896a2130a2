"""Replaying failed records: publish each again to the inlet it failed at, once.

``inferstream replay APP --from dead-letters|errors [--streamlet S] [--since T]`` reads the
failures (:mod:`.failures`) through a consumer group of its own,
``<app>.inferstream-replay.<source>[.<streamlet>]``, publishes every matching record to the
topic of the inlet it failed at, waits until the transport acknowledged them and only then
commits its position. A second replay therefore resumes where the first one ended: a record is
replayed once, however often the command runs (at-least-once if it is killed mid-way: the batch
in flight may be published again).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferstream.runtime.failures import FailedRecord, Source, explain_batch, failure_topics
from inferstream.transports.base import TopicPartition, Transport


@dataclass
class ReplayReport:
    """What a replay did."""

    read: int = 0  # failure records read (after the previous replay's position)
    replayed: int = 0  # published again
    skipped: int = 0  # filtered out by --streamlet / --since
    unreplayable: int = 0  # records that say nothing to replay (unreadable, no inlet known)
    to_topics: dict[str, int] = field(default_factory=dict)  # replayed per target topic

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "unreplayable": self.unreplayable,
            "to_topics": self.to_topics,
        }


def replay_group(app: str, source: Source, streamlet: str | None) -> str:
    return f"{app}.inferstream-replay.{source}" + (f".{streamlet}" if streamlet else "")


Progress = Callable[[int, int], None]  # (records read so far, records to read)


async def replay_failures(
    plan: Any,
    transport: Transport,
    source: Source,
    *,
    streamlet: str | None = None,
    since_ms: int = 0,
    progress: Progress | None = None,
    poll_timeout: float = 0.5,
    idle_timeout: float = 15.0,
) -> ReplayReport:
    """Replay the failures of ``source`` kept for ``plan`` that are newer than ``since_ms``."""
    wheres = {w.topic: w for w in failure_topics(plan, [source])}
    report = ReplayReport()
    group = replay_group(plan.app, source, streamlet)
    expected = 0
    for topic in wheres:
        expected += await transport.lag(group, [topic])
    if progress is not None:
        progress(0, expected)
    if expected == 0:
        return report
    consumer = transport.consumer(group, list(wheres), f"{group}.0")
    producer = transport.producer(f"{group}.0")
    try:
        idle_since = time.monotonic()
        while report.read < expected:
            batches = await consumer.poll(1000, poll_timeout)
            if not batches:
                if time.monotonic() - idle_since > idle_timeout:
                    break
                continue
            idle_since = time.monotonic()
            acks: list[Awaitable[None]] = []
            commits: dict[TopicPartition, int] = {}
            for batch in batches:
                records = explain_batch(plan, wheres[batch.topic], batch)
                report.read += len(batch)
                acks += await _publish(producer, records, streamlet, since_ms, report)
                commits[batch.topic_partition] = batch.next_offset
            for ack in acks:  # published and acknowledged before the position moves on
                await ack
            await consumer.commit(commits)
            if progress is not None:
                progress(report.read, expected)
    finally:
        await producer.close()
        await consumer.close()
    return report


async def _publish(
    producer: Any, records: Sequence[FailedRecord], streamlet: str | None, since_ms: int, report: ReplayReport
) -> list[Awaitable[None]]:
    per_topic: dict[str, list[bytes]] = {}
    for record in records:
        if (streamlet and record.streamlet != streamlet) or (since_ms and record.time_ms < since_ms):
            report.skipped += 1
        elif record.replay_topic is None or record.replay_payload is None:
            report.unreplayable += 1
        else:
            per_topic.setdefault(record.replay_topic, []).append(record.replay_payload)
    acks = []
    for topic, payloads in per_topic.items():
        acks.append(await producer.send(topic, payloads))
        report.replayed += len(payloads)
        report.to_topics[topic] = report.to_topics.get(topic, 0) + len(payloads)
    return acks
