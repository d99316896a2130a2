"""Exactly-once on Kafka: a transactional producer whose transactions also commit the consumed offsets.

A consuming instance in exactly-once mode works in cycles: poll, ``begin()``, process and send
everything derived from the polled records (results, dead letters) through this producer, then
``commit(offsets, consumer)``, which adds the consumed positions to the transaction
(``send_offsets_to_transaction`` with the consumer's group metadata) and commits it. Readers with
``isolation.level=read_committed`` (the consumers' default) see a cycle's records exactly when its
offsets are committed: all or nothing, so a crash in between is re-read and re-produced with no
visible duplicate.

Zombies are fenced twice over: the transactional id is stable per streamlet instance
(``<app>.<streamlet>.<index>``), so a restarted instance's ``init_transactions`` bumps the epoch
and the old one's next write or commit fails; and the offsets carry the consumer group's
generation (KIP-447), so an instance that lost its partitions in a rebalance cannot commit
offsets for them. Any transaction error ends the instance (the supervisor restarts it and it
resumes from the last committed cycle): crash-only recovery, no half-understood abort paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as _RdTopicPartition

from inferstream.transports.base import TopicPartition, TransportError
from inferstream.transports.kafka_consumer import KafkaConsumer
from inferstream.transports.kafka_producer import KafkaProducer

#: How long init/commit/abort may block (a broker restarting mid-commit takes seconds to come back).
TRANSACTION_TIMEOUT = 60.0


class KafkaTransactionalProducer(KafkaProducer):
    """A producer whose sends belong to the open transaction (``begin`` ... ``commit``)."""

    def __init__(self, config: dict[str, Any], transactional_id: str) -> None:
        config = {**config, "transactional.id": transactional_id}
        # The gapless guarantee is the idempotent producer's; a transaction is all-or-nothing anyway.
        config.pop("enable.gapless.guarantee", None)
        config.setdefault("transaction.timeout.ms", 60_000)
        super().__init__(config)
        # One delivery report per partition run is still enough: a failed record fails the commit.
        self._report_last_only = True
        self.transactional_id = transactional_id
        self._txn_thread = ThreadPoolExecutor(1, thread_name_prefix=f"kafka-txn-{transactional_id}")
        self.in_transaction = False

    async def _blocking(self, what: str, call: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._txn_thread, call, *args)
        except KafkaException as exc:
            error = exc.args[0]
            kind = "fenced by a newer instance" if error.fatal() else "failed"
            raise TransportError(
                f"transaction {self.transactional_id!r}: {what} {kind}: {error.str()}"
            ) from exc

    async def init(self) -> None:
        """Register the transactional id (fencing any older producer with it) and finish its leftovers."""
        await self._blocking("init", self._rd.init_transactions, TRANSACTION_TIMEOUT)

    async def begin(self) -> None:
        await self._blocking("begin", self._rd.begin_transaction)
        self.in_transaction = True

    async def commit(self, offsets: Mapping[TopicPartition, int], consumer: KafkaConsumer) -> None:
        """Add ``offsets`` (next offset to read, per partition) of ``consumer``'s group, then commit."""
        if offsets:
            positions = [_RdTopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]
            metadata = consumer._rd.consumer_group_metadata()  # generation + member id (KIP-447)
            await self._blocking(
                "send_offsets", self._rd.send_offsets_to_transaction, positions, metadata, TRANSACTION_TIMEOUT
            )
        await self._blocking("commit", self._rd.commit_transaction, TRANSACTION_TIMEOUT)
        self.in_transaction = False

    async def abort(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            await self._blocking("abort", self._rd.abort_transaction, TRANSACTION_TIMEOUT)

    async def close(self) -> None:
        try:
            if self.in_transaction:  # stopping mid-cycle: its records stay invisible, its input is re-read
                await self.abort()
        except TransportError:
            pass
        finally:
            self._txn_thread.shutdown(wait=False)
            await super().close()
