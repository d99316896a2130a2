"""Hot swap of a remote-serving pipeline: updates switch the version it asks ``inferstream serve`` for.

One ``serve`` process holds a model base with versions 1 (×2) and 2 (×3) under the default policy
(``all``, so both answer); the pipeline (memory transport) asks version 1 over TF Serving gRPC or V2
REST. Updates are published by progress (results written), so a slow machine only stretches the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from executors.conftest import RunningServer, start_builtin

from inferstream.runtime.blueprint import parse_yaml
from inferstream.runtime.codecs import AvroCodec
from inferstream.runtime.config_sources import gather_settings
from inferstream.runtime.plan import build_plan
from inferstream.runtime.runner import Runner
from inferstream.schemas import MODEL_DESCRIPTOR
from inferstream.serving.hot_swap import UPDATE_ERROR
from inferstream.serving.model_updates import descriptor
from inferstream.transports.memory import MemoryTransport

from .hot_swap_helpers import REPO, check_results, never_backwards, scaler_model

RECORDS = 5000  # 5 s at 1,000/s: ~3 s of records still to come when version 2 is published
FACTORS = {"scaler:1": 2.0, "scaler:2": 3.0}

BLUEPRINT = """
name: {app}
streamlets:
  card-ingress:
    class: inferstream.apps.fraud.ingress:CardIngress
    config: {{data: {data}, rate: 1000, max-records: {records}, batch-size: 50, loop: true}}
  model-serving:
    class: inferstream.serving:HotSwapServing
    config: {{protocol: {protocol}, transport: {transport}, target: '{target}', model: scaler, version: 1,
              max-batch-size: 64}}
topics:
  {app}-requests: {{producers: [card-ingress.out], consumers: [model-serving.in]}}
  {app}-updates: {{producers: [], consumers: [model-serving.updates], partitions: 1}}
  {app}-results: {{producers: [model-serving.out], consumers: [], partitions: 1}}
  {app}-update-errors: {{producers: [model-serving.errors], consumers: [], partitions: 1}}
"""


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``inferstream serve`` (REST + gRPC) with model ``scaler``: version 1 answers 2x, version 2 3x."""
    base = tmp_path_factory.mktemp("remote-swap") / "scaler"
    scaler_model(base / "1", 2.0)
    scaler_model(base / "2", 3.0)
    server = start_builtin(base.parent, base, name="scaler", grpc=True)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.mark.slow  # ~3 s per protocol (2,000 records at 1,000/s) after ~4 s starting serve, idle machine
@pytest.mark.parametrize(("protocol", "transport"), [("tfserving", "grpc"), ("v2", "rest")])
def test_updates_switch_the_version_asked_and_an_unknown_version_is_refused(
    two_versions: RunningServer, protocol: str, transport: str
) -> None:
    app = f"swap-remote-{protocol}"
    target = two_versions.grpc if transport == "grpc" else two_versions.rest
    text = BLUEPRINT.format(app=app, data=REPO / "data" / "creditcard-sample.csv", records=RECORDS,
                            protocol=protocol, transport=transport, target=target)
    plan, problems = build_plan(parse_yaml(text, name=app), gather_settings(conf_args=[]), environ={})
    assert plan is not None, problems
    transport_ = MemoryTransport()

    async def written(topic: str, at_least: int) -> None:
        while True:  # the runner creates the topics; the runner's own timeout bounds this wait
            try:
                if sum(transport_.end_offsets(topic)) >= at_least:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.02)

    async def operator() -> None:
        producer = transport_.producer("operator")
        codec = AvroCodec(MODEL_DESCRIPTOR)
        await written(f"{app}-results", RECORDS // 5)
        # version 7 is not on the server: refused, version 1 keeps scoring
        await (await producer.send(f"{app}-updates", codec.encode([descriptor("scaler", 7)])))
        await written(f"{app}-update-errors", 1)
        await written(f"{app}-results", RECORDS * 2 // 5)
        await (await producer.send(f"{app}-updates", codec.encode([descriptor("scaler", 2)])))

    async def run() -> dict[str, object]:
        runner = Runner(plan, transport_)
        operating = asyncio.create_task(operator())
        try:
            stats = await asyncio.wait_for(runner.run(), timeout=60)
        finally:
            operating.cancel()
        published = operating.done() and not operating.cancelled()
        assert published, "the pipeline ended before both updates were published (version 7 not refused?)"
        return stats.snapshot()

    summary = asyncio.run(run())
    assert summary["ok"], summary
    (results,) = transport_.partitions(f"{app}-results")
    _, payloads, _, _ = results.read(results.start, RECORDS * 2)
    labels = check_results(payloads, FACTORS)  # each output is the factor its label names times x
    assert len(labels) == RECORDS  # nothing lost, nothing twice
    never_backwards(labels)
    assert labels.count("scaler:1") >= RECORDS * 2 // 5  # v1 scored on after the refusal, up to the switch
    assert labels.count("scaler:2") > 0, "no record scored after the switch to version 2"
    (errors,) = transport_.partitions(f"{app}-update-errors")
    _, error_payloads, _, _ = errors.read(errors.start, 10)
    refused, _ = AvroCodec(UPDATE_ERROR).decode(error_payloads)
    assert [(r["modelName"], r["serving"]) for r in refused] == [("scaler:7", "scaler:1")]
    assert "version 7" in refused[0]["reason"], refused  # the server's answer, passed on


def test_seldon_serving_refuses_a_version_switch() -> None:
    """Seldon's protocol names no version: switching would only relabel what the same model scored."""
    from inferstream.executors.config import ExecutorConfig
    from inferstream.serving.hot_swap import HotSwapServing

    streamlet = HotSwapServing()
    streamlet._config = ExecutorConfig(protocol="seldon", target="127.0.0.1:9", model="scaler")
    streamlet.label = "scaler:1"
    reason = asyncio.run(streamlet.apply(descriptor("scaler", 2)))
    assert reason is not None and "seldon has no model versions" in reason
    assert streamlet.label == "scaler:1" and streamlet.swaps == 0
