"""``replay --since`` and ``errors`` on a pipeline that never ran (issue 21). Budget: ~15 s."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from operations_helpers import inferstream

from inferstream.cli.replay import since_millis

NOW = 1_765_000_000.0  # epoch seconds


def test_since_takes_a_duration_back_from_now_or_a_time() -> None:
    assert since_millis("10m", now=NOW) == int((NOW - 600) * 1000)
    assert since_millis("2 hours", now=NOW) == int((NOW - 7200) * 1000)
    assert since_millis("2026-12-06T17:00:00") == 1_796_576_400_000  # UTC unless it says otherwise
    assert since_millis("2026-12-06T18:00:00+01:00") == 1_796_576_400_000
    assert since_millis(None) == 0
    with pytest.raises(typer.BadParameter, match="a duration back from now"):
        since_millis("yesterday-ish")


@pytest.mark.slow
@pytest.mark.kafka
def test_errors_of_a_pipeline_that_never_ran_says_so(tmp_path: Path, bootstrap: str) -> None:
    (tmp_path / "never.yaml").write_text(
        "name: never-ran-here\n"
        "streamlets:\n"
        "  source: inferstream.apps.examples:NumberedIngress\n"
        "  sink: inferstream.apps.examples:CollectingEgress\n"
        "connections:\n"
        "  source.out: [sink.in]\n"
    )
    env = {"INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    done = inferstream("errors", "never.yaml", cwd=tmp_path, env=env, timeout=120)
    assert done.code == 2, done.out
    assert "Traceback" not in done.out
    assert "never-ran-here.dead-letters" in done.out and "has the pipeline run on this broker?" in done.out
    replay = inferstream("replay", "never.yaml", "--from", "nowhere", cwd=tmp_path, env=env)
    assert replay.code == 2 and "write one of dead-letters, errors" in replay.out, replay.out
