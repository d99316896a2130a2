"""ProcessRunner on Kafka with ``--colocate``: several streamlets' instances share one process, their
topics stay between them, and at-least-once still holds."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from .kafka_pipeline_helpers import (
    FAST_GROUP_CONF,
    inferstream_run,
    read_numbers,
    stop,
    summary,
    wait_for,
    write_blueprint,
)

COUNT = 2000


@pytest.mark.kafka
@pytest.mark.slow
def test_colocated_streamlets_run_in_one_process_and_every_record_arrives(
    bootstrap: str, tmp_path: Path
) -> None:
    folder = tmp_path
    output = folder / "out.jsonl"
    _, blueprint = write_blueprint(folder, count=COUNT, rate=0, doublers=2, output=output)
    log, summary_path = folder / "run.log", folder / "summary.json"
    process = inferstream_run([str(blueprint), "--transport", "kafka", "--colocate", "double,sink",
                               "--summary-json", str(summary_path), "--drain-timeout", "60s"], bootstrap, log)
    try:
        process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        stop(process)
    text = log.read_text()
    assert process.returncode == 0, text[-4000:]
    # Both doublers and the sink logged from one process (the source ran in its own).
    assert "[double.0+double.1+sink.0] " in text
    assert "[double.0] " not in text and "[sink.0] " not in text
    numbers = Counter(read_numbers(output))
    assert set(numbers) == {2 * n for n in range(COUNT)}  # nothing lost (a rebalance may repeat some)
    result = summary(summary_path)
    assert result["ok"] is True
    assert result["streamlets"]["sink"]["records_in"] == sum(numbers.values())
    doublers = [i for i in result["instances"] if i["streamlet"] == "double"]
    assert sorted(i["instance"] for i in doublers) == [0, 1]


@pytest.mark.kafka
def test_an_ingress_cannot_be_colocated(bootstrap: str, tmp_path: Path) -> None:
    folder = tmp_path
    _, blueprint = write_blueprint(folder, count=10, rate=0, doublers=1, output=folder / "o.jsonl")
    log = folder / "run.log"
    args = [str(blueprint), "--transport", "kafka", "--colocate", "source,double"]
    process = inferstream_run(args, bootstrap, log)
    assert process.wait(timeout=120) == 2
    assert "ingress" in log.read_text()




@pytest.mark.kafka
@pytest.mark.slow
def test_a_restarted_instance_keeps_its_dead_process_counts_and_says_how_it_died(
    bootstrap: str, tmp_path: Path, instance_pid: Callable[[str, str], int | None]
) -> None:
    count = 3000
    output = tmp_path / "out.jsonl"
    app, blueprint = write_blueprint(tmp_path, count=count, rate=150, doublers=1, output=output)
    log, summary_path = tmp_path / "run.log", tmp_path / "summary.json"
    args = [str(blueprint), "--transport", "kafka", "--summary-json", str(summary_path), *FAST_GROUP_CONF]
    process = inferstream_run(args, bootstrap, log, extra_env={"COLUMNS": "250"})
    try:
        wait_for(lambda: len(read_numbers(output)) >= 1000, 90, "records through the doubler")
        pid = instance_pid(app, "double:0")
        assert pid is not None, log.read_text()[-3000:]
        os.kill(pid, signal.SIGKILL)
        process.wait(timeout=120)
    finally:
        stop(process)
    text = log.read_text()
    assert process.returncode == 0, text[-4000:]  # restarted: the run went on and ended well
    assert "double.0 killed by SIGKILL; restarting it" in text
    numbers = Counter(read_numbers(output))
    assert set(numbers) == {2 * n for n in range(count)}  # nothing lost
    result = summary(summary_path)
    (double,) = [i for i in result["instances"] if i["streamlet"] == "double"]
    assert double["restarted_after"] == ["killed by SIGKILL"]
    assert double["ended"] == "exited with code 0 (restarted after: killed by SIGKILL)"
    # Both processes' counts. The sink (never killed) received everything the doubler emitted; the
    # dead process emitted >= 1,000 of it, of which only its last report (<= ~1 s old) is known.
    sink_in = result["streamlets"]["sink"]["records_in"]
    double_out = double["outlets"]["out"]["records"]
    assert sink_in >= count
    assert sink_in - double_out < 400, (sink_in, double_out)
    assert result["streamlets"]["double"]["records_out"] == double_out
    assert "double.0: restarted after: killed by SIGKILL (counts add up all its processes)" in text
