"""One record's whole path in a real Jaeger: the fraud pipeline against `inferstream serve`, 100% sampled.

Memory transport (one process) and Kafka (a process per instance): the trace of a record holds the
ingress, model-serving (process, batch wait, model call), the server (Predict, decode, queue wait,
model run), the decider and an egress, each span the child of the one before. About 30 s (memory)
and 60 s (Kafka) on an idle 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.training import train_fraud
from inferstream.cli.serve_process import serve_in_subprocess
from inferstream.devtools.jaeger import Jaeger
from inferstream.runtime.lookup import find_blueprint
from inferstream.transports.kafka import BOOTSTRAP_ENV

pytestmark = pytest.mark.slow
LAUNCH = "from inferstream.cli.main import main; main()"
PREDICT = "tensorflow.serving.PredictionService/Predict"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    root = tmp_path_factory.mktemp("traced-models")
    train_fraud(load_transactions(repo_root / "data/creditcard-sample.csv"), root)
    return root


@pytest.fixture(scope="module")
def traced_server(models: Path, jaeger: Jaeger) -> Iterator[str]:
    """`inferstream serve` exporting its spans to Jaeger (standard OTEL_* variables)."""
    saved = {k: os.environ.get(k) for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME")}
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{jaeger.otlp_grpc}"
    os.environ["OTEL_SERVICE_NAME"] = "traced-serve"
    try:
        with serve_in_subprocess({"fraud": models / "fraud"}) as served:
            yield served.grpc_target
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _blueprint(tmp_path: Path) -> tuple[Path, str]:
    """fraud-grpc under a new app name: fresh topics and groups on the session's broker."""
    app = f"traced-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{app}.yaml"
    path.write_text(find_blueprint("fraud-grpc").read_text().replace("name: fraud-grpc\n", f"name: {app}\n"))
    return path, app


def _run(blueprint: Path, target: str, models: Path, jaeger: Jaeger, repo_root: Path, transport: str,
         env: dict[str, str]) -> None:
    conf = {
        "model-serving.target": target,
        "card-ingress.data": str(repo_root / "data/creditcard-sample.csv"),
        "card-ingress.rate": "200",
        "fraud-decider.threshold-from": str(models / "fraud"),
        "fraud-console.lines-per-second": "0",
        "error-console.lines-per-second": "0",
    }
    command = [sys.executable, "-c", LAUNCH, "run", str(blueprint), "--transport", transport,
               "--records", "40", "--trace-ratio", "1.0", "--otlp-endpoint", jaeger.otlp_grpc,
               "--no-progress"]
    command += [a for k, v in conf.items() for a in ("--conf", f"{k}={v}")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240,
                          env={**os.environ, **env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "tracing to" in done.stdout


def _whole_trace(jaeger: Jaeger, service: str) -> dict[str, Any]:
    """A trace of ``service`` holding every stage, waiting for the exporters' last batches."""
    wanted = {"card-ingress produce", "model-serving process", "batch wait", "model call", PREDICT, "decode",
              "queue wait", "model run", "fraud-decider process"}
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        for trace in jaeger.traces(service, limit=100):
            names = {s["operationName"] for s in trace["spans"]}
            seen = sorted(names)
            egress = names & {"normal-counter process", "fraud-counter process"}
            if wanted <= names and egress:
                return trace
        time.sleep(0.5)
    raise AssertionError(f"no whole trace for {service}; the last one had {seen}")


def _check_parents(trace: dict[str, Any]) -> None:
    spans = {s["spanID"]: s for s in trace["spans"]}

    def parent(span: dict[str, Any]) -> str:
        refs = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        return spans[refs[0]["spanID"]]["operationName"] if refs and refs[0]["spanID"] in spans else ""

    def one(name: str) -> dict[str, Any]:
        return next(s for s in spans.values() if s["operationName"] == name)

    assert parent(one("card-ingress produce")) == ""  # the root: the ingress decided to sample
    assert parent(one("model-serving process")) == "card-ingress produce"
    assert parent(one("batch wait")) == "model-serving process"
    call = one("model call")
    assert parent(call) == "model-serving process"
    predict = one(PREDICT)
    assert parent(predict) == "model call"
    assert trace["processes"][predict["processID"]]["serviceName"] == "traced-serve"
    for name in ("decode", "queue wait", "model run"):
        assert parent(one(name)) == PREDICT, name
    assert parent(one("fraud-decider process")) == "model-serving process"
    egresses = ("normal-counter process", "fraud-counter process")
    egress = [s for s in spans.values() if s["operationName"] in egresses]
    assert all(parent(s) == "fraud-decider process" for s in egress)
    tags = {t["key"]: t["value"] for t in call["tags"]}
    assert tags["inferstream.records"] >= tags["inferstream.sampled_records"] >= 1


def test_memory_transport_carries_one_records_trace_through_every_stage_and_the_server(
    jaeger: Jaeger, traced_server: str, models: Path, repo_root: Path, tmp_path: Path
) -> None:
    blueprint, app = _blueprint(tmp_path)
    _run(blueprint, traced_server, models, jaeger, repo_root, "memory", {})
    _check_parents(_whole_trace(jaeger, app))


@pytest.mark.kafka
def test_kafka_headers_carry_one_records_trace_across_instance_processes(
    jaeger: Jaeger, traced_server: str, models: Path, repo_root: Path, tmp_path: Path, bootstrap: str
) -> None:
    blueprint, app = _blueprint(tmp_path)
    _run(blueprint, traced_server, models, jaeger, repo_root, "kafka", {BOOTSTRAP_ENV: bootstrap})
    trace = _whole_trace(jaeger, f"{app}/card-ingress")
    _check_parents(trace)
    services = {p["serviceName"] for p in trace["processes"].values()}
    assert {f"{app}/card-ingress", f"{app}/model-serving", f"{app}/fraud-decider", "traced-serve"} <= services
