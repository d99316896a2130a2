"""The per-stage latency breakdown, the latency sweep's steps and the RSS growth, on made-up numbers."""

from __future__ import annotations

import numpy as np

from inferstream.bench import breakdown
from inferstream.bench.kafka_probe import TopicRead
from inferstream.bench.memory import rss_growth
from inferstream.bench.sweep import sweep_rates

T0 = 1_000.0


def _read(seqs: list[int], times: list[float], partition: int, first_offset: int) -> TopicRead:
    n = len(seqs)
    return TopicRead(
        np.asarray(seqs, dtype=np.int64), np.asarray(times), 0, [],
        np.full(n, partition, dtype=np.int32), np.arange(first_offset, first_offset + n, dtype=np.int64),
    )


def _two_stages() -> tuple[list[dict[str, object]], dict[str, TopicRead], list[breakdown.StageSpec], int]:
    records = 100
    produced = T0 + np.arange(records) * 0.001  # the harness produced seq i at T0 + i ms
    source = _read(list(range(records)), list(produced + 0.002), 0, 0)
    results_times = list(T0 + 0.050 + np.arange(records) * 0.001)
    results = _read(list(range(records)), results_times, 0, 500)
    outlet = _read(list(range(records)), list(np.asarray(results_times) + 0.030), 0, 0)
    outlet.seqs[99] = 99  # the slowest record: +1 s downstream of the decider
    outlet.times[99] += 1.0
    traces = []
    for first in range(0, records, 10):  # model-serving: a batch of 10 per 10 ms
        base = T0 + first * 0.001
        traces.append({"stage": "model-serving", "topic": "source", "partition": 0, "first": first,
                       "last": first + 9, "marks": {"polled": base + 0.012, "started": base + 0.013,
                                                    "call-start": base + 0.015, "call-end": base + 0.025,
                                                    "emit": base + 0.026, "turn": base + 0.027,
                                                    "sent": base + 0.028}})
        traces.append({"stage": "fraud-decider", "topic": "results", "partition": 0, "first": 500 + first,
                       "last": 500 + first + 9, "marks": {"polled": base + 0.070, "started": base + 0.071,
                                                          "emit": base + 0.072, "sent": base + 0.073}})
    stages = [
        breakdown.StageSpec("model-serving", breakdown.produce_times(produced),
                            breakdown.seq_times([results], records)),
        breakdown.StageSpec("fraud-decider", breakdown.seq_times([results], records),
                            breakdown.seq_times([outlet], records)),
    ]
    return traces, {"source": source, "results": results}, stages, records


def test_intervals_add_up_to_each_records_end_to_end_latency() -> None:
    traces, reads, stages, records = _two_stages()
    per_stage = breakdown.stage_breakdowns(traces, reads, stages, (0, records))
    assert set(per_stage) == {"model-serving", "fraud-decider"}
    serving = per_stage["model-serving"]
    assert serving.seqs.size == records
    order = np.argsort(serving.seqs)
    call = serving.parts["model call"][order]
    np.testing.assert_allclose(call, 10.0, atol=1e-6)  # call-end - call-start, ms
    # Every interval of both stages sums to outlet append - produce time, record by record.
    total = sum(b.parts[label][np.argsort(b.seqs)] for b in per_stage.values() for label in breakdown.LABELS)
    expected = 80.0 + np.where(np.arange(records) == 99, 1000.0, 0.0)
    np.testing.assert_allclose(total, expected, atol=1e-6)


def test_the_tail_is_made_of_what_made_it_slow() -> None:
    traces, reads, stages, records = _two_stages()
    summary = breakdown.summarize(breakdown.stage_breakdowns(traces, reads, stages, (0, records)))
    composition = summary["composition"]
    assert composition["records"] == records
    tail, median = composition["p99_tail"], composition["median"]
    slow = "fraud-decider: produce → append downstream"
    assert tail[slow] > 500 > median[slow]  # the 1 s record dominates the tail, not the median
    assert abs(median["model-serving: model call"] - 10.0) < 1e-6
    rows = {(r["stage"], r["interval"]) for r in summary["rows"]}
    assert ("model-serving", "decode + micro-batch wait") in rows
    assert ("fraud-decider", "model call") not in rows  # no model call marks in the decider
    assert "What the e2e latency is made of" in breakdown.markdown(summary, "mode")


def test_records_outside_the_measured_range_are_left_out() -> None:
    traces, reads, stages, _ = _two_stages()
    per_stage = breakdown.stage_breakdowns(traces, reads, stages, (20, 40))
    assert sorted(per_stage["model-serving"].seqs.tolist()) == list(range(20, 40))


def test_sweep_climbs_from_1000_per_second_to_saturation() -> None:
    assert sweep_rates(12_000) == [1_000, 2_000, 5_000, 10_000, 10_800, 12_000]
    assert sweep_rates(800) == [1_000]  # below the first step: still one step at 1,000/s


def test_rss_growth_compares_the_first_and_last_fifth() -> None:
    series = {"p": [(float(t), 100.0 if t < 20 else 110.0) for t in range(100)]}
    growth = rss_growth(series, (0.0, 99.0))
    assert growth["p"]["early_mib"] == 100.0 and growth["p"]["late_mib"] == 110.0
    assert growth["p"]["change_pct"] == 10.0
