"""Whole pipelines on the real broker through ``inferstream run --transport kafka`` (a process per instance).

One run serves three checks: the same blueprint on memory and kafka yields the same multiset of
records, three processor instances share the partitions, and a corrupt record that was already on
the source topic lands on the dead-letter topic with its reason while the pipeline goes on.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from inferstream.runtime.deadletters import DEAD_LETTER_CODEC
from inferstream.transports import TopicSpec
from inferstream.transports.kafka import KafkaTransport

from .kafka_pipeline_helpers import (
    FAST_GROUP_CONF,
    group_assignment,
    inferstream_run,
    read_numbers,
    read_topic,
    stop,
    summary,
    write_blueprint,
)

pytestmark = pytest.mark.kafka  # needs the session's Kafka broker (tests/conftest.py)

COUNT = 3000
RATE = 200  # records/s: the source runs ~15 s, so every doubler joins while records still flow
CORRUPT = b"\xff\xfe not an Avro Numbered record"


@dataclass
class KafkaRun:
    app: str
    memory_output: list[int]
    kafka_output: list[int]
    summary: dict[str, Any]
    groups_seen: list[dict[str, set[int]]]
    exit_code: int
    log: str


def _watch_group(bootstrap: str, group: str, seen: list[dict[str, set[int]]], done: threading.Event) -> None:
    while not done.wait(0.5):
        try:
            seen.append(group_assignment(bootstrap, group))
        except Exception:  # the group may not exist yet; the watcher only samples
            continue


@pytest.fixture(scope="module")
def kafka_run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> KafkaRun:
    folder = tmp_path_factory.mktemp("pipeline")
    memory_out, kafka_out = folder / "memory.jsonl", folder / "kafka.jsonl"
    app, blueprint = write_blueprint(folder, count=COUNT, rate=RATE, doublers=3, output=kafka_out)

    # The memory reference: same blueprint, one process, no rate limit, its own output file.
    memory = subprocess.run(
        [*_cli(), str(blueprint), "--transport", "memory", "--no-progress",
         "--conf", "source.rate=0", "--conf", f"sink.output-file={memory_out}"],
        capture_output=True, timeout=180, check=False,
    )
    assert memory.returncode == 0, memory.stdout.decode()[-3000:]

    # A corrupt record waits on the source topic before the pipeline starts.
    async def inject() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(f"{app}.source.out", partitions=3)])
        producer = transport.producer("corrupter")
        await (await producer.send(f"{app}.source.out", [CORRUPT]))
        await producer.close()

    asyncio.run(inject())

    seen: list[dict[str, set[int]]] = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch_group, args=(bootstrap, f"{app}.double.in", seen, done))
    watcher.start()
    log, summary_path = folder / "kafka-run.log", folder / "summary.json"
    process = inferstream_run([str(blueprint), "--transport", "kafka", "--summary-json", str(summary_path),
                               "--drain-timeout", "60s", *FAST_GROUP_CONF], bootstrap, log)
    try:
        process.wait(timeout=240)
    except subprocess.TimeoutExpired:
        stop(process)
    finally:
        done.set()
        watcher.join()
    assert summary_path.is_file(), log.read_text()[-5000:]
    return KafkaRun(app, read_numbers(memory_out), read_numbers(kafka_out), summary(summary_path), seen,
                    process.returncode, log.read_text())


def _cli() -> list[str]:
    return [sys.executable, "-m", "inferstream.cli.main", "run"]


def test_kafka_and_memory_yield_the_same_records(kafka_run: KafkaRun) -> None:
    assert kafka_run.exit_code == 0, kafka_run.log[-5000:]
    expected = Counter(2 * n for n in range(COUNT))
    assert Counter(kafka_run.memory_output) == expected
    # At-least-once: every record arrives; a rebalance may repeat some (counted, never lost).
    kafka = Counter(kafka_run.kafka_output)
    assert set(kafka) == set(expected)
    duplicates = sum(kafka.values()) - COUNT
    assert duplicates == kafka_run.summary["streamlets"]["sink"]["records_in"] - COUNT
    assert kafka_run.summary["ok"] is True


def test_three_processor_instances_share_the_partitions(kafka_run: KafkaRun) -> None:
    full_sharing = [s for s in kafka_run.groups_seen if len(s) == 3 and all(len(p) == 1 for p in s.values())]
    assert full_sharing, f"the group never had 3 members with a partition each: {kafka_run.groups_seen[-5:]}"
    assert set().union(*full_sharing[-1].values()) == {0, 1, 2}
    doublers = [i for i in kafka_run.summary["instances"] if i["streamlet"] == "double"]
    assert len(doublers) == 3
    processed = [i["inlets"].get("in", {}).get("records", 0) for i in doublers]
    assert all(n > 0 for n in processed), processed
    assert sum(processed) >= COUNT + 1  # every record (+ the corrupt one) went through some instance


def test_a_corrupt_record_goes_to_the_dead_letters_with_its_reason(
    kafka_run: KafkaRun, bootstrap: str
) -> None:
    assert kafka_run.summary["streamlets"]["double"]["dead_letters"] == 1
    payloads = read_topic(bootstrap, f"{kafka_run.app}.dead-letters", expected=1)
    letters, failures = DEAD_LETTER_CODEC.decode(payloads)
    assert not failures and len(letters) == 1
    (letter,) = letters
    assert letter["payload"] == CORRUPT
    assert letter["topic"] == f"{kafka_run.app}.source.out" and letter["offset"] == 0
    assert letter["streamlet"] == "double" and letter["inlet"] == "in"
    assert "not a valid" in letter["reason"]
    # ...and the pipeline went on: all good records made it (checked in full above).
    assert len(set(kafka_run.kafka_output)) == COUNT
