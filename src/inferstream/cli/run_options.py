"""``inferstream run`` options beyond the run itself: the live console and tracing.

Kept apart from ``run.py`` so the verb stays a page long: each helper here is what one option does.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

import typer

from inferstream.cli.main import console
from inferstream.console import ConsoleServer, RunProbe, parse_address
from inferstream.observability.tracing import configure_tracing, env_endpoint
from inferstream.runtime.run_stats import PipelineStats

ConsoleOption = Annotated[
    str | None,
    typer.Option(
        "--console",
        metavar="[HOST:]PORT",
        help="Serve a live web page of the run (127.0.0.1 unless a host is given; PORT 0: a free port).",
    ),
]
TraceRatioOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Trace this share of ingress records (W3C trace context in record headers, OTLP export); "
        "needs --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT. Default: off, or OTEL_TRACES_SAMPLER_ARG.",
    ),
]
OtlpEndpointOption = Annotated[
    str | None,
    typer.Option(
        help="OTLP/gRPC collector for traces, e.g. 127.0.0.1:4317 (default: OTEL_EXPORTER_OTLP_ENDPOINT)."
    ),
]


def console_address(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    try:
        return parse_address(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--console") from None


def start_tracing(service: str, ratio: float | None, endpoint: str | None) -> list[str]:
    """Turn tracing on in this process when asked; returns the options that turn it on in children."""
    if ratio is not None and not (endpoint or env_endpoint()):
        raise typer.BadParameter(
            "tracing needs a collector: add --otlp-endpoint HOST:PORT or set OTEL_EXPORTER_OTLP_ENDPOINT",
            param_hint="--trace-ratio",
        )
    if configure_tracing(service, ratio, endpoint):
        console.print(f"tracing to {endpoint or env_endpoint()} (W3C trace context in record headers)")
    options = ["--trace-ratio", str(ratio)] if ratio is not None else []
    return options + (["--otlp-endpoint", endpoint] if endpoint else [])


async def with_console(
    address: tuple[str, int] | None, probe: RunProbe, transport: str, run: Awaitable[PipelineStats]
) -> PipelineStats:
    """Await ``run`` while the console serves ``probe``; its last view is the run's final counts."""
    if address is None:
        return await run
    server = ConsoleServer(probe, *address, transport_name=transport)
    console.print(f"console: {await server.start()}", soft_wrap=True, highlight=False)
    stats: PipelineStats | None = None
    try:
        stats = await run
        return stats
    finally:
        await server.finish(stats.snapshot() if stats is not None else None)
