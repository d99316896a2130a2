"""``inferstream bench`` stopped with SIGTERM (``timeout``, ``kill``, a CI runner) stops what it started.

Python's default SIGTERM ends the process at once; the bench then orphaned its broker, model
servers and pipeline processes, which kept the machine busy after the run was gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferstream.bench.procs import children_of


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.kafka
@pytest.mark.slow
def test_sigterm_stops_the_broker_servers_and_pipeline_it_started(tmp_path: Path, repo_root: Path) -> None:
    command = [sys.executable, "-c", "from inferstream.cli.main import main; main()", "bench", "--quick",
               "--mode", "inferstream-grpc-direct-1i-batched", "--seconds", "60",
               "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        # Wait until the pipeline runs: the broker, the model servers and the pipeline's own processes.
        while time.monotonic() < deadline and process.poll() is None:
            seen |= _descendants(process.pid)
            if any("instance_process" in _cmdline(pid) for pid in seen):
                break
            time.sleep(0.5)
        assert process.poll() is None, "the bench ended before its pipeline started"
        assert any("instance_process" in _cmdline(pid) for pid in seen), "no pipeline process within 240 s"
        seen |= _descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) != 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in seen):
            time.sleep(0.5)
        left = {pid: _cmdline(pid)[:120] for pid in seen if _alive(pid)}
        assert left == {}, f"still running after the bench ended: {left}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for pid in seen:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
