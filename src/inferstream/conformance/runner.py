"""One conformance run: pick the battery of a protocol × transport, run it in order, report.

Order: health and readiness, model metadata (the infer and error checks build their requests
from it), infer at several batch sizes, then the errors the server must answer for bad requests.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Literal

from inferstream.conformance import (
    seldon_rest,
    tfserving_grpc,
    tfserving_rest,
    v2_grpc,
    v2_rest,
)
from inferstream.conformance.battery import run_checks
from inferstream.conformance.common import TIMEOUT, Context, http_base, infer_checks, metadata_checks
from inferstream.conformance.results import Report
from inferstream.executors.base import ModelExecutor, TensorSpec
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.seldon_rest import SeldonRestExecutor
from inferstream.executors.tfserving_grpc import TfServingGrpcExecutor
from inferstream.executors.tfserving_rest import TfServingRestExecutor
from inferstream.executors.v2_grpc import V2GrpcExecutor
from inferstream.executors.v2_rest import V2RestExecutor

ConformanceProtocol = Literal["v2", "tfserving", "seldon"]
ConformanceTransport = Literal["rest", "grpc"]

BATTERIES: dict[tuple[str, str], ModuleType] = {
    ("v2", "rest"): v2_rest,
    ("v2", "grpc"): v2_grpc,
    ("tfserving", "rest"): tfserving_rest,
    ("tfserving", "grpc"): tfserving_grpc,
    ("seldon", "rest"): seldon_rest,
}
EXECUTORS: dict[tuple[str, str], Callable[[str, ExecutorConfig], ModelExecutor]] = {
    ("v2", "rest"): V2RestExecutor,
    ("v2", "grpc"): V2GrpcExecutor,
    ("tfserving", "rest"): TfServingRestExecutor,
    ("tfserving", "grpc"): TfServingGrpcExecutor,
    ("seldon", "rest"): SeldonRestExecutor,
}


class ConformanceError(ValueError):
    """The run cannot start (an unsupported combination, a missing model name)."""


async def run_conformance(
    target: str, protocol: ConformanceProtocol, transport: ConformanceTransport = "rest", model: str = "",
    inputs: tuple[TensorSpec, ...] = (),
) -> Report:
    """Run the battery; ``inputs`` stand in for a metadata answer that declares none."""
    key = (protocol, transport)
    if key not in BATTERIES:
        raise ConformanceError(f"no battery for {protocol} over {transport} (seldon: rest only)")
    if protocol != "seldon" and not model:
        raise ConformanceError(f"--model is needed for protocol {protocol}")
    battery = BATTERIES[key]
    base = http_base(target) if transport == "rest" else target.split("://", 1)[-1].rstrip("/")
    config = ExecutorConfig(
        protocol=protocol, transport=transport, target=target, model=model,
        timeout=TIMEOUT, retries=1,
    )
    executor = EXECUTORS[key](base, config)
    ctx = Context(base=base, model=model, executor=executor, declared_inputs=inputs)
    report = Report(target=target, protocol=protocol, transport=transport, model=model)
    try:
        report.checks += await run_checks(battery.checks_before(ctx))
        meta = battery.metadata_checks(ctx) if hasattr(battery, "metadata_checks") else metadata_checks(ctx)
        report.checks += await run_checks(meta)
        report.checks += await run_checks(infer_checks(ctx))
        report.checks += await run_checks(battery.checks_after(ctx))
    finally:
        await executor.close()
        if hasattr(battery, "close"):
            await battery.close(ctx)
    return report
