"""The Kafka side of :class:`~inferstream.transports.base.Producer`: confluent-kafka with delivery acks.

librdkafka batches, compresses and retries in its own threads; a poller thread of ours serves its
delivery reports, counts them down per batch and resolves the batch's future on the asyncio loop
once every record of it is on the broker (``acks=all``, idempotent: retries keep the order).

Fast path: with idempotence and ``enable.gapless.guarantee`` the broker accepts a record only
after every earlier one of the same producer and partition, and any failure that could leave a
gap is fatal to the producer (every later record fails too). So a keyless batch, produced as one
run per partition, needs a delivery report for the *last* record of each run only; that halves
the Python cost per record. Keyed batches (librdkafka picks the partition) report every record.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from inferstream.transports.base import Headers, Producer, TransportError

# How long the poller waits for delivery reports per call; bounds how late close() notices a stop.
_POLL_SECONDS = 0.05
# Pause while librdkafka's local queue is full (backpressure) before producing again.
_FULL_QUEUE_PAUSE = 0.002


class _BatchAck:
    """Counts the delivery reports of one batch down; resolves its future at zero (poller thread)."""

    __slots__ = ("error", "future", "loop", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.remaining = count
        self.error: str | None = None

    def on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None and self.error is None:
            self.error = f"delivery to {msg.topic()} [{msg.partition()}] failed: {err.str()}"
        self.remaining -= 1
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if self.future.done():
            return
        if self.error is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(TransportError(self.error))


class KafkaProducer(Producer):
    """Sends batches; keyless records are spread evenly over the topic's partitions in runs."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._rd = _RdProducer(config)
        self._report_last_only = _truthy(config.get("enable.idempotence")) and _truthy(
            config.get("enable.gapless.guarantee")
        )
        self._partitions: dict[str, int] = {}
        self._next_partition: dict[str, int] = {}
        self._pending: set[asyncio.Future[None]] = set()
        self._stop = threading.Event()
        self._closed = False
        self._poller = threading.Thread(
            target=self._serve_reports, name=f"kafka-acks-{config.get('client.id')}", daemon=True
        )
        self._poller.start()

    def _serve_reports(self) -> None:
        # The only thread that polls, so delivery callbacks never run concurrently.
        while not self._stop.is_set():
            self._rd.poll(_POLL_SECONDS)

    async def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            loop = asyncio.get_running_loop()
            meta = await loop.run_in_executor(None, lambda: self._rd.list_topics(topic, timeout=10))
            info = meta.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                reason = info.error.str() if info is not None and info.error is not None else "no partitions"
                raise TransportError(f"topic {topic!r} is not usable ({reason}): create it first")
            count = len(info.partitions)
            self._partitions[topic] = count
        return count

    async def send(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None = None,
        headers: Sequence[Headers | None] | None = None,
    ) -> Awaitable[None]:
        if self._closed:
            raise TransportError("send on a closed Kafka producer")
        loop = asyncio.get_running_loop()
        if keys is not None and all(key is None for key in keys):
            keys = None  # no key at all: spread evenly, like a keyless batch
        if not values:
            ack = _BatchAck(loop, 0)
            ack.future.set_result(None)
            return ack.future
        if headers is not None:  # traced records: one produce call each, headers attached (rare path)
            return await self._send_with_headers(topic, values, keys, headers, loop)
        partitions = await self._partition_count(topic) if keys is None else 0
        if keys is None and self._report_last_only:
            ack = _BatchAck(loop, min(partitions, len(values)))  # one report per partition run
        else:
            ack = _BatchAck(loop, len(values))
        self._pending.add(ack.future)
        ack.future.add_done_callback(self._pending.discard)
        try:
            await self._produce_batch(topic, values, keys, partitions, ack)
        except BaseException as exc:
            # Records produced before the failure still report; the batch as a whole has failed.
            if not ack.future.done():
                failure = exc if isinstance(exc, TransportError) else TransportError(repr(exc))
                ack.future.set_exception(failure)
                ack.future.exception()  # the caller gets the error raised here; mark it retrieved
            raise
        return ack.future

    async def _send_with_headers(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        headers: Sequence[Headers | None],
        loop: asyncio.AbstractEventLoop,
    ) -> Awaitable[None]:
        partitions = await self._partition_count(topic) if keys is None else 0
        ack = _BatchAck(loop, len(values))
        self._pending.add(ack.future)
        ack.future.add_done_callback(self._pending.discard)
        start = self._next_partition.get(topic, 0)
        if partitions:
            self._next_partition[topic] = (start + 1) % partitions
        index = 0
        while index < len(values):
            partition = -1 if keys is not None else (start + index * partitions // len(values)) % partitions
            record_headers = headers[index]
            try:
                self._rd.produce(
                    topic, values[index], keys[index] if keys is not None else None, partition,
                    ack.on_delivery, headers=list(record_headers) if record_headers else None,
                )
                index += 1
            except BufferError:
                await asyncio.sleep(_FULL_QUEUE_PAUSE)
            except KafkaException as exc:
                if not ack.future.done():
                    ack.future.set_exception(TransportError(f"cannot produce to {topic!r}: {exc}"))
                    ack.future.exception()
                raise TransportError(f"cannot produce to {topic!r}: {exc.args[0].str()}") from exc
        return ack.future

    async def _produce_batch(
        self, topic: str, values: Sequence[bytes], keys: Sequence[bytes | None] | None,
        partitions: int, ack: _BatchAck,
    ) -> None:
        if keys is None:
            start = self._next_partition.get(topic, 0)
            self._next_partition[topic] = (start + 1) % partitions
            count = len(values)
            # Contiguous runs per partition keep librdkafka's per-partition batches full.
            for run in range(partitions):
                lo, hi = run * count // partitions, (run + 1) * count // partitions
                if lo < hi:
                    await self._produce_run(topic, values, None, lo, hi, (start + run) % partitions, ack)
        else:
            await self._produce_run(topic, values, keys, 0, len(values), -1, ack)

    async def _produce_run(
        self, topic: str, values: Sequence[bytes], keys: Sequence[bytes | None] | None,
        lo: int, hi: int, partition: int, ack: _BatchAck,
    ) -> None:
        produce = self._rd.produce
        callback = ack.on_delivery
        index = lo
        while index < hi:
            try:
                if keys is None and self._report_last_only:
                    last = hi - 1
                    while index < last:
                        produce(topic, values[index], None, partition)
                        index += 1
                    produce(topic, values[last], None, partition, callback)
                    index += 1
                elif keys is None:
                    while index < hi:
                        produce(topic, values[index], None, partition, callback)
                        index += 1
                else:
                    while index < hi:
                        produce(topic, values[index], keys[index], on_delivery=callback)
                        index += 1
            except BufferError:
                await asyncio.sleep(_FULL_QUEUE_PAUSE)  # librdkafka's queue is full: wait for acks
            except KafkaException as exc:
                raise TransportError(f"cannot produce to {topic!r}: {exc.args[0].str()}") from exc

    async def flush(self, timeout: float | None = None) -> None:
        pending = list(self._pending)
        if not pending:
            return
        done, not_done = await asyncio.wait(pending, timeout=timeout)
        if not_done:
            raise TransportError(f"{len(not_done)} batches still unacknowledged after {timeout} s")
        for future in done:
            if future.exception() is not None:
                raise TransportError(str(future.exception()))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait(list(self._pending), timeout=30) if self._pending else None
        finally:
            self._stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self._poller.join)
            # Serves any last reports on this thread now that the poller is gone.
            await asyncio.get_running_loop().run_in_executor(None, self._rd.flush, 5.0)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")
