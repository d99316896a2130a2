"""librdkafka's repeated connection errors become one line per state change (issue 21).

Real librdkafka clients, real log lines: one against a port where nothing listens (down, then
counted), one against the session's broker (state lines read, never shown). Budget: ~10 s.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest
from confluent_kafka import Producer

from inferstream.transports.kafka_log import DEBUG_CONTEXTS, BrokerStateFilter, install


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _logger(name: str) -> tuple[logging.Logger, _Lines, BrokerStateFilter]:
    log = logging.getLogger(f"inferstream.test.{name}")
    log.propagate = False
    lines = _Lines()
    log.addHandler(lines)
    return log, lines, install(log)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _produce_for(producer: Producer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        producer.poll(0.1)


def test_an_unreachable_broker_is_one_warning_however_long_it_stays_down() -> None:
    log, lines, state = _logger("down")
    port = _closed_port()
    producer = Producer(
        {
            "bootstrap.servers": f"127.0.0.1:{port}",
            "logger": log,
            "debug": DEBUG_CONTEXTS,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 100,
        }
    )
    try:
        _produce_for(producer, 4)
    finally:
        producer.flush(0)
    shown = [r.getMessage() for r in lines.records]
    assert len(shown) == 1, shown
    assert lines.records[0].levelno == logging.WARNING
    assert shown[0].startswith(f"Kafka broker 127.0.0.1:{port} unreachable: Connect to")
    assert state.down == [f"127.0.0.1:{port}"]


@pytest.mark.kafka
def test_a_reachable_broker_logs_nothing_and_debug_lines_never_show(bootstrap: str) -> None:
    log, lines, state = _logger("up")
    producer = Producer({"bootstrap.servers": bootstrap, "logger": log, "debug": DEBUG_CONTEXTS})
    try:
        producer.list_topics(timeout=10)
        _produce_for(producer, 1)
    finally:
        producer.flush(0)
    assert [r for r in lines.records if r.levelno <= logging.DEBUG] == []
    assert state.down == []


def test_back_after_down_is_one_info_line_with_the_count() -> None:
    # The two lines librdkafka writes at a broker restart, as a client logs them (levels included).
    log, lines, state = _logger("back")
    head = "[c#producer-1] [thrd:127.0.0.1:9/1]: 127.0.0.1:9/1:"
    fail = f"FAIL {head} Connect to ipv4#127.0.0.1:9 failed: refused"
    up = f"STATE {head} Broker changed state APIVERSION_QUERY -> UP"
    for _ in range(50):
        log.error(fail)
    log.debug(up)
    log.error(fail)
    assert [r.getMessage().split(":")[0] for r in lines.records][:1] == ["Kafka broker 127.0.0.1"]
    assert "reachable again after" in lines.records[1].getMessage()
    assert "(49 errors not shown)" in lines.records[1].getMessage()
    assert lines.records[1].levelno == logging.INFO
    assert len(lines.records) == 3 and "unreachable" in lines.records[2].getMessage()
    assert state.down == ["127.0.0.1:9"]
