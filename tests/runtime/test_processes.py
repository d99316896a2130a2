"""ProcessRunner on Kafka with ``--colocate``: several streamlets' instances share one process, their
topics stay between them, and at-least-once still holds."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from .kafka_pipeline_helpers import inferstream_run, read_numbers, stop, summary, write_blueprint

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
