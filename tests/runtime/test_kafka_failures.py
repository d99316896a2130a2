"""At-least-once under failure: kill -9 a processor instance mid-run, restart it, lose nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter

import pytest

from inferstream.transports.kafka import KafkaTransport

from .kafka_pipeline_helpers import (
    FAST_GROUP_CONF,
    group_assignment,
    inferstream_run,
    read_numbers,
    stop_all,
    summary,
    wait_for,
    write_blueprint,
)

pytestmark = pytest.mark.kafka  # needs the session's Kafka broker (tests/conftest.py)

COUNT = 3000
RATE = 200  # ~15 s of records: the kill lands mid-run


def test_kill_9_of_a_processor_instance_loses_no_record(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("kill")
    output = folder / "out.jsonl"
    app, blueprint = write_blueprint(folder, count=COUNT, rate=RATE, doublers=3, output=output)
    group = f"{app}.double.in"
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(instance: str) -> subprocess.Popen[bytes]:
        name = instance.replace(":", ".")
        args = [str(blueprint), "--transport", "kafka", "--instance", instance, "--no-drain",
                "--summary-json", str(folder / f"{name}.json"), *FAST_GROUP_CONF]
        return inferstream_run(args, bootstrap, folder / f"{name}.log")

    try:
        for instance in ("sink:0", "double:0", "double:1", "double:2"):
            processes[instance] = start(instance)
        # The doublers own a partition each before the source starts, so double.1 surely has work.
        wait_for(lambda: sorted(len(p) for p in _members(bootstrap, group).values()) == [1, 1, 1],
                 120, "3 doubler instances with a partition each")
        processes["source:0"] = start("source:0")
        wait_for(lambda: len(read_numbers(output)) >= 600, 120, "the first records at the sink")
        before_kill = len(set(read_numbers(output)))
        victim = processes["double:1"]
        victim.send_signal(signal.SIGKILL)  # no drain, no commit, no LeaveGroup
        victim.wait(10)
        assert victim.returncode == -signal.SIGKILL
        assert before_kill < COUNT, "the source finished before the kill; the test proves nothing"
        log = folder / "double.1.log"
        joins_before = log.read_text().count(": assigned")
        processes["double:1"] = start("double:1")  # restart: rejoins and resumes from the commits
        wait_for(lambda: log.read_text().count(": assigned") > joins_before, 120, "double.1 to rejoin")

        expected = {2 * n for n in range(COUNT)}
        wait_for(lambda: set(read_numbers(output)) >= expected, 180, "every record at the sink")
        assert processes["source:0"].wait(60) == 0
        wait_for(lambda: _lag(bootstrap, group) == 0, 60, "the doublers to commit everything")
    finally:
        # All at once: members leaving one by one would mean one rebalance each.
        codes = dict(zip(processes, stop_all(list(processes.values())), strict=True))

    assert codes["sink:0"] == 0 and codes["double:0"] == 0 and codes["double:2"] == 0, codes
    assert codes["double:1"] == 0, codes  # the restarted one ended cleanly
    received = Counter(read_numbers(output))
    assert set(received) == expected
    duplicates = sum(received.values()) - COUNT
    # Duplicates are allowed (the killed instance's uncommitted batches are re-read) and counted.
    sink = summary(folder / "sink.0.json")
    assert sink["streamlets"]["sink"]["records_in"] == COUNT + duplicates
    print(f"kill -9 of double.1 after {before_kill} records: 0 lost, {duplicates} duplicates")


def _members(bootstrap: str, group: str) -> dict[str, set[int]]:
    try:
        return group_assignment(bootstrap, group)
    except Exception:  # not created yet
        return {}


def _lag(bootstrap: str, group: str) -> int:
    async def lag() -> int:
        transport = KafkaTransport(bootstrap)
        topic = group.rsplit(".", 2)[0] + ".source.out"
        return await transport.lag(group, [topic])

    return asyncio.run(lag())
