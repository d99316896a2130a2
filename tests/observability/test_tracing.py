"""Tracing primitives against a real Jaeger: record headers carry W3C context from stage to stage."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inferstream.devtools.jaeger import Jaeger
from inferstream.observability import tracing


@pytest.fixture
def traced(jaeger: Jaeger) -> Iterator[str]:
    service = f"test-{uuid.uuid4().hex[:8]}"
    assert tracing.configure_tracing(service, ratio=1.0, endpoint=jaeger.otlp_grpc)
    try:
        yield service
    finally:
        tracing.shutdown_tracing()


def _eventually(fetch: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = fetch()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_off_by_default_costs_nothing_and_carries_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.configure_tracing("nothing")
    assert not tracing.tracing_enabled()
    assert tracing.ingress_headers("ingress", "t", 100) is None
    sampled = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]
    assert tracing.consume_batch("s", "t", [sampled], [0]) is None
    assert tracing.outgoing_headers() == []


def test_standard_variables_turn_it_on_and_set_the_ratio() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
    assert tracing.env_endpoint(env) == "http://127.0.0.1:4317"
    assert tracing.env_ratio(env) == 0.01
    assert tracing.env_endpoint({**env, "OTEL_SDK_DISABLED": "true"}) is None
    assert tracing.env_ratio({"OTEL_TRACES_SAMPLER": "always_off"}) == 0.0


def test_a_ratio_samples_about_that_share_of_ingress_records(jaeger: Jaeger) -> None:
    assert tracing.configure_tracing("ratio-test", ratio=0.1, endpoint=jaeger.otlp_grpc)
    try:
        sampled = 0
        for _ in range(100):
            headers = tracing.ingress_headers("ingress", "t", 100) or []
            sampled += sum(1 for h in headers if h)
        assert 700 < sampled < 1300  # 10% of 10,000, well within chance
    finally:
        tracing.shutdown_tracing()


def test_context_flows_from_the_ingress_through_stages_to_a_model_call_and_server(
    jaeger: Jaeger, traced: str
) -> None:
    # ingress: 3 records, all sampled
    headers = tracing.ingress_headers("card-ingress", "app.card-ingress.out", 3)
    assert headers is not None and all(h and h[0][0] == "traceparent" for h in headers)
    # model-serving consumes them (record 1 failed to decode: not in the batch), calls the model once
    serving = tracing.consume_batch("model-serving", "app.card-ingress.out", headers, [0, 2])
    assert serving is not None and set(serving.spans) == {0, 1}
    contexts = tracing.record_contexts(serving, [0, 1])
    assert contexts is not None and len(contexts) == 2
    started = time.time_ns()
    tracing.end_waits(contexts, started)
    with tracing.call_span(contexts, records=2, target="127.0.0.1:8500"):
        metadata = tracing.outgoing_headers()
        assert [k for k, _ in metadata] == ["traceparent"]
        with tracing.server_span("Predict", metadata), tracing.child_span("model run"):
            pass
    out = serving.headers_for(2, None)
    serving.end()
    # the decider routes the first result only (to its fraud outlet); the egress consumes it
    assert out is not None
    decider = tracing.consume_batch("fraud-decider", "app.model-serving.out", out, [0, 1])
    assert decider is not None
    routed = decider.headers_for(1, [0])
    decider.end()
    egress = tracing.consume_batch("fraud-counter", "app.fraud-decider.fraud", routed, [0])
    assert egress is not None
    egress.end()
    tracing.flush_tracing()

    traces = _eventually(lambda: [t for t in jaeger.traces(traced) if len(t["spans"]) >= 7])
    assert traces, jaeger.traces(traced)
    longest = max(traces, key=lambda t: len(t["spans"]))
    spans = {s["spanID"]: s for s in longest["spans"]}
    names = [s["operationName"] for s in spans.values()]
    for name in ("card-ingress produce", "model-serving process", "batch wait", "model call", "Predict",
                 "model run", "fraud-decider process", "fraud-counter process"):
        assert name in names, names

    def parent(span: dict[str, Any]) -> str:
        refs = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        return spans[refs[0]["spanID"]]["operationName"] if refs else ""

    by_name = {s["operationName"]: s for s in spans.values()}
    assert parent(by_name["fraud-counter process"]) == "fraud-decider process"
    assert parent(by_name["fraud-decider process"]) == "model-serving process"
    assert parent(by_name["model-serving process"]) == "card-ingress produce"
    assert parent(by_name["batch wait"]) == "model-serving process"
    assert parent(by_name["model call"]) == "model-serving process"
    assert parent(by_name["Predict"]) == "model call"
    assert parent(by_name["model run"]) == "Predict"
    # the call is linked to the other sampled record of its batch (which has a trace of its own)
    links = [r for r in by_name["model call"]["references"] if r["refType"] == "FOLLOWS_FROM"]
    assert len(links) == 1


def test_records_from_other_producers_and_unsampled_records_carry_nothing(traced: str) -> None:
    assert tracing.consume_batch("s", "t", None, [0, 1]) is None
    assert tracing.consume_batch("s", "t", [None, [("other", b"x")]], [0, 1]) is None
    unsampled = [("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-00")]
    assert tracing.consume_batch("s", "t", [unsampled], [0]) is None
    with tracing.server_span("Predict", {"grpc-timeout": "1S"}):
        assert tracing.outgoing_headers() == []  # no caller context: the server makes no span
