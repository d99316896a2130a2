"""When something is missing, the user knows at once (issue 21): verify, pre-flight, serve's ports.

Every case runs the CLI as a user does and checks the message, the exit code and that no
traceback reaches the terminal. Budget: ~60 s on an idle machine (the model server loads twice).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from operations_helpers import Served, free_port, inferstream, make_project, serving


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("ops-project"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Served]:
    with serving(project) as served:
        yield served


def test_verify_refuses_what_run_would_refuse(project: Path) -> None:
    done = inferstream(
        "verify",
        "fraud-grpc",
        "--conf",
        "model-serving.target=",
        "--conf",
        "model-serving.headers=abc",
        "--conf",
        "fraud-decider.threshold=-1",
        cwd=project,
    )
    assert done.code == 1, done.out
    assert "Traceback" not in done.out
    lines = [line for line in done.out.splitlines() if line.startswith("error")]
    assert any("model-serving.config.target" in line and "host:port" in line for line in lines), done.out
    assert any("model-serving.config.headers" in line and "'abc' is not key=value" in line for line in lines)
    assert any("fraud-decider.config.threshold" in line and "below the minimum 0" in line for line in lines)


def test_verify_accepts_the_packaged_blueprint(project: Path) -> None:
    done = inferstream("verify", "fraud-grpc", cwd=project)
    assert done.code == 0, done.out
    assert done.out.startswith("ok: fraud-grpc")


@pytest.mark.slow
def test_run_without_a_broker_says_where_and_what_to_do(project: Path) -> None:
    closed = free_port()
    done = inferstream(
        "run",
        "fraud-grpc",
        "--transport",
        "kafka",
        "--for",
        "5s",
        "--conf",
        f"transports.kafka.bootstrap-servers=127.0.0.1:{closed}",
        cwd=project,
        timeout=120,
    )
    assert done.code == 2, done.out
    assert "Traceback" not in done.out
    assert f"127.0.0.1:{closed}" in done.out and "inferstream kafka start" in done.out, done.out
    assert done.seconds < 30, f"took {done.seconds:.0f} s to say the broker is missing"
    assert len(done.out.strip().splitlines()) <= 3, done.out


@pytest.mark.slow
def test_run_without_a_model_server_stops_before_the_first_record(project: Path) -> None:
    closed = free_port()
    done = inferstream(
        "run",
        "fraud-grpc",
        "--records",
        "100",
        "--conf",
        f"model-serving.target=127.0.0.1:{closed}",
        cwd=project,
        timeout=120,
    )
    assert done.code == 2, done.out
    assert "Traceback" not in done.out
    assert "pre-flight" in done.out and f"127.0.0.1:{closed}" in done.out and "--no-preflight" in done.out


@pytest.mark.slow
def test_run_with_a_model_the_server_lacks_stops_before_the_first_record(
    project: Path, server: Served
) -> None:
    done = inferstream(
        "run",
        "fraud-grpc",
        "--records",
        "100",
        "--conf",
        f"model-serving.target={server.grpc_target}",
        "--conf",
        "model-serving.model=nosuch",
        cwd=project,
        timeout=120,
    )
    assert done.code == 2, done.out
    assert "pre-flight" in done.out and "'nosuch'" in done.out, done.out


@pytest.mark.slow
@pytest.mark.parametrize("which", ["rest", "grpc"])
def test_serve_says_which_port_is_taken(project: Path, which: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = (
            ["--port", str(port), "--grpc-port", "0"]
            if which == "rest"
            else ["--port", "0", "--grpc-port", str(port)]
        )
        done = inferstream("serve", "--model", "fraud=models/fraud", *ports, cwd=project, timeout=120)
    assert done.code == 2, done.out
    assert "Traceback" not in done.out
    shown = [line for line in done.out.splitlines() if str(port) in line]
    assert shown and "--port" in done.out and "--grpc-port" in done.out, done.out
