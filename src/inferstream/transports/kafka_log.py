"""librdkafka's log, readable: one line when a broker becomes unreachable, one when it is back.

Left alone, librdkafka logs every failed reconnect of every client (producer, consumer, admin,
lag probe), so a 10 s broker restart printed ~900 ``Connect ... failed`` ERROR lines. The
:class:`BrokerStateFilter` on the librdkafka logger keeps, per broker address and process:

* the first failure: ``WARNING Kafka broker 127.0.0.1:9092 unreachable: <librdkafka's reason>``;
* every further warning or error while it is down: counted, not printed;
* the first connection that is up again: ``INFO Kafka broker 127.0.0.1:9092 reachable again
  after 9.8 s (412 errors not shown)``.

It learns that a connection is up from librdkafka's broker state lines, so the clients run
with ``debug=broker`` (a few dozen DEBUG lines per client over a run, never per message); the
filter drops every DEBUG line after reading it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

#: librdkafka ``debug`` contexts the filter needs (state changes of broker connections).
DEBUG_CONTEXTS = "broker"

# "FAIL [client#producer-1] [thrd:...]: 127.0.0.1:9092/bootstrap: Connect to ... failed: ..."
_BROKER = re.compile(r"\]: (?:\w+://)?(?P<address>[^/\s]+)/(?P<id>[^:\s]+): (?P<text>.*)$")
# "FAIL [...] [thrd:GroupCoordinator]: GroupCoordinator: 127.0.0.1:9092: Connect to ... failed: ..."
_COORDINATOR = re.compile(r"\]: GroupCoordinator(?:/\d+)?: (?P<address>[^\s/]+:\d+): (?P<text>.*)$")
_UP = re.compile(r"Broker changed state \S+ -> UP")


@dataclass
class _Down:
    since: float
    hidden: int = 0


class BrokerStateFilter(logging.Filter):
    """Collapses librdkafka's repeated connection errors to one line per state change (down/back)."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        super().__init__()
        self._log = log  # where the state lines go (default: the record's own logger)
        self._down: dict[str, _Down] = {}
        self._lock = threading.Lock()  # librdkafka logs from its threads and from poll()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        match = _BROKER.search(message) or _COORDINATOR.search(message)
        address = match.group("address") if match else ""
        if record.levelno < logging.INFO:
            if match and _UP.search(match.group("text")):
                self._up(address, record)
            return False  # debug=broker chatter: read, never shown
        if record.levelno < logging.WARNING:
            return "Disconnected" not in message  # an idle or closing connection: the next failure says more
        with self._lock:
            if not address and self._down:  # e.g. "1/1 brokers are down" while one is known down
                next(iter(self._down.values())).hidden += 1
                return False
            down = self._down.get(address)
            if down is not None:
                down.hidden += 1
                return False
            if not match or ("Connect" not in message and "Disconnected" not in message):
                return True  # an error of another kind: shown as it is
            self._down[address] = _Down(time.monotonic())
        reason = match.group("text")
        self._emit(record, logging.WARNING, "Kafka broker %s unreachable: %s", address, reason)
        return False

    def _up(self, address: str, record: logging.LogRecord) -> None:
        with self._lock:
            down = self._down.pop(address, None)
        if down is not None:
            seconds = time.monotonic() - down.since
            self._emit(
                record,
                logging.INFO,
                "Kafka broker %s reachable again after %.1f s (%d errors not shown)",
                address,
                seconds,
                down.hidden,
            )

    def _emit(self, record: logging.LogRecord, level: int, message: str, *args: object) -> None:
        log = self._log or logging.getLogger(record.name)
        # Bypass this filter (a state line must not be collapsed by itself): call the handlers.
        line = log.makeRecord(log.name, level, record.pathname, record.lineno, message, args, None)
        logger: logging.Logger | None = log
        while logger is not None:
            for handler in logger.handlers:
                if line.levelno >= handler.level:
                    handler.handle(line)
            logger = logger.parent if logger.propagate else None

    @property
    def down(self) -> list[str]:
        """Broker addresses that are unreachable right now (as far as the log says)."""
        with self._lock:
            return sorted(self._down)


def install(log: logging.Logger) -> BrokerStateFilter:
    """Put one :class:`BrokerStateFilter` on ``log`` (idempotent) and let its DEBUG lines reach it."""
    for existing in log.filters:
        if isinstance(existing, BrokerStateFilter):
            return existing
    state = BrokerStateFilter(log)
    log.addFilter(state)
    log.setLevel(logging.DEBUG)  # the filter sees the state lines, then drops every DEBUG line
    return state
