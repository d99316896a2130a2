"""The console of a Kafka run (a process per instance) reads every instance process: counts, model-serving
metrics, lag per partition. About 2-4 minutes (a broker, a training, nine instance processes)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from console_run import RunWithConsole

from inferstream.runtime.lookup import find_blueprint
from inferstream.transports.kafka import BOOTSTRAP_ENV

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


def _view(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "api/view", timeout=5) as response:
        return dict(json.loads(response.read()))


def test_a_kafka_runs_console_gathers_every_instance_process(
    fraud_model_base: Path, repo_root: Path, tmp_path: Path, bootstrap: str
) -> None:
    app = f"console-{uuid.uuid4().hex[:8]}"
    blueprint = tmp_path / f"{app}.yaml"
    source = find_blueprint("fraud-embedded").read_text()
    blueprint.write_text(source.replace("name: fraud-embedded\n", f"name: {app}\n"))
    conf = {
        "model-serving.model-path": str(fraud_model_base / "fraud" / "1"),
        "fraud-decider.threshold-from": str(fraud_model_base / "fraud"),
        "card-ingress.data": str(repo_root / "data/creditcard-sample.csv"),
        "card-ingress.rate": "300",
        "fraud-console.lines-per-second": "0",
        "error-console.lines-per-second": "0",
    }
    args = [str(blueprint), "--transport", "kafka", "--for", "40s", "--scale", "model-serving=2",
            *[a for k, v in conf.items() for a in ("--conf", f"{k}={v}")]]
    os.environ[BOOTSTRAP_ENV] = bootstrap
    try:
        run = RunWithConsole(args, tmp_path / "run.log")
    finally:
        os.environ.pop(BOOTSTRAP_ENV, None)
    try:
        # instance processes take a while to start on a loaded machine (~70 s seen on 2 busy cores)
        deadline, view = time.monotonic() + 240, _view(run.url)
        while time.monotonic() < deadline:
            view = _view(run.url)
            if not view:  # no view collected yet
                time.sleep(1)
                continue
            serving = view["serving"].get("model-serving", {})
            decided = view["streamlets"]["fraud-decider"]["records_out"]
            if decided > 100 and len(serving.get("state", [])) == 2:
                break
            time.sleep(1)
        assert view["transport"] == "kafka"
        assert view["streamlets"]["model-serving"]["instances_running"] == 2  # both processes report
        assert len(view["streamlets"]["model-serving"]["state_urls"]) == 2
        serving = view["serving"]["model-serving"]
        assert serving["calls"] > 0 and len(serving["state"]) == 2
        partitions = {(lag["topic"], lag["partition"]) for lag in view["lags"]}
        assert (f"{app}.card-ingress.out", 1) in partitions  # per partition, from the broker
        assert run.wait(timeout=300) == 0, run.log.read_text()[-3000:]
    finally:
        run.stop()
