"""``inferstream scale APP STREAMLET N`` against a local ``inferstream run --transport kafka --control-port``:
instance processes come and go live while tagged records flow, and none is lost (issue 20, part 3).

Budget: one run of ~40 s of records on the session's real broker (≈ 2 min on the loaded 2-core machine).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from inferstream.transports.kafka import BOOTSTRAP_ENV

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COUNT, RATE = 12000, 300  # ≈ 40 s of records: room for 1 → 3 → 1 while they flow
LAUNCH = "from inferstream.cli.main import main; main()"
FAST_GROUP = [
    "--conf", "transports.kafka.consumer.session.timeout.ms=6000",
    "--conf", "transports.kafka.consumer.heartbeat.interval.ms=500",
]


def _blueprint(folder: Path, output: Path) -> tuple[str, Path]:
    app = f"numbers-scale-{uuid.uuid4().hex[:8]}"  # unique topics and groups on the shared broker
    path = folder / "numbers-scale.yaml"
    path.write_text(
        f"""name: {app}
streamlets:
  source:
    class: inferstream.apps.examples:NumberedIngress
    config: {{count: {COUNT}, batch-size: 25, rate: {RATE}, keys: 12}}
  double: inferstream.apps.examples:Doubler
  sink:
    class: inferstream.apps.examples:CollectingEgress
    config: {{output-file: "{output}"}}
connections:
  source.out: [double.in]
  double.out: [sink.in]
topic-defaults: {{partitions: 3}}
"""
    )
    return app, path


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _numbers(path: Path) -> list[int]:
    if not path.is_file():
        return []
    return [int(json.loads(line)["n"]) for line in path.read_text().splitlines() if line.strip()]


def _scale(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, "scale", *args], capture_output=True, text=True, timeout=120,
        env={**env, "COLUMNS": "200"},
    )


def _added_work(url: str) -> int:
    """Records the doublers added by scale (double.1, double.2) consumed so far (live GET /stats)."""
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:
        stats = json.loads(answer.read())
    added = [i for i in stats["instances"] if i["streamlet"] == "double" and i["instance"] > 0]
    return min((i["inlets"].get("in", {}).get("records", 0) for i in added), default=0)


def _doc_scales() -> list[list[str]]:
    """The ``inferstream scale`` lines of docs/runtime.md's example, as argument lists."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("inferstream scale ")]
    return [line.split("#")[0].split()[2:] for line in lines]


def _members(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=20)
    return sum(1 for m in description.members if m.assignment.topic_partitions)


def test_scale_adds_and_removes_instance_processes_live_and_loses_nothing(
    bootstrap: str, tmp_path: Path
) -> None:
    output, summary_path, log = tmp_path / "out.jsonl", tmp_path / "summary.json", tmp_path / "run.log"
    app, blueprint = _blueprint(tmp_path, output)
    env = {**os.environ, BOOTSTRAP_ENV: bootstrap}
    args = [str(blueprint), "--transport", "kafka", "--control-port", "0", "--drain-timeout", "60s",
            "--summary-json", str(summary_path), "--no-progress", "--no-preflight", *FAST_GROUP]
    with log.open("wb") as out:
        run = subprocess.Popen([sys.executable, "-c", LAUNCH, "run", *args], stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                               start_new_session=True)
    try:
        found: list[str] = []

        def control_url() -> bool:
            found[:] = re.findall(r"control endpoint: (http://127\.0\.0\.1:\d+)", log.read_text())
            return bool(found) or run.poll() is not None

        _wait(control_url, 60, "the control endpoint")
        assert found, log.read_text()[-3000:]
        url = found[0]
        _wait(lambda: len(_numbers(output)) > 300, 60, "records through one doubler")

        too_many = _scale(app, "double", "4", "--control", url, env=env)  # 3 partitions
        assert too_many.returncode == 1 and "at most 3 instances" in too_many.stdout, too_many.stdout
        wrong_app = _scale("other-app", "double", "2", "--control", url, env=env)
        assert wrong_app.returncode == 1 and app in wrong_app.stdout, wrong_app.stdout

        up_args, down_args = _doc_scales()  # the documented commands, for this run
        assert up_args[0] == down_args[0] == "numbers-scale"
        assert up_args[3:] == down_args[3:] == ["--control", "http://127.0.0.1:8090"]
        up = _scale(app, *up_args[1:3], "--control", url, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "1 → 3 instances" in up.stdout and "double.2" in up.stdout, up.stdout
        group = f"{app}.double.in"
        _wait(lambda: _members(bootstrap, group) == 3, 30, "three doublers sharing the partitions")
        _wait(lambda: _added_work(url) > 0, 40, "records through the added doublers")

        down = _scale(app, *down_args[1:3], "--control", url, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "3 → 1 instances" in down.stdout and "running: double.0" in down.stdout, down.stdout
        assert run.wait(timeout=150) == 0, log.read_text()[-4000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    text = log.read_text()
    counts = Counter(_numbers(output))
    lost = {2 * n for n in range(COUNT)} - set(counts)
    duplicates = sum(c - 1 for c in counts.values())
    print(f"scale 1 → 3 → 1 on Kafka: {len(counts)} of {COUNT} tagged records out, 0 expected lost "
          f"({len(lost)} lost), {duplicates} duplicates (at-least-once redelivery at a rebalance)")
    assert not lost, f"{len(lost)} records lost, e.g. {sorted(lost)[:10]}"
    result = json.loads(summary_path.read_text())
    assert result["ok"] is True
    doublers = {i["instance"]: i for i in result["instances"] if i["streamlet"] == "double"}
    assert sorted(doublers) == [0, 1, 2]
    assert all(d["ended"] == "exited with code 0" for d in doublers.values()), doublers  # clean SIGTERM exits
    assert all(doublers[i]["elapsed_s"] < doublers[0]["elapsed_s"] for i in (1, 2)), "1 and 2 left early"
    assert all(doublers[i]["inlets"]["in"]["records"] > 0 for i in (1, 2)), "the added doublers did work"
    assert "[double.1] " in text and "[double.2] " in text  # their own processes
    assert result["streamlets"]["sink"]["records_in"] == sum(counts.values())
