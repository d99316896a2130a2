"""Egresses and ingresses driven directly through the Streamlet API (no pipeline needed)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from inferstream.apps.common.egress import ConsoleEgress, CountingEgress, JsonLinesEgress, counts
from inferstream.apps.fraud.ingress import CardIngress
from inferstream.apps.recommender.ingress import RecommenderIngress
from inferstream.runtime import InBatch, Outlet, StreamletContext
from inferstream.runtime.config import resolve_parameters
from inferstream.serving.port_codecs import ServingResultsCodec
from inferstream.tensors.avro import (
    ModelResultMetadata,
    StackedTensor,
    decode_source_request,
    decode_source_requests,
    encode_serving_results,
)


def _context(streamlet: type, streamlet_name: str, **raw: Any) -> StreamletContext:
    config, errors = resolve_parameters(streamlet.declared_parameters(), raw)
    assert errors == []
    return StreamletContext("test-app", streamlet_name, 0, 1, config)


def _batch(n: int, errors: str = "") -> InBatch[Any]:
    x = np.arange(n * 29, dtype=np.float32).reshape(n, 29)
    payloads = encode_serving_results(
        {"transaction": StackedTensor.uniform(x)},
        {"predictions": StackedTensor.uniform(x * 0.5)},
        ModelResultMetadata(errors=errors, model_name="fraud", source="test", duration=3),
        "fraud",
    )
    records, failures = ServingResultsCodec().decode(payloads)
    assert failures == []
    return InBatch(ConsoleEgress.inlet, records, "t", 0, list(range(n)))


class _Collect:
    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    async def emit(self, outlet: Outlet[Any], batch: Any) -> None:
        self.batches.append(batch)


def test_console_prints_lines_within_its_rate_and_counts_the_rest() -> None:
    egress = ConsoleEgress()
    egress.stream = io.StringIO()
    asyncio.run(egress.on_start(_context(ConsoleEgress, "fraud-console", **{"lines-per-second": 3})))
    asyncio.run(egress.process(_batch(10)))
    lines = egress.stream.getvalue().splitlines()
    assert len(lines) == 1 and egress.skipped == 9  # the bucket starts with one line
    assert lines[0].startswith("[fraud-console] transaction=[1, 29][0, 1, 2, 3, … 25 more] -> predictions=")
    assert lines[0].endswith("model=fraud source=test 3 ms")
    egress.refilled -= 1.0  # a second later: three more lines are allowed
    asyncio.run(egress.process(_batch(10)))
    lines = egress.stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[1].endswith("(+9 not shown)") and egress.skipped == 7


def test_json_lines_file_holds_every_record(tmp_path: Path) -> None:
    egress = JsonLinesEgress()
    path = tmp_path / "out" / "records-{instance}.jsonl"

    async def go() -> None:
        await egress.on_start(_context(JsonLinesEgress, "jsonl", path=str(path)))
        await egress.process(_batch(4))
        await egress.process(_batch(2, errors="UNAVAILABLE: connection refused"))
        await egress.on_stop()

    asyncio.run(go())
    rows = [json.loads(line) for line in (tmp_path / "out/records-0.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert rows[0]["inputs"]["transaction"]["shape"] == [1, 29]
    assert rows[1]["outputs"]["predictions"]["values"][:2] == [14.5, 15.0]
    assert rows[5]["outputs"] == {} and rows[5]["metadata"]["errors"].startswith("UNAVAILABLE")


def test_counting_egress_counts_records_errors_reasons_and_keys() -> None:
    egress = CountingEgress()

    async def go() -> None:
        await egress.on_start(
            _context(CountingEgress, "c", name="test-counts", **{"key-input": "transaction"})
        )
        await egress.process(_batch(5))
        await egress.process(_batch(2, errors="DEADLINE_EXCEEDED"))

    asyncio.run(go())
    c = counts("test-counts")
    assert (c.records, c.errors, dict(c.reasons)) == (7, 2, {"DEADLINE_EXCEEDED": 2})
    assert sum(c.keys.values()) == 7 and len(c.keys) == 5  # the two error rows repeat two of the first five
    assert c.durations().tolist() == [3.0] * 7


def test_card_ingress_replays_the_sample_once_as_source_requests(repo_root: Path) -> None:
    ingress = CardIngress()
    out = _Collect()
    ctx = _context(
        CardIngress,
        "card-ingress",
        data=str(repo_root / "data/creditcard-sample.csv"),
        frequency="0 ms",
        **{"batch-size": 300},
    )

    async def go() -> None:
        await ingress.on_start(ctx)
        await asyncio.wait_for(ingress.run(ctx, out), timeout=30)

    asyncio.run(go())
    assert [len(b) for b in out.batches] == [300, 300, 300, 100]
    decoded = decode_source_requests([p for b in out.batches for p in b])
    assert decoded.failures == [] and decoded.records() == 1000
    (group,) = decoded.groups
    np.testing.assert_array_equal(group.inputs["transaction"].values, ingress.data.features)
    assert group.datatypes[0] == "fraud" and "predictions" in group.expected_outputs[0]


def test_card_ingress_paces_loops_and_labels_synthetic_rows() -> None:
    ingress = CardIngress()
    out = _Collect()
    raw = {"data": "synthetic", "synthetic-rows": 50, "rate": 400, "loop": True, "max-records": 120}
    ctx = _context(CardIngress, "card-ingress", **raw)

    async def go() -> float:
        await ingress.on_start(ctx)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait_for(ingress.run(ctx, out), timeout=30)
        return loop.time() - start

    elapsed = asyncio.run(go())
    payloads = [p for b in out.batches for p in b]
    assert len(payloads) == 120  # 50 rows looped, stopped by max-records
    assert 0.2 < elapsed < 3.0  # 120 records at 400/s take ~0.3 s
    assert decode_source_request(payloads[0]).datatype == "fraud-synthetic"


def test_recommender_ingress_sends_a_user_with_up_to_30_products() -> None:
    ingress = RecommenderIngress()
    out = _Collect()
    ctx = _context(RecommenderIngress, "recommender-ingress", frequency="0 ms", **{"max-records": 200})

    async def go() -> None:
        await ingress.on_start(ctx)
        await asyncio.wait_for(ingress.run(ctx, out), timeout=30)

    asyncio.run(go())
    requests = [decode_source_request(p) for b in out.batches for p in b]
    assert len(requests) == 200
    sizes = {r.inputs["products"].shape[0] for r in requests}
    assert min(sizes) >= 1 and max(sizes) <= 30 and len(sizes) > 10
    for r in requests:
        users = r.inputs["users"].data
        assert users.shape == r.inputs["products"].shape and len(np.unique(users)) == 1
        assert r.expected_outputs["predictions"].shape == (users.shape[0], 1)
