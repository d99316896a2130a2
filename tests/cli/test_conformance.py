"""``inferstream conformance``: table and exit codes against the built-in server (about 15 s with the
session's server up; its start-up adds ~10 s)."""

from __future__ import annotations

import json
import subprocess
import sys

from executors.conftest import RunningServer


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstream.cli.main", "conformance", *args],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_table_and_exit_zero(builtin_server: RunningServer) -> None:
    done = conformance(builtin_server.rest, "--protocol", "v2", "--model", "fraud")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "malformed body → 4xx" in done.stdout and "conforms" in done.stdout


def test_json_and_exit_one_when_a_required_check_fails(builtin_server: RunningServer) -> None:
    done = conformance(builtin_server.grpc, "--protocol", "tfserving", "--transport", "grpc",
                       "--model", "absent", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    failed = {c["name"] for c in report["checks"] if c["status"] == "fail"}
    assert "model ready" in failed and "NOT_FOUND" in next(
        c["reason"] for c in report["checks"] if c["name"] == "model ready")


def test_usage_errors_exit_two() -> None:
    done = conformance("http://127.0.0.1:1", "--protocol", "v2", "--model", "m", "--input", "x:FLOAT:2")
    assert done.returncode == 2 and "datatype" in done.stderr
    done = conformance("127.0.0.1:1", "--protocol", "seldon", "--transport", "grpc")
    assert done.returncode == 2 and "rest only" in done.stderr
