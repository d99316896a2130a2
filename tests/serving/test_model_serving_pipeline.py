"""model-serving inside a real pipeline run (memory transport): card records in, every one scored out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from inferstream.apps.common.egress import counts, reset_counts
from inferstream.runtime.blueprint import parse_yaml
from inferstream.runtime.config_sources import gather_settings
from inferstream.runtime.plan import build_plan
from inferstream.runtime.runner import Runner
from inferstream.transports.memory import MemoryTransport

REPO = Path(__file__).resolve().parents[2]

BLUEPRINT = """
name: serving-test
streamlets:
  card-ingress:
    class: inferstream.apps.fraud.ingress:CardIngress
    config: {{data: {data}, rate: 0, max-records: {records}, batch-size: 50}}
  model-serving:
    class: inferstream.serving:ModelServing
    instances: 2
    config: {{protocol: embedded, model-path: {model}, model: doubler, max-batch-size: 32}}
  counter:
    class: inferstream.apps.common.egress:CountingEgress
    config: {{name: serving-test-counter, key-input: transaction}}
connections:
  card-ingress.out: [model-serving.in]
  model-serving.out: [counter.in]
"""


def test_every_card_record_is_scored_once(doubler_model: Path) -> None:
    records = 600
    text = BLUEPRINT.format(data=REPO / "data" / "creditcard-sample.csv", records=records,
                            model=doubler_model / "1")
    blueprint = parse_yaml(text, name="serving-test")
    plan, problems = build_plan(blueprint, gather_settings(conf_args=[]), environ={})
    assert plan is not None, problems
    reset_counts("serving-test-counter")

    async def run() -> dict[str, object]:
        runner = Runner(plan, MemoryTransport())
        stats = await asyncio.wait_for(runner.run(), timeout=120)
        return stats.snapshot()

    summary = asyncio.run(run())
    assert summary["ok"], summary
    counted = counts("serving-test-counter")
    assert counted.records == records
    assert counted.errors == 0, dict(counted.reasons)
    assert sum(counted.keys.values()) == records
