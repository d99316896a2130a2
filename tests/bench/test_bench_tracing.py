"""``inferstream bench``'s tracing modes: off / 1 % / 100 % side by side, spans into a real Jaeger.

The slow test runs ``bench --mode traced-1pct`` briefly (real broker, model servers, pipeline and the
Jaeger the bench starts itself; ≈ 2-4 min on a busy 2-core machine): the untraced twin comes along,
the counts add up in both, every sampled record's trace reached Jaeger whole, and the table shows
the cost ratio. The others check mode selection, the cost table and the missing-Jaeger message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_bench_quick import _run_stopping_all

from inferstream.bench import trace_collector
from inferstream.bench.modes import Mode, full_modes, select_modes
from inferstream.bench.report import markdown_table
from inferstream.bench.results import BenchRun, ModeResult
from inferstream.devtools.jaeger import jaeger_binary

HEADLINE = "inferstream-grpc-direct-1i-batched"


def test_traced_modes_sit_beside_their_untraced_twin() -> None:
    names = [m.name for m in select_modes(full_modes(), ["traced"])]
    assert names == [HEADLINE, f"{HEADLINE}-traced-1pct", f"{HEADLINE}-traced-100pct"]
    assert [m.name for m in select_modes(full_modes(), ["traced-100pct"])] == [
        HEADLINE, f"{HEADLINE}-traced-100pct"
    ]
    assert Mode("inferstream", "grpc", trace_ratio=0.01).untraced == Mode("inferstream", "grpc")


def test_the_table_shows_each_traced_modes_cost_against_the_untraced_one() -> None:
    run = BenchRun(command="", quick=False, machine={"cores": 2, "cpu_model": "x"}, started="now")
    run.modes = [
        ModeResult(HEADLINE, sustained_rps=10_000.0),
        ModeResult(f"{HEADLINE}-traced-1pct", sustained_rps=9_700.0,
                   tracing={"ratio": 0.01, "sampled_records": 1_000, "spans_accepted": 7_000,
                            "traces_checked": 1_000, "traces_whole": 1_000, "traces_with_model_call": 40}),
        ModeResult(f"{HEADLINE}-traced-100pct", sustained_rps=2_500.0, tracing={"ratio": 1.0}),
    ]
    table = markdown_table(run)
    assert "| 0.970 (-3.0 %) | 1,000 | 7,000 | 1,000: 1,000 (40) |" in table
    assert f"| {HEADLINE}-traced-100pct | 100 % | 2,500 | 0.250 (-75.0 %) |" in table
    goal = "| tracing at 1 %: cost vs untraced | ≤ 5 % of throughput | +3.0 % (9,700 vs 10,000/s) | met |"
    assert goal in table


def test_without_jaeger_the_traced_modes_say_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(trace_collector, "installed_binary", lambda: None)
    modes = select_modes(full_modes(), ["traced-1pct"])
    with trace_collector.trace_collector(modes, None, tmp_path, lambda _: None) as collector:
        reason = collector.unavailable(modes[1])
        assert collector.unavailable(modes[0]) is None  # the untraced twin still runs
    assert reason is not None and "scripts/jaeger/install.sh" in reason and "--otlp-endpoint" in reason
    with trace_collector.trace_collector(modes, "127.0.0.1:4317", tmp_path, lambda _: None) as collector:
        assert collector.unavailable(modes[1]) is None  # the user's own collector
        assert collector.server_env()["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4317"


@pytest.mark.kafka
@pytest.mark.slow
def test_traced_mode_exports_every_sampled_records_trace_to_jaeger(tmp_path: Path, repo_root: Path) -> None:
    jaeger_binary(repo_root)  # built here when missing (the bench itself would only say how)
    out = tmp_path / "bench"
    command = [sys.executable, "-c", "from inferstream.cli.main import main; main()", "bench",
               "--mode", "traced-1pct", "--seconds", "3", "--latency-seconds", "2", "--out", str(out)]
    stdout, returncode = _run_stopping_all(command, repo_root, timeout=600)
    assert returncode == 0, stdout[-6000:]
    results = {m["mode"]: m for m in json.loads((out / "results.json").read_text())["modes"]}
    assert list(results) == [HEADLINE, f"{HEADLINE}-traced-1pct"]
    for mode in results.values():
        assert mode["available"] and mode["reason"] is None, (mode["mode"], mode["reason"])
        assert mode["records_in"] > 0 and mode["counts_add_up"], mode
        assert mode["sustained_rps"] and mode["sustained_rps"] > 0
    assert results[HEADLINE]["tracing"] == {}
    seen = results[f"{HEADLINE}-traced-1pct"]["tracing"]
    records = results[f"{HEADLINE}-traced-1pct"]["records_in"]
    sampled = seen["sampled_records"]
    assert 0.002 * records < sampled < 0.03 * records, (sampled, records)  # 1 %, well within chance
    # Every sampled record's trace reached Jaeger, whole: the feeder's produce span (root),
    # model-serving process + batch wait, the decider and an egress; model calls hang off some.
    assert seen["traces_found"] == sampled == seen["traces_checked"], seen
    assert seen["traces_whole"] == sampled, seen
    assert 1 <= seen["traces_with_model_call"] <= sampled, seen
    # ≥ 5 spans per sampled record (more: model calls and the server's Predict, decode, queue wait, run)
    assert seen["spans_accepted"] >= 5 * sampled, seen
    table = (out / "table.md").read_text()
    assert "Tracing cost" in table and f"| {HEADLINE}-traced-1pct | 1 % |" in table
