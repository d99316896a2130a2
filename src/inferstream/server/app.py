"""Start and stop the whole model server: load models, bind REST (and gRPC), report the bound ports.

From Python (tests, the demo, benchmarks)::

    server = ModelServer(ServerSettings(rest_port=0, grpc_port=0), {"fraud": "s3://bucket/fraud"})
    ports = await server.start()          # BoundPorts(rest=..., grpc=...)
    ...
    await server.stop()

From a shell: ``inferstream serve --model fraud=models/fraud --port 0 --grpc-port 0 --ready-file p.json``
writes ``{"host": ..., "rest_port": ..., "grpc_port": ..., "pid": ...}`` to ``p.json`` once it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from inferstream.models import ModelLoadError
from inferstream.server.dataplane import DataPlane
from inferstream.server.repository import ModelRepository
from inferstream.server.rest import build_rest_app
from inferstream.server.settings import ServerSettings
from inferstream.server.versions import ModelSource, VersionManager, VersionPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoundPorts:
    host: str
    rest: int
    grpc: int | None

    def as_json(self) -> dict[str, Any]:
        return {"host": self.host, "rest_port": self.rest, "grpc_port": self.grpc, "pid": os.getpid()}


ModelsArg = Mapping[str, str | Path] | Sequence[ModelSource]


def model_sources(models: ModelsArg, policy: VersionPolicy | None = None) -> list[ModelSource]:
    """``{name: base URI}`` (served with ``policy``, default all versions) or ModelSources as they are."""
    if isinstance(models, Mapping):
        chosen = policy or VersionPolicy("all")
        return [ModelSource(name, str(base), chosen) for name, base in models.items()]
    return list(models)


class ModelServer:
    def __init__(
        self, settings: ServerSettings, models: ModelsArg, policy: VersionPolicy | None = None
    ) -> None:
        self.settings = settings
        self.sources = model_sources(models, policy)
        self.dataplane: DataPlane | None = None
        self.versions: VersionManager | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: Any = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> BoundPorts:
        """Load every model (ModelLoadError if one has no version to serve), then bind."""
        s = self.settings
        repository = ModelRepository()
        self.dataplane = DataPlane(repository, s.batching, s.inference_threads)
        self.versions = VersionManager(repository, self.sources, s.onnx_threads, self.dataplane.unload)
        failures = await self.versions.sync()
        idle = [src.name for src in self.sources if not repository.serving(src.name)]
        if idle:
            await self.dataplane.close()
            reasons = "; ".join(failures) or f"no version found for {', '.join(idle)}"
            raise ModelLoadError(reasons)
        self._runner = web.AppRunner(build_rest_app(self.dataplane, s.max_request_bytes), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.rest_port)
        await site.start()
        rest_port = self._runner.addresses[0][1]
        grpc_port = None
        if s.grpc_port is not None:
            from inferstream.server.grpc_server import start_grpc_server

            self._grpc, grpc_port = await start_grpc_server(
                self.dataplane, s.host, s.grpc_port, s.max_request_bytes
            )
        if s.poll_seconds:
            self._poller = asyncio.create_task(self._poll_for_new_versions(s.poll_seconds))
        return BoundPorts(s.host, rest_port, grpc_port)

    async def _poll_for_new_versions(self, every: float) -> None:
        assert self.versions is not None
        while True:
            await asyncio.sleep(every)
            for reason in await self.versions.sync():  # logged; the status endpoints show it too
                log.warning("cannot serve a new version: %s", reason)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._grpc is not None:
            await self._grpc.stop(grace=1.0)
        if self._runner is not None:
            await self._runner.cleanup()
        if self.versions is not None:
            await self.versions.close()
        if self.dataplane is not None and self.dataplane.live():
            await self.dataplane.close()


async def serve_until_stopped(
    settings: ServerSettings,
    models: ModelsArg,
    ready_file: Path | None = None,
    on_ready: Callable[[BoundPorts, ModelServer], None] | None = None,
    policy: VersionPolicy | None = None,
) -> None:
    """Run the server until SIGINT/SIGTERM; write the bound ports to ``ready_file`` when serving."""
    server = ModelServer(settings, models, policy)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        ports = await server.start()
        if ready_file is not None:
            tmp = ready_file.with_suffix(ready_file.suffix + ".tmp")
            tmp.write_text(json.dumps(ports.as_json()))
            tmp.replace(ready_file)  # atomic: readers never see half a file
        if on_ready is not None:
            on_ready(ports, server)
        await stop.wait()
    finally:
        await server.stop()
