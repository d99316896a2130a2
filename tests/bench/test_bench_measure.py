"""The harness's arithmetic and record tagging, on made-up numbers whose answers are known."""

from __future__ import annotations

import io

import numpy as np
from fastavro import schemaless_reader

from inferstream.bench.measure import latencies, percentiles_ms, rate_series, sustained_rate
from inferstream.bench.records import RequestFactory, read_tag
from inferstream.schemas import SOURCE_REQUEST, parsed_schema


def test_tag_travels_in_datatype_and_reads_back_from_the_last_bytes() -> None:
    rows = np.arange(2 * 29, dtype=np.float32).reshape(2, 29)
    value = RequestFactory(rows)(123_456_789)
    record = schemaless_reader(io.BytesIO(value), parsed_schema(SOURCE_REQUEST), None)
    assert isinstance(record, dict)
    assert record["datatype"] == "fraud#000000000123456789"
    assert record["inputRecords"]["inputs"]["transaction"]["float_data"] == rows[1].tolist()
    assert read_tag(value) == 123_456_789
    assert read_tag(b"\x0afraud") is None


def test_sustained_rate_ignores_start_and_tail() -> None:
    steady = np.arange(1000) / 500.0  # 500 records/s
    stalled_tail = np.full(50, 100.0)  # a late straggler far away
    assert abs((sustained_rate(np.concatenate([steady, stalled_tail])) or 0) - 500.0) < 25.0
    assert sustained_rate(np.arange(5, dtype=np.float64)) is None


def test_latency_counts_each_record_once_from_its_first_arrival() -> None:
    produced = np.array([0.0, 1.0, 2.0, 3.0])
    seqs = np.array([2, 3, 2, 0], dtype=np.int64)  # seq 2 redelivered later; seq 0 is outside the window
    out = np.array([2.010, 3.020, 9.0, 0.5])
    lat = latencies(produced, seqs, out, first_seq=1, count=3)
    assert sorted(np.round(lat * 1000).tolist()) == [10.0, 20.0]
    assert percentiles_ms(np.array([])) == {"p50": None, "p95": None, "p99": None}
    assert percentiles_ms(np.full(10, 0.002))["p99"] == 2.0


def test_rate_series_from_cumulative_counts() -> None:
    assert rate_series([0.0, 0.5, 1.5], [0, 100, 400]) == [(0.5, 200.0), (1.5, 300.0)]
