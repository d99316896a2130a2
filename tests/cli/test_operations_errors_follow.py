"""``inferstream errors APP --follow`` prints a failure as it arrives, and Ctrl-C ends it (issue 21).

Run as a user runs it (a subprocess) against the session's real broker. The pipeline's topics are
made as ``inferstream run`` makes them; the failures are dead letters as the runtime writes them
(``dead_letter`` encoded with the dead-letter codec) onto ``<app>.dead-letters``: one before
``--follow`` starts (the catch-up), one after it printed that one (really followed), each seen
within a bounded time. Budget: ~10 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from operations_helpers import cli_command, stop

from inferstream.runtime.checks import check
from inferstream.runtime.deadletters import DEAD_LETTER_CODEC, dead_letter
from inferstream.transports.kafka import KafkaTransport

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _make_topics(blueprint: Path, bootstrap: str) -> None:
    plan = check(blueprint).plan
    assert plan is not None

    async def create() -> None:
        transport = KafkaTransport(bootstrap)
        try:
            await transport.create_topics(plan.topics)
        finally:
            await transport.close()

    asyncio.run(create())


def _send_letter(bootstrap: str, app: str, reason: str, payload: bytes) -> None:
    letter = dead_letter("sink", "in", f"{app}.source.out", 0, 7, reason, payload)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(f"{app}.dead-letters", DEAD_LETTER_CODEC.encode([letter])[0])
    assert producer.flush(10) == 0


def _wait_for(lines: list[str], text: str, process: subprocess.Popen[str], seconds: float) -> float:
    started = time.monotonic()
    while not any(text in line for line in list(lines)):
        assert process.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() - started < seconds, f"{text!r} not printed within {seconds} s: {lines}"
        time.sleep(0.2)
    return time.monotonic() - started


def test_follow_prints_a_new_failure_within_seconds_and_ctrl_c_ends_it(
    tmp_path: Path, bootstrap: str
) -> None:
    app = f"follow-{uuid.uuid4().hex[:8]}"
    blueprint = tmp_path / f"{app}.yaml"
    blueprint.write_text(
        f"name: {app}\n"
        "streamlets:\n"
        "  source: inferstream.apps.examples:NumberedIngress\n"
        "  sink: inferstream.apps.examples:CollectingEgress\n"
        "connections:\n"
        "  source.out: [sink.in]\n"
    )
    _make_topics(blueprint, bootstrap)
    _send_letter(bootstrap, app, "before: the first failure", b"first")
    follow = subprocess.Popen(
        cli_command("errors", str(blueprint), "--follow", "--from", "dead-letters"),
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250", "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS": bootstrap},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert follow.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(follow.stdout or []), daemon=True)
    reader.start()
    try:
        _wait_for(lines, "before: the first failure", follow, 60)  # the catch-up, a cold CLI start
        _send_letter(bootstrap, app, "after: a new failure", b"second")
        seconds = _wait_for(lines, "after: a new failure", follow, 15)  # followed, not re-listed
        assert follow.poll() is None, "--follow keeps running"
        follow.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert follow.wait(30) == 0
        reader.join(10)
    finally:
        stop(follow)
    output = "".join(lines)
    (new,) = [line for line in lines if "after: a new failure" in line]
    assert "dead letter" in new and "sink" in new and "6 bytes: 73 65 63 6f 6e 64" in new, new
    assert "Traceback" not in output
    assert f"2 failed record(s) in {app}'s dead letters" in output, output
    assert seconds < 15
