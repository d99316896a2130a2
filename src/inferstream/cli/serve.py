"""``inferstream serve``: the built-in TF Serving-compatible (REST + gRPC) and V2 model server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferstream.cli.main import app, console

if TYPE_CHECKING:
    from inferstream.server.versions import ModelSource


def _parse_models(specs: list[str], repository: Path | None) -> dict[str, str]:
    from inferstream.server.repository import ModelRepository

    models: dict[str, str] = {}
    if repository is not None:
        models.update({name: str(path) for name, path in ModelRepository.scan(repository).items()})
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            hint = f"{spec!r}: write NAME=URI, e.g. fraud=models/fraud or fraud=s3://bucket/fraud"
            raise typer.BadParameter(hint, param_hint="--model")
        models[name] = path
    return models


def _model_sources(
    specs: list[str], repository: Path | None, config_file: Path | None, policy: str
) -> list[ModelSource]:
    from inferstream.server.app import model_sources
    from inferstream.server.model_config import ModelConfigError, read_model_config
    from inferstream.server.versions import VersionPolicy

    try:
        chosen = VersionPolicy.parse(policy)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--version-policy") from None
    sources = model_sources(_parse_models(specs, repository), chosen)
    if config_file is not None:
        try:
            sources.extend(read_model_config(config_file))
        except ModelConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="--model-config-file") from None
    if not sources:
        raise typer.BadParameter(
            "give at least one --model NAME=URI, a --model-repository folder or a --model-config-file"
        )
    return sources


@app.command("serve")
def serve(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="NAME=URI of a model to serve: a path, file:// or s3://bucket/prefix holding version "
            "folders <n>/ or archives <n>.zip|.tar.gz (TF Serving layout), or itself a model "
            "(SavedModel folder, .onnx, .joblib, archive). Repeat for several models.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    model_config_file: Annotated[
        Path | None,
        typer.Option(
            help="TF Serving model config (text format of ModelServerConfig): models with base_path, "
            "model_version_policy and version_labels. Its policy default is TF Serving's: latest 1."
        ),
    ] = None,
    version_policy: Annotated[
        str,
        typer.Option(
            help="Versions to serve of each --model: latest, latest:N, all or specific:1,2 "
            "(TF Serving's policies; the highest serving version answers requests naming none)."
        ),
    ] = "all",
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
        float,
        typer.Option(
            "--poll-seconds",
            "--file-system-poll-wait-seconds",
            min=0,
            help="Look at each model's base (local or S3) this often; load new versions beside the old, "
            "switch when they pass the checks, unload the old (0: never).",
        ),
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

    sources = _model_sources(model, model_repository, model_config_file, version_policy)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import os

    from inferstream.observability.tracing import configure_tracing

    # continue callers' traces when OTEL_EXPORTER_OTLP_ENDPOINT names a collector (off otherwise)
    configure_tracing(os.environ.get("OTEL_SERVICE_NAME", "inferstream-serve"))
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
    status = console.status(f"Loading {len(sources)} model(s)…")
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
        asyncio.run(serve_until_stopped(settings, sources, ready_file, on_ready))
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
