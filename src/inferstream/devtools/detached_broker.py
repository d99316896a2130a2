"""A local Kafka broker that outlives the process that started it, for scripts and people.

``inferstream kafka start|status|stop`` and ``scripts/kafka/*.sh`` use it; its state (pid, ports,
data folder) is kept in ``.cache/kafka/run/broker.json``. Command line::

    python -m inferstream.devtools.detached_broker install
    python -m inferstream.devtools.detached_broker start [--port N] [--data-dir DIR]   # detaches
    python -m inferstream.devtools.detached_broker stop
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from inferstream.devtools.kafka_broker import KafkaBroker, pid_alive, start_broker
from inferstream.devtools.kafka_install import KafkaBrokerError, install_kafka, kafka_home


def _state_file() -> Path:
    return kafka_home() / "run" / "broker.json"


def detached_broker() -> dict[str, Any] | None:
    """What ``start_detached`` recorded about a broker that is still running, else ``None``."""
    state = _state_file()
    if not state.is_file():
        return None
    known: dict[str, Any] = json.loads(state.read_text())
    return known if pid_alive(int(known["pid"])) else None


def start_detached(port: int = 0, data_dir: Path | None = None, heap: str = "512m") -> dict[str, Any]:
    """Start a broker that outlives this process (or find the running one); returns its record
    (``pid``, ``bootstrap_servers``, ``port``, ``controller_port``, ``data_dir``). Data is kept in
    ``.cache/kafka/run/data`` across starts unless ``data_dir`` says otherwise."""
    known = detached_broker()
    if known is not None:
        return known
    broker = start_broker(
        data_dir=data_dir or kafka_home() / "run" / "data", port=port, heap=heap, outlive_parent=True
    )
    record = {
        "pid": broker.pid, "bootstrap_servers": broker.bootstrap_servers, "port": broker.port,
        "controller_port": broker.controller_port, "data_dir": str(broker.data_dir),
    }
    _state_file().parent.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(json.dumps(record))
    return record


def stop_detached(timeout: float = 30.0, purge: bool = False) -> bool:
    """Stop the broker ``start_detached`` started; ``False`` if none was recorded."""
    state = _state_file()
    if not state.is_file():
        return False
    known = json.loads(state.read_text())
    broker = KafkaBroker(
        port=int(known["port"]), controller_port=int(known["controller_port"]),
        data_dir=Path(known["data_dir"]), process=None, pid=int(known["pid"]),
    )
    broker.stop(timeout=timeout)
    if purge:
        shutil.rmtree(broker.data_dir, ignore_errors=True)
    state.unlink()
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inferstream.devtools.detached_broker",
                                     description="Install, start and stop a local Apache Kafka broker.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("install", help="copy the broker's jars from Maven Central (skipped when present)")
    start = verbs.add_parser("start", help="start a detached broker and print its bootstrap servers")
    start.add_argument("--port", type=int, default=0, help="listener port (default: a free one)")
    start.add_argument("--data-dir", help="data directory (default .cache/kafka/run/data; kept)")
    start.add_argument("--heap", default="512m", help="JVM max heap (default 512m)")
    stop = verbs.add_parser("stop", help="stop the detached broker")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    stop.add_argument("--purge", action="store_true", help="also delete the broker's data directory")
    args = parser.parse_args(argv)
    try:
        if args.verb == "install":
            print(install_kafka())
            return 0
        if args.verb == "start":
            data_dir = Path(args.data_dir) if args.data_dir else None
            print(start_detached(args.port, data_dir, args.heap)["bootstrap_servers"])
            return 0
        if not stop_detached(args.timeout, args.purge):
            print("no detached Kafka broker is recorded; nothing to stop", file=sys.stderr)
        return 0
    except KafkaBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

