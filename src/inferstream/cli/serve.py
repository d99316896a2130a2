"""``inferstream serve``: the built-in TF Serving-compatible (REST + gRPC) and V2 model server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferstream.cli.main import app, console


def _parse_models(specs: list[str], repository: Path | None) -> dict[str, Path]:
    from inferstream.server.repository import ModelRepository

    models: dict[str, Path] = {}
    if repository is not None:
        models.update(ModelRepository.scan(repository))
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            hint = f"{spec!r}: write NAME=PATH, e.g. fraud=models/fraud"
            raise typer.BadParameter(hint, param_hint="--model")
        models[name] = Path(path)
    if not models:
        raise typer.BadParameter("give at least one --model NAME=PATH or a --model-repository folder")
    return models


@app.command("serve")
def serve(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="NAME=PATH of a model to serve; PATH holds version folders <n>/ (TF Serving layout) "
            "or is itself a SavedModel folder, .onnx or .joblib file. Repeat for several models.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    model_repository: Annotated[
        Path | None, typer.Option(help="Serve every model folder under this root: <root>/<model>/<version>/")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 opens the server to the network.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", "--rest-port", min=0, max=65535, help="REST port (0: any free port).")
    ] = 8501,
    grpc_port: Annotated[int, typer.Option(min=0, max=65535, help="gRPC port (0: any free port).")] = 8500,
    no_grpc: Annotated[bool, typer.Option("--no-grpc", help="Serve REST only.")] = False,
    max_batch_size: Annotated[
        int, typer.Option(min=1, help="Most rows merged into one inference call.")
    ] = 256,
    max_batch_wait_ms: Annotated[
        float,
        typer.Option(min=0, help="Hold a batch open this long for more requests (0: take what is queued)."),
    ] = 0.0,
    no_batching: Annotated[
        bool, typer.Option("--no-batching", help="One inference call per request.")
    ] = False,
    batch_workers: Annotated[
        int, typer.Option(min=1, help="Batched inference calls in flight per model version.")
    ] = 1,
    max_queued_rows: Annotated[
        int, typer.Option(min=1, help="Rows that may wait per model; beyond, requests get 503 / UNAVAILABLE.")
    ] = 65_536,
    inference_threads: Annotated[int, typer.Option(min=1, help="Threads running model calls.")] = 2,
    poll_seconds: Annotated[
        float, typer.Option(min=0, help="Look for new version folders this often and serve them (0: never).")
    ] = 0.0,
    max_request_mb: Annotated[
        float, typer.Option(min=0.01, help="Largest accepted request body, in MiB.")
    ] = 64.0,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write {host, rest_port, grpc_port, pid} as JSON here once serving.")
    ] = None,
) -> None:
    """Serve models over TensorFlow Serving's REST and gRPC APIs and the V2 (Open Inference) protocol.

    Example: inferstream serve --model fraud=tests/assets/models/seed-fraud, then
    curl http://localhost:8501/v1/models/fraud/versions/1/metadata
    """
    from inferstream.models import ModelLoadError
    from inferstream.server.app import BoundPorts, ModelServer, serve_until_stopped
    from inferstream.server.settings import BatchingSettings, ServerSettings

    models = _parse_models(model, model_repository)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ServerSettings(
        host=host,
        rest_port=port,
        grpc_port=None if no_grpc else grpc_port,
        max_request_bytes=int(max_request_mb * 1024 * 1024),
        inference_threads=inference_threads,
        poll_seconds=poll_seconds,
        batching=BatchingSettings(
            enabled=not no_batching,
            max_batch_size=max_batch_size,
            max_wait_ms=max_batch_wait_ms,
            workers_per_model=batch_workers,
            max_queued_rows=max_queued_rows,
        ),
    )
    status = console.status(f"Loading {len(models)} model(s)…")
    status.start()

    def on_ready(ports: BoundPorts, server: ModelServer) -> None:
        status.stop()
        table = Table(title="inferstream serve", show_lines=False)
        for column in ("model", "version", "format", "inputs", "outputs"):
            table.add_column(column)
        assert server.dataplane is not None
        for entry in server.dataplane.repository:
            sig = entry.model.signature()
            table.add_row(
                entry.name,
                str(entry.version),
                entry.model.format,
                ", ".join(f"{s.name}: {s.describe()}" for s in sig.inputs),
                ", ".join(f"{s.name}: {s.describe()}" for s in sig.outputs),
            )
        console.print(table)
        console.print(f"REST  http://{ports.host}:{ports.rest}  (TF Serving /v1, V2 /v2, /metrics)")
        if ports.grpc is not None:
            services = "tensorflow.serving.*, inference.GRPCInferenceService"
            console.print(f"gRPC  {ports.host}:{ports.grpc}  ({services})")
        console.print("Ctrl-C stops the server.")

    try:
        asyncio.run(serve_until_stopped(settings, models, ready_file, on_ready))
    except ModelLoadError as exc:
        status.stop()
        console.print(f"[red]Cannot load models:[/red] {exc}")
        raise typer.Exit(2) from None
    except OSError as exc:
        status.stop()
        # One line: which port (the message names it) and what to do.
        hint = "pick other ports with --port / --grpc-port (0 picks a free one)"
        console.print(f"[red]cannot serve[/red]: {escape(str(exc))}; {hint}", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        status.stop()
