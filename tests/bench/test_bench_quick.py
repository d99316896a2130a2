"""``inferstream bench --quick`` on a tiny run: real broker, real model servers, real pipelines.

It must write the table, the three charts and results.json, and its counts must add up: every
record produced to the input reaches exactly one outlet (normal, fraud or error).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inferstream.bench.report import CHARTS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.kafka
@pytest.mark.slow
def test_quick_run_writes_table_charts_and_counts_add_up(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "bench"
    command = [sys.executable, "-c", "from inferstream.cli.main import main; main()", "bench", "--quick"]
    command += ["--seconds", "3", "--latency-seconds", "2", "--out", str(out)]
    stdout, returncode = _run_stopping_all(command, repo_root, timeout=540)
    assert returncode == 0, stdout[-6000:]

    results = json.loads((out / "results.json").read_text())
    table = (out / "table.md").read_text()
    for chart in CHARTS:
        assert (out / chart).read_bytes()[:8] == PNG_MAGIC, chart
    assert results["machine"]["cores"] >= 1 and results["machine"]["cpu_model"]
    measured = [m for m in results["modes"] if m["available"]]
    assert measured, f"no mode could run: {[m['reason'] for m in results['modes']]}"
    for mode in results["modes"]:
        assert mode["mode"] in table
    for mode in measured:
        assert mode["records_in"] > 0, mode["mode"]
        assert sum(mode["outlets"].values()) == mode["records_out"], mode["mode"]
        assert mode["counts_add_up"], (
            mode["mode"],
            mode["records_in"],
            mode["records_out"],
            mode["duplicates"],
        )
        assert mode["sustained_rps"] and mode["sustained_rps"] > 0, mode["mode"]
        assert mode["latency_ms"]["p99"] is not None, mode["mode"]
        assert mode["cpu_seconds"], mode["mode"]
    traced = [m for m in measured if m["mode"].startswith("inferstream") and m["breakdown"].get("rows")]
    assert traced, "no stage timings were traced in any inferstream mode"
    assert (out / "latency_breakdown.png").read_bytes()[:8] == PNG_MAGIC


def _run_stopping_all(command: list[str], cwd: Path, timeout: float) -> tuple[str, int]:
    """Run the CLI in its own process group; on timeout stop the group (servers, pipelines, broker)."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            stdout, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, _ = process.communicate()
        raise AssertionError(
            f"inferstream bench --quick ran over {timeout:.0f} s:\n{stdout[-6000:]}"
        ) from None
    return stdout, process.returncode
