"""A failing Kafka run tells the truth, and its failed records find their way back (issue 21).

The fraud pipeline on the session's real broker against a real ``inferstream serve``, run as a
user runs it (``inferstream run``, ``errors``, ``replay`` as subprocesses):

* every record failing (a model the server lacks, started with --no-preflight) exits 1, with
  the error results counted per streamlet in the table and the summary JSON;
* ``inferstream errors`` lists each failed record with its reason; garbage bytes written to the
  input topic are a dead letter that says so;
* ``inferstream replay --from errors`` sends each one back to model-serving once (a second
  replay sends nothing); once the cause is fixed, every failed transaction is scored exactly
  once more;
* with --no-restart, an instance killed with SIGKILL is shown with its last counts and the
  signal, and it alone is blamed; an instance failing at start (after its restarts) alone is
  blamed; no temporary folder is left.

Budget: ~3 minutes on an idle machine (four pipeline runs of 8 processes each).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from operations_helpers import Served, cli_command, inferstream, make_project, serving, stop

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RECORDS = 300

BLUEPRINT = """\
name: {name}
streamlets:
  card-ingress:
    class: inferstream.apps.fraud.ingress:CardIngress
    config: {{data: data/creditcard-sample.csv, rate: 2000, loop: {loop}}}
  model-serving:
    class: inferstream.serving:ModelServing
    config: {{protocol: tfserving, transport: grpc, target: "127.0.0.1:{grpc}", model: fraud}}
  fraud-decider:
    class: inferstream.apps.fraud.decider:FraudDecider
    config: {{threshold-from: models/fraud}}
  normal-out:
    class: inferstream.apps.common.egress:JsonLinesEgress
    config: {{path: "{out}/normal-{{instance}}.jsonl"}}
  fraud-out:
    class: inferstream.apps.common.egress:JsonLinesEgress
    config: {{path: "{out}/fraud-{{instance}}.jsonl"}}
  error-out:
    class: inferstream.apps.common.egress:JsonLinesEgress
    config: {{path: "{out}/error-{{instance}}.jsonl"}}
connections:
  card-ingress.out: [model-serving.in]
  model-serving.out: [fraud-decider.in]
  fraud-decider.normal: [normal-out.in]
  fraud-decider.fraud: [fraud-out.in]
  fraud-decider.error: [error-out.in]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("ops-kafka"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Served]:
    with serving(project) as served:
        yield served


@pytest.fixture
def env(bootstrap: str, tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return {"INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TMPDIR": str(scratch)}


def _blueprint(project: Path, grpc: int, loop: bool = False) -> tuple[Path, Path]:
    name = f"ops-{time.monotonic_ns() % 10**9}"
    out = project / name
    path = project / f"{name}.yaml"
    path.write_text(BLUEPRINT.format(name=name, grpc=grpc, out=out, loop=str(loop).lower()))
    return path, out


def _transactions(out: Path, kind: str) -> collections.Counter[tuple[float, ...]]:
    seen: collections.Counter[tuple[float, ...]] = collections.Counter()
    for file in out.glob(f"{kind}-*.jsonl"):
        for line in file.read_text().splitlines():
            seen[tuple(json.loads(line)["inputs"]["transaction"]["values"])] += 1
    return seen


def test_failed_records_are_counted_listed_and_replayed_once(
    project: Path, server: Served, env: dict[str, str], bootstrap: str
) -> None:
    blueprint, out = _blueprint(project, server.grpc)
    summary = project / f"{blueprint.stem}-1.json"
    # The cause: a model name the server does not have. Pre-flight would refuse it: start anyway.
    failing = inferstream(
        "run",
        str(blueprint),
        "--transport",
        "kafka",
        "--records",
        str(RECORDS),
        "--no-preflight",
        "--conf",
        "model-serving.model=fraud-typo",
        "--summary-json",
        str(summary),
        cwd=project,
        env=env,
        timeout=300,
    )
    assert failing.code == 1, failing.out[-4000:]
    result = json.loads(summary.read_text())
    assert result["streamlets"]["fraud-decider"]["error_results"] == RECORDS
    assert result["outcome"]["error_ratio"] == 1.0 and result["outcome"]["ok"] is False
    assert result["outcome"]["failed_instances"] == []
    assert f"{RECORDS:,} of {RECORDS:,} records failed" in failing.out
    assert "error results" in failing.out  # the table's column
    failed = _transactions(out, "error")
    assert sum(failed.values()) == RECORDS

    # Garbage written to the input topic by someone else: a dead letter that says what it is.
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(f"{blueprint.stem}.card-ingress.out", b"this is not avro at all")
    producer.flush(10)

    listed = inferstream("errors", str(blueprint), "--json", cwd=project, env=env, timeout=120)
    assert listed.code == 0, listed.out[-3000:]
    rows = [json.loads(line) for line in listed.out.splitlines() if line.startswith("{")]
    errors = [r for r in rows if r["source"] == "errors"]
    assert len(errors) == RECORDS
    assert {r["streamlet"] for r in errors} == {"model-serving"}
    assert all("fraud-typo" in r["reason"] for r in errors), errors[0]
    assert all(r["view"].startswith("transaction=[1, 29]") and r["time"] for r in errors)
    assert [r for r in rows if r["source"] == "dead-letters"] == []  # not consumed yet

    replayed = inferstream("replay", str(blueprint), "--from", "errors", cwd=project, env=env, timeout=120)
    assert replayed.code == 0, replayed.out
    assert f"replayed {RECORDS:,} record(s)" in replayed.out
    assert f"{blueprint.stem}.card-ingress.out" in replayed.out
    again = inferstream("replay", str(blueprint), "--from", "errors", cwd=project, env=env, timeout=120)
    assert again.code == 0 and "replayed 0 record(s)" in again.out, again.out

    # The cause fixed: a run with no new records scores what was replayed, each exactly once more.
    summary2 = project / f"{blueprint.stem}-2.json"
    fixed = inferstream(
        "run",
        str(blueprint),
        "--transport",
        "kafka",
        "--records",
        "0",
        "--summary-json",
        str(summary2),
        cwd=project,
        env=env,
        timeout=300,
    )
    assert fixed.code == 0, fixed.out[-4000:]
    scored = _transactions(out, "normal") + _transactions(out, "fraud")
    assert scored == failed, "every failed transaction scored exactly once more, no other"
    assert sum(_transactions(out, "error").values()) == RECORDS  # nothing new failed
    second = json.loads(summary2.read_text())
    assert second["streamlets"]["model-serving"]["dead_letters"] == 1  # the garbage
    letters = inferstream("errors", str(blueprint), "--from", "dead-letters", cwd=project, env=env)
    assert letters.code == 0, letters.out
    assert "not a SourceRequest record: 23 bytes" in letters.out and "model-serving" in letters.out
    assert "1 failed record(s)" in letters.out
    assert list(Path(env["TMPDIR"]).iterdir()) == []  # no inferstream-run-* folder




def test_a_killed_instance_shows_its_counts_and_the_signal_and_alone_is_blamed(
    project: Path, server: Served, env: dict[str, str], instance_pid: Callable[[str, str], int | None]
) -> None:
    blueprint, _ = _blueprint(project, server.grpc, loop=True)
    summary = project / f"{blueprint.stem}.json"
    run = subprocess.Popen(
        cli_command(
            "run",
            str(blueprint),
            "--transport",
            "kafka",
            "--for",
            "45s",
            "--summary-json",
            str(summary),
            "--no-restart",  # a supervised run would restart the killed instance (tests/faults)
        ),
        cwd=project,
        env={**os.environ, "COLUMNS": "250", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert run.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(run.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any(line.startswith("[card-ingress.0]") for line in list(lines)):
            assert run.poll() is None and time.monotonic() < deadline, "".join(lines)[-4000:]
            time.sleep(0.5)
        time.sleep(10)  # records flow through the decider; its process reports its counts every second
        pid = instance_pid(blueprint.stem, "fraud-decider:0")
        assert pid is not None, "the decider's process is not running"
        os.kill(pid, signal.SIGKILL)
        run.wait(timeout=180)
        reader.join(timeout=10)
    finally:
        stop(run)
    output = "".join(lines)
    assert run.returncode == 1, output[-4000:]
    result = json.loads(summary.read_text())
    (decider,) = [i for i in result["instances"] if i["streamlet"] == "fraud-decider"]
    assert decider["ended"] == "killed by SIGKILL"
    assert decider["inlets"]["in"]["records"] > 0, "last known counts of the killed instance"
    assert result["outcome"]["failed_instances"] == ["fraud-decider.0: killed by SIGKILL"]
    assert "fraud-decider.0: killed by SIGKILL" in output
    others = [i for i in result["instances"] if i["streamlet"] != "fraud-decider"]
    assert all(i["ended"].startswith("exited with code 0") for i in others), [i["ended"] for i in others]
    assert list(Path(env["TMPDIR"]).iterdir()) == []


def test_an_instance_that_fails_at_start_alone_is_blamed(
    project: Path, server: Served, env: dict[str, str]
) -> None:
    blueprint, _ = _blueprint(project, server.grpc, loop=True)
    summary = project / f"{blueprint.stem}.json"
    done = inferstream(
        "run", str(blueprint), "--transport", "kafka", "--for", "60s", "--summary-json", str(summary),
        "--conf", "fraud-decider.threshold-from=no/such/model",
        cwd=project, env=env, timeout=300,
    )  # fmt: skip
    assert done.code == 1, done.out[-4000:]
    outcome = json.loads(summary.read_text())["outcome"]
    (blamed,) = outcome["failed_instances"]  # after its restarts were used up: the run stops
    assert blamed.startswith("fraud-decider.0: exited with code 1"), outcome
    assert "no/such/model" in done.out and "inferstream train fraud" in done.out
    assert list(Path(env["TMPDIR"]).iterdir()) == []
