"""ProcessRunner's end of a run when the broker cannot say the lag: the summary is never lost.

Real child processes (one per instance) on the memory transport; the parent's transport is a
memory transport whose ``lag()`` fails, as a busy or restarting Kafka broker's may. The drain
retries a bounded number of times, then stops the instances with a warning, and the merged
counts come back; an unexpected error in the drain is reported in ``run_errors``, also with the
counts. Budget: ~10 s (three Python child processes per test).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import typer

from inferstream.cli.run_outcome import report_outcome
from inferstream.runtime.processes import ProcessRunner
from inferstream.runtime.run_stats import PipelineStats
from inferstream.transports import TransportError
from inferstream.transports.memory import MemoryTransport

from .helpers import numbers_plan

COUNT = 300
BLUEPRINT = """
name: numbers
streamlets:
  source:
    class: inferstream.apps.examples:NumberedIngress
    config: {{count: {count}, batch-size: 50}}
  double: inferstream.apps.examples:Doubler
  sink:
    class: inferstream.apps.examples:CollectingEgress
    config: {{output-file: "{output}"}}
connections:
  source.out: [double.in]
  double.out: [sink.in]
"""


class FailingLag(MemoryTransport):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    async def lag(self, group: str, topics: Sequence[str]) -> int:
        self.calls += 1
        raise self.error


def _run(tmp_path: Path, transport: FailingLag) -> tuple[ProcessRunner, PipelineStats, dict[str, int]]:
    text = BLUEPRINT.format(count=COUNT, output=tmp_path / "out.jsonl")
    path = tmp_path / "numbers.yaml"
    path.write_text(text)
    lines: list[str] = []
    runner = ProcessRunner(
        numbers_plan(text=text), transport, str(path), "memory", drain_timeout=30, write=lines.append
    )
    runner.lag_attempts = 3
    stats, codes = asyncio.run(asyncio.wait_for(runner.run(), timeout=120))
    return runner, stats, codes


@pytest.mark.slow
def test_a_lag_that_cannot_be_read_ends_the_drain_with_a_warning_and_keeps_the_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FailingLag(TransportError("lag of group 'g': Local: Timed out"))
    with caplog.at_level(logging.INFO, logger="inferstream.runtime"):
        runner, stats, codes = _run(tmp_path, transport)
    summary = stats.snapshot()
    assert transport.calls == 3  # retried, bounded
    warning = "cannot read the consumer groups' lag (lag of group 'g': Local: Timed out; 3 attempts)"
    assert warning in caplog.text
    assert runner.run_errors == []  # a warning, not a failed run: at-least-once holds
    assert codes == {"source.0": 0, "double.0": 0, "sink.0": 0}
    assert all(p.returncode is not None for p in runner.children.values())
    assert summary["streamlets"]["source"]["records_out"] == COUNT


@pytest.mark.slow
def test_an_unexpected_error_in_the_drain_is_reported_with_the_counts(tmp_path: Path) -> None:
    transport = FailingLag(RuntimeError("boom"))
    runner, stats, codes = _run(tmp_path, transport)
    summary: dict[str, Any] = stats.snapshot()
    assert transport.calls == 1
    assert runner.run_errors == ["the run failed while draining: RuntimeError: boom"]
    assert set(codes) == {"source.0", "double.0", "sink.0"}
    assert all(p.returncode is not None for p in runner.children.values())
    assert summary["streamlets"]["source"]["records_out"] == COUNT
    # What `inferstream run` does with it: the summary is written, says why, and the run exits 1.
    written = tmp_path / "summary.json"
    with pytest.raises(typer.Exit) as exited:
        report_outcome(stats, summary, 0.01, written, {}, False, run_errors=runner.run_errors)
    assert exited.value.exit_code == 1
    outcome = json.loads(written.read_text())["outcome"]
    assert outcome["ok"] is False and outcome["run_errors"] == runner.run_errors
    assert "the run failed while draining: RuntimeError: boom" in outcome["reasons"]
