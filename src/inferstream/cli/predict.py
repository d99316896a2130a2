"""``inferstream predict``: one call to a model, as the original's gRPC "simple test" did.

    inferstream predict localhost:8500 --protocol tfserving --transport grpc --model fraud \\
        --input transaction=@row.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from inferstream.cli.main import app, console

err_console = type(console)(stderr=True)


def _bad_input(message: str) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint="--input")


def _parse_inputs(specs: list[str], dtype: str) -> dict[str, Any]:
    """``NAME=[[...]]`` (inline JSON) or ``NAME=@file.json`` into arrays; floats as ``dtype``."""
    import numpy as np

    inputs: dict[str, Any] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise _bad_input(f"{spec!r}: write NAME=<json array> or NAME=@file.json")
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                value = path.read_text()
            except OSError as exc:
                raise _bad_input(f"{name}: cannot read {path}: {exc.strerror}") from None
        try:
            array = np.asarray(json.loads(value))
        except (ValueError, TypeError) as exc:
            raise _bad_input(f"{name}: not a rectangular JSON array: {exc}") from None
        if array.dtype.kind == "f":
            array = array.astype(dtype)
        elif array.dtype.kind == "U":
            array = np.vectorize(lambda s: s.encode(), otypes=[object])(array)
        if array.ndim == 0:
            array = array.reshape(1)
        inputs[name] = array
    return inputs


def _parse_headers(specs: list[str]) -> dict[str, str]:
    headers = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{spec!r}: write KEY=VALUE", param_hint="--header")
        headers[key] = value
    return headers


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@app.command(
    "predict",
    epilog="Example: inferstream predict localhost:8500 --protocol tfserving --transport grpc --model fraud "
    "--input transaction=@row.json  (row.json: [[29 numbers]])",
)
def predict(
    target: Annotated[
        str,
        typer.Argument(
            help="host:port or URL of the server (a comma-separated list, dns:/// and kubernetes:/// work "
            "too); with --protocol embedded, the model file or SavedModel folder.",
            show_default=False,
        ),
    ],
    input: Annotated[
        list[str],
        typer.Option("--input", "-i", help="NAME=<JSON array> or NAME=@file.json; repeatable."),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    protocol: Annotated[str, typer.Option(help="tfserving | seldon | v2 | embedded")] = "tfserving",
    transport: Annotated[str, typer.Option(help="rest | grpc")] = "grpc",
    model: Annotated[str, typer.Option("--model", "-m", help="Model name on the server.")] = "",
    version: Annotated[int | None, typer.Option(help="Model version (default: latest).")] = None,
    version_label: Annotated[str | None, typer.Option(help="TF Serving version label.")] = None,
    signature: Annotated[str, typer.Option(help="Signature name (default: serving_default).")] = "",
    rest_format: Annotated[str, typer.Option(help="TF Serving REST body: row | columnar.")] = "columnar",
    path_prefix: Annotated[str, typer.Option(help="REST path prefix, e.g. /seldon/<ns>/<deployment>.")] = "",
    seldon_deployment: Annotated[str, typer.Option(help="gRPC metadata 'seldon' (Ambassador).")] = "",
    seldon_namespace: Annotated[str, typer.Option(help="gRPC metadata 'namespace' (Ambassador).")] = "",
    header: Annotated[
        list[str], typer.Option("--header", "-H", help="KEY=VALUE HTTP header / gRPC metadata; repeatable.")
    ] = [],  # noqa: B006
    tls: Annotated[bool, typer.Option("--tls", help="Connect with TLS.")] = False,
    ca_file: Annotated[Path | None, typer.Option(help="CA bundle for the server's certificate.")] = None,
    dtype: Annotated[str, typer.Option(help="numpy dtype of float inputs.")] = "float32",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 10.0,
    metadata: Annotated[bool, typer.Option("--metadata", help="Print the model's metadata instead.")] = False,
) -> None:
    """Send one request to a model and print its outputs as JSON, and the call's latency."""
    from pydantic import ValidationError

    from inferstream.executors.config import ExecutorConfig, TlsConfig
    from inferstream.executors.errors import ExecutorError
    from inferstream.executors.factory import open_executor

    if not input and not metadata:
        raise _bad_input("give at least one --input NAME=<json> (or --metadata)")
    inputs = _parse_inputs(input, dtype)
    embedded = protocol == "embedded"
    try:
        config = ExecutorConfig(
            protocol=protocol,
            transport=transport,
            target="" if embedded else target,
            model_path=target if embedded else None,  # a path or a model URI (s3://...)
            model=model, version=version, version_label=version_label, signature=signature,
            rest_format=rest_format,
            path_prefix=path_prefix, seldon_deployment=seldon_deployment, seldon_namespace=seldon_namespace,
            headers=_parse_headers(header),
            tls=TlsConfig(enabled=tls or ca_file is not None, ca_file=ca_file),
            timeout=timeout, retries=0,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
        err_console.print(f"[red]error:[/red] {problems}")
        raise typer.Exit(2) from None

    async def call() -> tuple[Any, str, float]:
        executor = await open_executor(config)
        try:
            started = time.perf_counter()
            if metadata:
                result: Any = await executor.metadata()
                return result, executor.source, time.perf_counter() - started
            outcome = await executor.call(inputs) if hasattr(executor, "call") else None
            if outcome is not None:
                return outcome.outputs, outcome.source, time.perf_counter() - started
            outputs = await executor.predict(inputs)
            return outputs, executor.source, time.perf_counter() - started
        finally:
            await executor.close()

    try:
        result, source, seconds = asyncio.run(call())
    except ExecutorError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if metadata:
        document = {
            "name": result.name,
            "versions": list(result.versions),
            "platform": result.platform,
            "inputs": [{"name": s.name, "dtype": str(s.dtype), "shape": s.shape} for s in result.inputs],
            "outputs": [{"name": s.name, "dtype": str(s.dtype), "shape": s.shape} for s in result.outputs],
        }
    else:
        document = {name: _jsonable(value.tolist()) for name, value in result.items()}
    sys.stdout.write(json.dumps(document) + "\n")
    err_console.print(f"latency: {seconds * 1000:.2f} ms ({source})")
