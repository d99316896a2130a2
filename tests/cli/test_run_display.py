"""``inferstream run``'s live table says per streamlet what it does now, e.g. "waiting for model server".

The fast tests render the table to text. The slow ones run the CLI as a subprocess on a forced terminal
(TTY_COMPATIBLE/TTY_INTERACTIVE, COLUMNS) against a model server port nothing listens on, on the memory
transport (in-process instances) and on Kafka (instance processes, read over their /state): the display
shows the status with how long and how many records are held; then a real ``inferstream serve`` comes up
on that port and every record is scored, with 0 error records.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from inferstream.cli.run_display import instance_status, live_table
from inferstream.devtools.kafka_broker import free_port
from inferstream.runtime.run_stats import PipelineStats
from inferstream.serving.outage import WAITING_STATUS
from inferstream.transports.kafka import BOOTSTRAP_ENV

RECORDS = 300
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


def _render(stats: PipelineStats, states: dict[tuple[str, int], dict[str, Any]]) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(live_table(stats, states))
    return console.export_text()


def _stats(instances: dict[str, int]) -> PipelineStats:
    stats = PipelineStats("display")
    for name, count in instances.items():
        for index in range(count):
            stats.instance(name, index)
    return stats


def _row(text: str, streamlet: str) -> str:
    return next(line for line in text.splitlines() if f" {streamlet} " in line)


def test_the_live_table_says_which_streamlet_waits_for_its_model_server_and_for_how_long() -> None:
    stats = _stats({"model-serving": 1, "fraud-decider": 1})
    waiting = {"status": WAITING_STATUS, "waiting_records": 1340, "waiting_seconds": 12.4, "name": "fraud"}
    text = _render(stats, {("model-serving", 0): waiting, ("fraud-decider", 0): {"name": "x"}})
    assert "status" in text.splitlines()[2]  # the column header
    assert "waiting for model server (12 s, 1,340 records held)" in _row(text, "model-serving")
    assert _row(text, "fraud-decider").rstrip(" │").endswith("running")
    # the server answers again: /state drops the status
    text = _render(stats, {("model-serving", 0): {"name": "fraud"}})
    assert _row(text, "model-serving").rstrip(" │").endswith("running")


def test_several_instances_are_named_and_failed_or_restarted_ones_say_so() -> None:
    stats = _stats({"model-serving": 3, "fraud-decider": 1})
    stats.instance("model-serving", 2).failure = "killed by SIGKILL"
    stats.instance("fraud-decider", 0).restarted_after = ["killed by SIGKILL"]
    waiting = {"status": WAITING_STATUS, "waiting_records": 7, "waiting_seconds": 3.0}
    text = _render(stats, {("model-serving", 1): waiting})
    assert "#1: waiting for model server (3 s, 7 records held); #2: failed" in _row(text, "model-serving")
    assert "restarted 1 x" in _row(text, "fraud-decider")
    assert instance_status({"status": "running"}) is None and instance_status({}) is None


# -- the CLI on a forced terminal, through a real outage ---------------------------------------------


def _blueprint(folder: Path, repo_root: Path, grpc_port: int) -> Path:
    app = f"display-{uuid.uuid4().hex[:8]}"  # fresh topics and groups on the session's broker
    counter = {
        "class": "inferstream.apps.common.egress:CountingEgress",
        "config": {"key-input": "transaction"},
    }
    streamlets: dict[str, Any] = {
        "card-ingress": {"class": "inferstream.apps.fraud.ingress:CardIngress",
                         "config": {"data": str(repo_root / "data/creditcard-sample.csv"),
                                    "frequency": "0 ms", "loop": False}},
        "model-serving": {"class": "inferstream.serving:ModelServing",
                          "config": {"protocol": "tfserving", "transport": "grpc", "model": "seed-fraud",
                                     "target": f"127.0.0.1:{grpc_port}", "backoff-max": "1 second"}},
        "fraud-decider": {"class": "inferstream.apps.fraud.decider:FraudDecider",
                          "config": {"threshold": 4.0}},
        **{f"{outcome}-counter": counter for outcome in ("normal", "fraud", "error")},
    }  # fmt: skip
    connections = {
        "card-ingress.out": ["model-serving.in"],
        "model-serving.out": ["fraud-decider.in"],
        **{f"fraud-decider.{o}": [f"{o}-counter.in"] for o in ("normal", "fraud", "error")},
    }
    path = folder / f"{app}.yaml"
    path.write_text(yaml.safe_dump({"name": app, "streamlets": streamlets, "connections": connections}))
    return path


def _frames(output: Path) -> str:
    return ANSI.sub("", output.read_text(errors="replace")) if output.exists() else ""


def _waiting_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if " model-serving " in line and WAITING_STATUS in line]


def _until(condition: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen[bytes],
           output: Path) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(
                f"the run exited ({process.returncode}) before {what}:\n{_frames(output)[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{_frames(output)[-4000:]}")
        time.sleep(0.2)


class _Server:
    """``inferstream serve`` on ports chosen before it starts (the run already targets them)."""

    def __init__(self, repo_root: Path, log: Path) -> None:
        self.rest_port, self.grpc_port = free_port(), free_port()
        self.repo_root, self.log = repo_root, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        ready = self.log.with_suffix(".ready.json")
        model = self.repo_root / "tests/assets/models/seed-fraud"
        command = [sys.executable, "-m", "inferstream.cli.main", "serve", "--port", str(self.rest_port),
                   "--grpc-port", str(self.grpc_port), "--model", f"seed-fraud={model}",
                   "--ready-file", str(ready)]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"inferstream serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def late_server(repo_root: Path, tmp_path: Path) -> Iterator[_Server]:
    server = _Server(repo_root, tmp_path / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def _run_through_an_outage(
    transport: str, server: _Server, repo_root: Path, tmp_path: Path, env: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """Start the run with the server down, see the display say so, start the server, wait for the end."""
    blueprint = _blueprint(tmp_path, repo_root, server.grpc_port)
    summary, output = tmp_path / "summary.json", tmp_path / "run.out"
    command = [sys.executable, "-m", "inferstream.cli.main", "run", str(blueprint), "--transport", transport,
               "--no-preflight", "--records", str(RECORDS), "--summary-json", str(summary),
               "--drain-timeout", "60s"]  # fmt: skip
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "220", "LINES": "60"}
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **terminal, **env})  # fmt: skip
    try:
        held = re.compile(r"waiting for model server \(\d+ s, [\d,]+ records held\)")
        _until(lambda: any(held.search(r) for r in _waiting_rows(_frames(output))), 90,
               "the display showing model-serving waiting for its server", process, output)  # fmt: skip
        server.start()
        _until(lambda: summary.exists(), 60, "the run's end", process, output)
        process.wait(15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == 0, _frames(output)[-4000:]
    return json.loads(summary.read_text()), _frames(output)


def _assert_every_record_scored_without_an_error(summary: dict[str, Any], text: str) -> None:
    counted = {o: summary["streamlets"][f"{o}-counter"]["records_in"] for o in ("normal", "fraud", "error")}
    assert counted["error"] == 0, counted
    assert counted["normal"] + counted["fraud"] == RECORDS, counted
    assert summary["streamlets"]["model-serving"].get("error_results", 0) == 0
    waiting = _waiting_rows(text)
    assert waiting, text[-3000:]
    live_rows = [line for line in text.splitlines() if " model-serving " in line and line.count("│") == 9]
    assert live_rows[-1].rstrip(" │").endswith("running"), live_rows[-1]  # the outage is over, it says


@pytest.mark.slow
def test_memory_run_shows_waiting_for_model_server_then_scores_every_record(
    late_server: _Server, repo_root: Path, tmp_path: Path
) -> None:
    summary, text = _run_through_an_outage("memory", late_server, repo_root, tmp_path, {})
    _assert_every_record_scored_without_an_error(summary, text)


@pytest.mark.slow
@pytest.mark.kafka
def test_kafka_run_shows_waiting_for_model_server_then_scores_every_record(
    late_server: _Server, repo_root: Path, tmp_path: Path, bootstrap: str
) -> None:
    env = {BOOTSTRAP_ENV: bootstrap}
    summary, text = _run_through_an_outage("kafka", late_server, repo_root, tmp_path, env)
    _assert_every_record_scored_without_an_error(summary, text)
