"""``inferstream kafka start|status|stop``: a detached broker that outlives the command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app
from inferstream.devtools.detached_broker import stop_detached
from inferstream.devtools.kafka_install import KAFKA_HOME_ENV, KAFKA_LIBS_ENV, kafka_libs_dir

pytestmark = pytest.mark.kafka  # needs the session's Kafka broker (tests/conftest.py)


def test_start_status_stop_a_detached_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its own home: a developer's own detached broker (.cache/kafka/run) is never touched.
    monkeypatch.setenv(KAFKA_LIBS_ENV, str(kafka_libs_dir()))
    monkeypatch.setenv(KAFKA_HOME_ENV, str(tmp_path))
    _register_verbs()
    cli = CliRunner()
    assert cli.invoke(app, ["kafka", "status"]).exit_code == 1
    try:
        started = cli.invoke(app, ["kafka", "start", "--heap", "384m"])
        assert started.exit_code == 0, started.output
        status = cli.invoke(app, ["kafka", "status"])
        assert status.exit_code == 0
        bootstrap = status.output.split("Kafka broker on ")[1].split()[0]
        assert bootstrap.startswith("127.0.0.1:") and bootstrap in started.output
        meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
        assert meta.brokers  # a real broker answers
        again = cli.invoke(app, ["kafka", "start"])  # already running: shows it, starts no second one
        assert again.exit_code == 0 and bootstrap in again.output
        pid = int(status.output.split("pid ")[1].split(")")[0])
        stopped = cli.invoke(app, ["kafka", "stop", "--purge"])
        assert stopped.exit_code == 0 and "stopped" in stopped.output
        assert not _running(pid)
        assert not (tmp_path / "run" / "data").exists()
        assert cli.invoke(app, ["kafka", "status"]).exit_code == 1
    finally:
        stop_detached(timeout=10, purge=True)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child that nobody reaped yet is not running)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"
