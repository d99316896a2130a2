import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from runtime.helpers import NUMBERS
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app
from inferstream.runtime.processes import READY_MARKER


def test_run_writes_the_summary_json_and_exits_zero(tmp_path: Path) -> None:
    _register_verbs()
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(NUMBERS.format(instances=2))
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    args = ["run", str(blueprint), "--records", "1000", "--summary-json", str(summary), "--no-progress"]
    args += ["--conf", f"sink.output-file={out}", "--scale", "double=3", "--conf", "double.factor=3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(summary.read_text())
    assert data["ok"] is True and data["transport"] == "memory"
    assert data["streamlets"]["double"]["instances"] == 3
    assert data["streamlets"]["sink"]["inlets"]["in"]["records"] == 1000
    numbers = sorted(json.loads(line)["n"] for line in out.read_text().splitlines())
    assert numbers == [3 * n for n in range(1000)]


def test_run_refuses_a_broken_blueprint_with_exit_code_2(tmp_path: Path) -> None:
    _register_verbs()
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(NUMBERS.format(instances=1).replace("double.out:", "double.outt:"))
    result = CliRunner().invoke(app, ["run", str(blueprint), "--records", "10"])
    assert result.exit_code == 2
    assert "unknown outlet double.outt" in result.output


def test_sigterm_drains_commits_and_exits_cleanly(tmp_path: Path) -> None:
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(NUMBERS.format(instances=2))
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    command = [sys.executable, "-m", "inferstream.cli.main", "run", str(blueprint), "--no-progress"]
    command += [
        "--summary-json",
        str(summary),
        "--conf",
        f"sink.output-file={out}",
        "--conf",
        "source.rate=3000",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size == 0):
            time.sleep(0.1)  # wait until records flow end to end
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    data = json.loads(summary.read_text())
    emitted = data["streamlets"]["source"]["records_out"]
    numbers = sorted(json.loads(line)["n"] for line in out.read_text().splitlines())
    assert emitted > 0 and numbers == [2 * n for n in range(emitted)]  # nothing in flight was lost


def test_the_control_endpoint_serves_stats_and_scales_a_running_pipeline(tmp_path: Path) -> None:
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(NUMBERS.format(instances=1))
    summary = tmp_path / "summary.json"
    command = [sys.executable, "-m", "inferstream.cli.main", "run", str(blueprint), "--no-progress"]
    command += ["--summary-json", str(summary), "--conf", "source.rate=3000", "--control-port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        url, line = "", ""
        for _ in range(50):
            line = process.stdout.readline()
            if line.startswith("control endpoint: "):
                url = line.split()[2]
                break
        assert url.startswith("http://127.0.0.1:"), line

        def call(method: str, path: str) -> Any:
            request = urllib.request.Request(url + path, method=method)
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        def streamlets() -> Any:
            return call("GET", "/stats")["streamlets"]

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not streamlets().get("sink", {}).get("records_in"):
            time.sleep(0.1)
        assert call("POST", "/scale?streamlet=double&instances=2") == {"streamlet": "double", "instances": 2}
        while time.monotonic() < deadline and streamlets()["double"]["instances"] < 2:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    data = json.loads(summary.read_text())
    assert data["streamlets"]["double"]["instances"] == 2
    assert data["streamlets"]["sink"]["records_in"] >= data["streamlets"]["source"]["records_out"] > 0


def test_one_instance_per_process_mode_reports_ready_and_runs_only_that_instance(tmp_path: Path) -> None:
    _register_verbs()
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(NUMBERS.format(instances=3))
    summary = tmp_path / "summary.json"
    args = ["run", str(blueprint), "--instance", "source:0", "--no-drain", "--records", "300"]
    result = CliRunner().invoke(app, [*args, "--summary-json", str(summary), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert READY_MARKER in result.output
    data = json.loads(summary.read_text())
    assert [(i["streamlet"], i["instance"]) for i in data["instances"]] == [("source", 0)]
    assert data["streamlets"]["source"]["records_out"] == 300
    result = CliRunner().invoke(app, ["run", str(blueprint), "--instance", "double:3"])
    assert result.exit_code == 2
    assert "double:3 is not an instance of numbers" in result.output
