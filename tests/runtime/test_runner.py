import asyncio
import time
from collections import Counter
from collections.abc import Callable

import aiohttp

from inferstream.apps.examples import NUMBERED
from inferstream.runtime.codecs import AvroCodec
from inferstream.runtime.deadletters import DEAD_LETTER_CODEC
from inferstream.runtime.runner import Runner
from inferstream.transports.base import TopicSpec, TransportError
from inferstream.transports.memory import MemoryProducer, MemoryTransport

from .helpers import numbers_plan, run_pipeline


def collected(runner: Runner) -> list[int]:
    return [r["n"] for r in runner.instance("sink").streamlet.collected]  # type: ignore[attr-defined]


def test_every_record_flows_through_once_and_the_summary_counts_it() -> None:
    runner = run_pipeline(numbers_plan(), records=2_000)
    assert Counter(collected(runner)) == Counter(2 * n for n in range(2_000))
    summary = runner.stats.snapshot()
    assert summary["ok"] is True
    assert summary["streamlets"]["source"]["records_out"] == 2_000
    assert summary["streamlets"]["double"]["inlets"]["in"]["records"] == 2_000
    assert summary["streamlets"]["double"]["outlets"]["out"]["records"] == 2_000
    assert summary["streamlets"]["sink"]["records_in"] == 2_000
    assert summary["streamlets"]["sink"]["records_per_s"] > 0


def test_three_instances_share_the_partitions_and_miss_nothing() -> None:
    transport = MemoryTransport()
    runner = run_pipeline(numbers_plan(instances=3), transport, records=6_000)
    assert sorted(collected(runner)) == [2 * n for n in range(6_000)]
    per_instance = [runner.instance("double", i).stats.inlet("in").records for i in range(3)]
    assert sum(per_instance) == 6_000
    assert all(count > 0 for count in per_instance), per_instance
    assert transport.committed("numbers.double.in")  # positions were committed...
    assert asyncio.run(transport.lag("numbers.double.in", ["numbers.source.out"])) == 0  # ...all of them


def test_stop_drains_in_flight_records_before_ending() -> None:
    async def stop_soon(runner: Runner) -> None:
        await asyncio.sleep(0.3)
        runner.stop()

    plan = numbers_plan(conf=["source.rate=20000"])  # an endless source, stopped from outside
    runner = run_pipeline(plan, during=stop_soon)
    emitted = runner.instance("source").stats.outlet("out").records
    assert emitted > 0
    assert sorted(collected(runner)) == [2 * n for n in range(emitted)]


def test_undecodable_and_failing_records_go_to_dead_letters_and_the_rest_flows() -> None:
    transport = MemoryTransport()
    plan = numbers_plan(conf=["double.fail-on=7", "source.count=50", "source.batch-size=10"])
    corrupt = b"\xff\xff\xff"

    async def inject(runner: Runner) -> None:
        await transport.create_topics(plan.topics)
        await transport.producer("test").send("numbers.source.out", [corrupt])

    runner = run_pipeline(plan, transport, during=inject)
    dead = transport.partitions("numbers.dead-letters")[0]
    letters, failures = DEAD_LETTER_CODEC.decode(dead.read(0, 100)[1])
    assert failures == []
    reasons = Counter(letter["reason"].split(":")[0] for letter in letters)
    assert reasons["not a valid inferstream.examples.Numbered Avro record"] == 1
    assert any(letter["payload"] == corrupt for letter in letters)
    failed = [
        AvroCodec(NUMBERED).decode([letter["payload"]])[0][0]["n"]
        for letter in letters
        if letter["reason"].startswith("processing failed: ValueError: n=7 is unlucky")
    ]
    assert 7 in failed and reasons["processing failed"] == len(failed)  # the whole batch holding 7
    assert sorted(collected(runner) + [2 * n for n in failed]) == [2 * n for n in range(50)]
    summary = runner.stats.snapshot()["streamlets"]["double"]
    assert summary["dead_letters"] == 1 + len(failed) and summary["errors"] == len(failed)


def test_a_server_streamlet_serves_http_while_running() -> None:
    text = """
name: served
streamlets:
  source:
    class: inferstream.apps.examples:NumberedIngress
    config: {count: 300, batch-size: 100}
  sink: inferstream.apps.examples:CountingServerEgress
connections:
  source.out: [sink.in]
"""
    answers: list[dict[str, int]] = []

    async def ask(runner: Runner) -> None:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if runner.instances and runner.instance("sink").ctx.http_url:
                break
        url = runner.instance("sink").ctx.http_url
        assert url is not None and url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(f"{url}/count") as response:
            answers.append(await response.json())

    run_pipeline(numbers_plan(text=text), during=ask)
    assert len(answers) == 1 and 0 <= answers[0]["count"] <= 300


def test_topics_get_partitions_for_their_consumers_and_a_finite_retention() -> None:
    plan = numbers_plan(instances=4)
    specs: dict[str, TopicSpec] = {t.name: t for t in plan.topics}
    assert specs["numbers.source.out"].partitions == 4
    assert specs["numbers.double.out"].partitions == 1
    assert all(t.retention_ms is not None and t.retention_ms > 0 for t in plan.topics)


def test_an_instance_that_cannot_start_ends_the_run_with_its_reason() -> None:
    plan = numbers_plan(conf=["sink.output-file=/nonexistent-dir/out.jsonl"])
    runner = run_pipeline(plan, records=10)
    summary = runner.stats.snapshot()
    assert summary["ok"] is False
    assert "could not start: FileNotFoundError" in summary["streamlets"]["sink"]["failures"][0]


def test_run_for_stops_an_endless_source_and_the_progress_hook_sees_counts() -> None:
    seen: list[int] = []
    plan = numbers_plan(conf=["source.rate=5000"])
    runner = run_pipeline(
        plan,
        run_for=0.5,
        progress_interval=0.1,
        on_progress=lambda stats: seen.append(stats.snapshot()["streamlets"]["sink"]["records_in"]),
    )
    emitted = runner.instance("source").stats.outlet("out").records
    assert 0 < emitted < 20_000
    assert sorted(collected(runner)) == [2 * n for n in range(emitted)]
    assert len(seen) >= 3 and seen[-1] == emitted and seen == sorted(seen)


def test_scaling_a_running_processor_up_and_down_loses_nothing() -> None:
    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(400):  # at most 20 s, however loaded the machine is
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not reached")

    async def rescale(runner: Runner) -> None:
        await until(lambda: any(i.ctx.streamlet == "sink" for i in runner.instances))
        sink = runner.instance("sink").stats.inlet("in")
        await until(lambda: sink.records > 0)
        await runner.scale("double", 3)
        added = [runner.instance("double", i).stats.inlet("in") for i in (1, 2)]
        await until(lambda: all(port.records > 0 for port in added))
        await runner.scale("double", 1)
        seen = sink.records
        await until(lambda: sink.records > seen + 500)
        runner.stop()

    runner = run_pipeline(numbers_plan(conf=["source.rate=5000"]), during=rescale)
    emitted = runner.instance("source").stats.outlet("out").records
    got = collected(runner)
    assert set(got) == {2 * n for n in range(emitted)}  # every record; duplicates are allowed...
    assert len(got) == runner.stats.snapshot()["streamlets"]["double"]["records_in"]  # ...and counted
    assert runner.instance("double", 2).ctx.stopping.is_set()
    assert runner.stats.snapshot()["streamlets"]["double"]["instances"] == 3


class _RefusingProducer(MemoryProducer):
    """Acknowledges nothing sent to one topic: what a broker that lost the records would do."""

    def __init__(self, transport: MemoryTransport, client_id: str, refused: str) -> None:
        super().__init__(transport, client_id)
        self.refused = refused

    async def send(self, topic, values, keys=None):  # type: ignore[no-untyped-def]
        ack = await super().send(topic, values, keys)
        if topic != self.refused:
            return ack
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(TransportError(f"{topic}: not acknowledged"))
        return failed


class _RefusingTransport(MemoryTransport):
    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def producer(self, client_id: str) -> MemoryProducer:
        return _RefusingProducer(self, client_id, self.refused)


def test_unacknowledged_outputs_fail_the_instance_and_their_positions_stay_uncommitted() -> None:
    transport = _RefusingTransport("numbers.double.out")
    runner = run_pipeline(numbers_plan(conf=["source.count=500"]), transport, drain_timeout=5)
    summary = runner.stats.snapshot()
    assert summary["ok"] is False
    assert "not acknowledged" in summary["streamlets"]["double"]["failures"][0]
    assert asyncio.run(transport.lag("numbers.double.in", ["numbers.source.out"])) > 0  # will be re-read


def test_unacknowledged_ingress_records_fail_the_source() -> None:
    runner = run_pipeline(numbers_plan(conf=["source.rate=5000"]), _RefusingTransport("numbers.source.out"))
    summary = runner.stats.snapshot()
    assert summary["ok"] is False
    assert "not acknowledged" in summary["streamlets"]["source"]["failures"][0]


def test_a_codec_that_raises_dead_letters_the_batch_instead_of_crashing() -> None:
    from inferstream.apps.examples import Doubler

    class _Broken:
        schema = "inferstream.examples.Numbered"

        def decode(self, payloads):  # type: ignore[no-untyped-def]
            raise RuntimeError("codec bug")

        def encode(self, batch):  # type: ignore[no-untyped-def]
            return []

    transport = MemoryTransport()
    plan = numbers_plan(conf=["source.count=30", "source.batch-size=10"])
    original = Doubler.inlet._codec
    Doubler.inlet._codec = _Broken()  # type: ignore[assignment]
    try:
        runner = run_pipeline(plan, transport)
    finally:
        Doubler.inlet._codec = original
    summary = runner.stats.snapshot()
    assert summary["ok"] is True
    assert summary["streamlets"]["double"]["dead_letters"] == 30
    letters, _ = DEAD_LETTER_CODEC.decode(transport.partitions("numbers.dead-letters")[0].read(0, 100)[1])
    assert {letter["reason"] for letter in letters} == {"decoding failed: RuntimeError: codec bug"}


class _SilentProducer(MemoryProducer):
    """Never acknowledges what goes to one topic: a broker that stopped answering."""

    def __init__(self, transport: MemoryTransport, client_id: str, topic: str) -> None:
        super().__init__(transport, client_id)
        self.topic = topic

    async def send(self, topic, values, keys=None):  # type: ignore[no-untyped-def]
        ack = await super().send(topic, values, keys)
        return asyncio.get_running_loop().create_future() if topic == self.topic else ack


class _SilentTransport(MemoryTransport):
    def producer(self, client_id: str) -> MemoryProducer:
        return _SilentProducer(self, client_id, "numbers.double.out")


def test_stopping_gives_up_on_batches_never_acknowledged_and_leaves_them_uncommitted() -> None:
    transport = _SilentTransport()
    plan = numbers_plan(conf=["source.count=300"])
    started = time.monotonic()
    run_pipeline(plan, transport, drain_timeout=0.5, shutdown_timeout=0.5)
    assert time.monotonic() - started < 30
    assert asyncio.run(transport.lag("numbers.double.in", ["numbers.source.out"])) == 300  # all re-read later
