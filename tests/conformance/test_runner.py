"""The battery against real servers: inferstream serve (all must pass), MLServer, KServe, seldon-core.

Budget: about 40 s when the session's servers are already up (each run is ~15 requests); starting
MLServer, KServe and seldon-core adds their start-up (~20 s each on a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio

import pytest
from executors.conftest import RunningServer

from inferstream.conformance import ConformanceError, Report, Status, markdown_table, run_conformance
from inferstream.conformance.samples import parse_input_spec
from inferstream.executors.base import TensorSpec

INFER_ROWS = ("infer float32 batch 1", "infer float32 batch 4", "infer float32 batch 16")


#: MLServer's and KServe's scikit-learn runtimes declare no inputs: the battery is told them.
DOUBLER_INPUT = (parse_input_spec("transaction:FP32:-1,29"),)


def check(target: str, protocol: str, transport: str, model: str = "fraud",
          inputs: tuple[TensorSpec, ...] = ()) -> Report:
    return asyncio.run(run_conformance(target, protocol, transport, model, inputs))  # type: ignore[arg-type]


def status(report: Report, name: str) -> Status:
    return next(c.status for c in report.checks if c.name == name)


@pytest.mark.parametrize(("protocol", "transport"), [
    ("v2", "rest"), ("v2", "grpc"), ("tfserving", "rest"), ("tfserving", "grpc"),
])
def test_builtin_server_conforms(builtin_server: RunningServer, protocol: str, transport: str) -> None:
    target = builtin_server.rest if transport == "rest" else builtin_server.grpc
    report = check(target, protocol, transport)
    failed = [(c.name, c.reason) for c in report.checks if c.status is Status.FAIL]
    assert not failed and report.ok, failed
    for name in INFER_ROWS:  # several batch sizes of the model's one datatype were sent and answered
        assert status(report, name) is Status.PASS
    expected_na = 3 if protocol == "tfserving" else 0  # no server health / metadata in TF Serving
    assert report.counts()["n/a"] == expected_na
    assert "| malformed" in markdown_table(report)


def test_a_wrong_model_name_fails_the_required_checks(builtin_server: RunningServer) -> None:
    report = check(builtin_server.rest, "v2", "rest", model="absent")
    assert not report.ok
    assert status(report, "model ready") is Status.FAIL
    assert status(report, "model metadata") is Status.FAIL
    assert "404" in next(c.reason for c in report.checks if c.name == "model ready")


def test_nothing_listening_fails_every_check_with_its_reason() -> None:
    from inferstream.bench.ports import free_port

    report = check(f"http://127.0.0.1:{free_port()}", "v2", "rest")
    assert not report.ok
    assert all(c.status is Status.FAIL for c in report.checks if c.required)
    assert "server live" in [c.name for c in report.failed_required]


def test_usage_errors() -> None:
    with pytest.raises(ConformanceError, match="--model"):
        check("http://127.0.0.1:1", "v2", "rest", model="")
    with pytest.raises(ConformanceError, match="seldon"):
        check("127.0.0.1:1", "seldon", "grpc")


@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_mlserver(mlserver: RunningServer, transport: str) -> None:
    target = mlserver.rest if transport == "rest" else mlserver.grpc
    report = check(target, "v2", transport, inputs=DOUBLER_INPUT)
    for name in ("server live", "server ready", "model ready", "model metadata", *INFER_ROWS):
        assert status(report, name) is Status.PASS, report.to_json()
    # what MLServer 1.7.1 was measured to do (docs/conformance.md): empty metadata, bad input → INTERNAL
    assert status(report, "metadata declares inputs/outputs") is Status.FAIL
    assert status(report, "unknown model → " + ("404" if transport == "rest" else "NOT_FOUND")) is Status.PASS
    if transport == "rest":
        assert report.ok and "HTTP 422" in _reason(report, "malformed body → 4xx")
    else:
        assert not report.ok and "INTERNAL" in _reason(report, "malformed contents → INVALID_ARGUMENT")


@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_kserve(kserve: RunningServer, transport: str) -> None:
    target = kserve.rest if transport == "rest" else kserve.grpc
    report = check(target, "v2", transport, inputs=DOUBLER_INPUT)
    for name in ("server live", "server ready", "server metadata", "model ready", *INFER_ROWS):
        assert status(report, name) is Status.PASS, report.to_json()
    assert "model_repository_extension" in _reason(report, "server metadata")
    # KServe 0.21 passes a wrong shape through to the model (which answers): measured, not a 400
    wrong = "wrong shape → " + ("400" if transport == "rest" else "INVALID_ARGUMENT")
    assert status(report, wrong) is Status.FAIL
    assert report.ok is (transport == "rest")


@pytest.mark.servers
@pytest.mark.slow
def test_seldon_core_runs_what_applies(seldon: RunningServer) -> None:
    report = check(seldon.rest, "seldon", "rest", model="")
    for name in ("server live", "server ready", "infer float64 batch 1", "infer float64 batch 16"):
        assert status(report, name) is Status.PASS, report.to_json()
    not_applicable = {c.name for c in report.checks if c.status is Status.NOT_APPLICABLE}
    assert {"unknown model → 404", "wrong datatype → 400", "server metadata"} <= not_applicable
    assert report.ok


def _reason(report: Report, name: str) -> str:
    return next(c.reason for c in report.checks if c.name == name)
