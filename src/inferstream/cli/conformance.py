"""``inferstream conformance``: a battery of protocol checks against any model server.

    inferstream conformance http://127.0.0.1:8080 --protocol v2 --model fraud
    inferstream conformance 127.0.0.1:8500 --protocol tfserving --transport grpc --model fraud --json
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from inferstream.cli.main import app, console


@app.command()
def conformance(
    url: Annotated[str, typer.Argument(help="the server: http://host:port for REST, host:port for gRPC")],
    protocol: Annotated[str, typer.Option(help="v2 (Open Inference Protocol), tfserving, or seldon")] = "v2",
    transport: Annotated[str, typer.Option(help="rest or grpc (seldon: rest)")] = "rest",
    model: Annotated[str, typer.Option(help="the model to check (needed for v2 and tfserving)")] = "",
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="NAME:DATATYPE:DIMS (e.g. transaction:FP32:-1,29) for a model whose metadata lists "
        "no inputs; repeat per input")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON, not a table")] = False,
) -> None:
    """Check a server's protocol: health, metadata, infer at several batch sizes, errors of bad requests.

    Exits 1 when a required check fails (the table says which and why), 2 on a usage error.
    """
    from inferstream.conformance import ConformanceError, report_table, run_conformance, summary_line

    if protocol not in ("v2", "tfserving", "seldon"):
        raise typer.BadParameter("write v2, tfserving or seldon", param_hint="--protocol")
    if transport not in ("rest", "grpc"):
        raise typer.BadParameter("write rest or grpc", param_hint="--transport")
    from inferstream.conformance.samples import parse_input_spec

    try:
        specs = tuple(parse_input_spec(text) for text in inputs or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--input") from None
    try:
        report = asyncio.run(run_conformance(url, protocol, transport, model, specs))  # type: ignore[arg-type]
    except ConformanceError as exc:
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        console.print(report_table(report))
        console.print(summary_line(report), style="green" if report.ok else "red")
    raise typer.Exit(0 if report.ok else 1)
