"""``inferstream models publish URI --topic T``: the operator's action that hot-swaps a running model.

Writes one ModelDescriptor record (``modelName`` = ``name:version``) to the updates topic that a
``HotSwapServing`` streamlet reads (docs/models.md, "Hot swap"). By default the descriptor names the
model's location (the streamlet fetches it through the model store); ``--inline`` carries the model
itself, zipped (a folder) or as is (a single file or archive).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Annotated

import typer

from inferstream.cli.main import app, console
from inferstream.models.spec import ModelLoadError
from inferstream.models.store import fetch
from inferstream.models.uri import ModelURI
from inferstream.runtime.codecs import AvroCodec
from inferstream.schemas import MODEL_DESCRIPTOR
from inferstream.serving.model_updates import descriptor
from inferstream.transports.kafka import KafkaTransport

models = typer.Typer(help="Model updates for running pipelines (HotSwapServing).", no_args_is_help=True)
app.add_typer(models, name="models")


def _name_and_version(uri: ModelURI, name: str, version: int | None) -> tuple[str, int | None]:
    """``.../fraud/3`` -> ("fraud", 3) unless given; a location without a numeric folder has none."""
    parts = [p for p in uri.key.replace("\\", "/").split("/") if p]
    if version is None and parts and parts[-1].isdigit():
        version = int(parts[-1])
        parts = parts[:-1]
    return name or (parts[-1] if parts else "model"), version


def _inline_bytes(uri: ModelURI) -> bytes:
    """The model's bytes: a folder zipped, a file (model or archive) as it is."""
    local = fetch(uri, cache_key=f"publish:{uri}")
    if local.is_file():
        return local.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(local.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(local).as_posix())
    return buffer.getvalue()


@models.command("publish")
def publish(
    uri: Annotated[
        str,
        typer.Argument(
            help="The model version: a path, file:// or s3:// URI, e.g. "
            "s3://models/fraud/3 (its last numeric folder is the version)."
        ),
    ],
    topic: Annotated[str, typer.Option(help="The updates topic the HotSwapServing streamlet reads.")],
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap servers (default: $INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)."
        ),
    ] = None,
    inline: Annotated[
        bool, typer.Option(help="Carry the model in the record (modelcontent) instead of its location.")
    ] = False,
    name: Annotated[str, typer.Option(help="Model name (default: the folder above the version).")] = "",
    version: Annotated[int | None, typer.Option(help="Version (default: from the URI).")] = None,
) -> None:
    """Write a ModelDescriptor for URI to TOPIC: running HotSwapServing streamlets load, check and swap it."""
    try:
        parsed = ModelURI.parse(uri)
        name, version = _name_and_version(parsed, name, version)
        if not inline and parsed.is_local:
            if not parsed.path.exists():
                raise ModelLoadError(f"{uri}: no such file or folder")
            uri = str(parsed.path.resolve())  # the streamlet may run in another working directory
        record = descriptor(
            name,
            version,
            content=_inline_bytes(parsed) if inline else None,
            location="" if inline else uri,
            description="published by inferstream models",
        )
    except ModelLoadError as exc:
        console.print(f"[red]error[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    payload = AvroCodec(MODEL_DESCRIPTOR).encode([record])[0]
    try:
        asyncio.run(_send(bootstrap, topic, payload))
    except Exception as exc:  # the broker's own words: unreachable, unknown topic...
        console.print(f"[red]error[/red]: could not write to {topic}: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    label = f"{name}:{version}" if version is not None else name
    how = f"inline, {len(payload):,} bytes" if inline else uri
    console.print(f"published [bold]{label}[/bold] ({how}) to {topic}", soft_wrap=True)


async def _send(bootstrap: str | None, topic: str, payload: bytes) -> None:
    transport = KafkaTransport(bootstrap)
    try:
        producer = transport.producer("inferstream-models-publish")
        try:
            await asyncio.wait_for(await producer.send(topic, [payload]), 30.0)
            await producer.flush(10.0)
        finally:
            await producer.close()
    finally:
        await transport.close()
