"""Hot swap over the memory transport: records stream while two good updates and one bad arrive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inferstream.runtime.blueprint import parse_yaml
from inferstream.runtime.codecs import AvroCodec
from inferstream.runtime.config_sources import gather_settings
from inferstream.runtime.plan import build_plan
from inferstream.runtime.runner import Runner
from inferstream.schemas import MODEL_DESCRIPTOR
from inferstream.serving.hot_swap import UPDATE_ERROR
from inferstream.serving.model_updates import descriptor
from inferstream.transports.memory import MemoryTransport

from .hot_swap_helpers import BLUEPRINT, REPO, check_results, never_backwards, scaler_model, zipped

APP = "swap-memory"


@pytest.mark.slow  # ~30 s here: four ONNX models built, 4,000 records at 4,000/s
def test_updates_swap_between_batches_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    records = 4000
    base = tmp_path / "scaler"
    scaler_model(base / "1", 2.0)
    scaler_model(base / "2", 3.0)  # by location
    inline = zipped(scaler_model(tmp_path / "v3", 4.0))  # inline, a zipped folder
    scaler_model(base / "9", 5.0, features=10)  # bad: its input differs from the serving model's
    text = BLUEPRINT.format(app=APP, data=REPO / "data" / "creditcard-sample.csv", rate=4000,
                            records=records, model=base / "1")
    plan, problems = build_plan(parse_yaml(text, name=APP), gather_settings(conf_args=[]), environ={})
    assert plan is not None, problems
    updates = [
        descriptor("scaler", 2, location=str(base / "2")),
        descriptor("scaler", 9, location=str(base / "9")),
        descriptor("scaler", 3, content=inline),
    ]
    transport = MemoryTransport()

    async def publish() -> None:
        while True:  # the runner creates the topics
            try:
                transport.partitions(f"{APP}-updates")
                break
            except Exception:
                await asyncio.sleep(0.02)
        producer = transport.producer("operator")
        for update in updates:
            await asyncio.sleep(0.25)
            await (await producer.send(f"{APP}-updates", AvroCodec(MODEL_DESCRIPTOR).encode([update])))

    async def run() -> dict[str, object]:
        runner = Runner(plan, transport)
        publishing = asyncio.create_task(publish())
        stats = await asyncio.wait_for(runner.run(), timeout=120)
        await publishing
        return stats.snapshot()

    summary = asyncio.run(run())
    assert summary["ok"], summary
    (results,) = transport.partitions(f"{APP}-results")
    _, payloads, _, _ = results.read(results.start, records * 2)
    labels = check_results(payloads, {"scaler:1": 2.0, "scaler:2": 3.0, "scaler:3": 4.0})
    assert len(labels) == records  # nothing lost, nothing twice
    assert set(labels) == {"scaler:1", "scaler:2", "scaler:3"}  # records streamed across both swaps
    never_backwards(labels)
    (errors,) = transport.partitions(f"{APP}-update-errors")
    _, error_payloads, _, _ = errors.read(errors.start, 10)
    refused, _ = AvroCodec(UPDATE_ERROR).decode(error_payloads)
    assert [r["modelName"] for r in refused] == ["scaler:9"]
    assert "inputs" in refused[0]["reason"] and refused[0]["serving"] == "scaler:2"
