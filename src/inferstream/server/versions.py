"""Which versions to serve, and switching between them while requests run (TF Serving's manager).

Each poll lists every model's base (local or S3), applies its version policy (latest N, all,
specific), and for each version that should serve and does not yet: fetches it, loads it beside
the ones serving, checks it (its default signature matches the serving one; a warm-up request of
zeros runs), then adds it on the event loop in one step, so the next request sees it. Versions no
longer wanted stop taking new requests at once and are unloaded when their last request ends. A
version that fails is marked END with the reason (the status endpoints show it) while the others
keep serving; it is tried again only when its files change.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferstream.models import LoadedModel, ModelLoadError, Signature, load_model
from inferstream.models.store import fetch, list_versions
from inferstream.models.uri import ModelURI
from inferstream.server.repository import END, LOADING, ModelRepository, ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionPolicy:
    """``latest`` (the ``num`` highest), ``all``, or ``specific`` (the listed ``versions``)."""

    kind: str = "latest"
    num: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> VersionPolicy:
        """``latest``, ``latest:N``, ``all`` or ``specific:1,2`` (ValueError saying so otherwise)."""
        kind, _, arg = text.partition(":")
        try:
            if kind == "latest":
                return cls("latest", int(arg) if arg else 1)
            if kind == "all" and not arg:
                return cls("all")
            if kind == "specific" and arg:
                return cls("specific", versions=tuple(sorted(int(v) for v in arg.split(","))))
        except ValueError:
            pass
        raise ValueError(f"{text!r}: write latest, latest:N, all or specific:1,2")

    def select(self, available: set[int]) -> set[int]:
        if self.kind == "all":
            return set(available)
        if self.kind == "specific":
            return set(self.versions) & available
        return set(sorted(available)[-max(self.num, 1) :])


@dataclass(frozen=True)
class ModelSource:
    """One served model: its name, its base URI, its version policy and its version labels."""

    name: str
    base: str
    policy: VersionPolicy = VersionPolicy()
    labels: Mapping[str, int] = field(default_factory=dict)


def warm_up_inputs(signature: Signature) -> dict[str, Any]:
    """One row of zeros (empty strings for text) per input, free dimensions of size 1."""
    inputs: dict[str, Any] = {}
    for spec in signature.inputs:
        shape = tuple(1 if d is None else d for d in (spec.shape or (1,)))
        if spec.dtype.kind in "OSU":
            inputs[spec.name] = np.full(shape, "", dtype=object)
        else:
            inputs[spec.name] = np.zeros(shape, dtype=spec.dtype)
    return inputs


def check_compatible(new: LoadedModel, serving: LoadedModel | None) -> None:
    """ModelLoadError unless ``new``'s default signature has the serving one's inputs and outputs."""
    if serving is None:
        return
    old_sig, new_sig = serving.signature(), new.signature()
    pairs = (("inputs", old_sig.inputs, new_sig.inputs), ("outputs", old_sig.outputs, new_sig.outputs))
    for kind, old, now in pairs:
        if [(s.name, s.dtype, s.shape) for s in old] != [(s.name, s.dtype, s.shape) for s in now]:
            want = ", ".join(f"{s.name}: {s.describe()}" for s in old)
            got = ", ".join(f"{s.name}: {s.describe()}" for s in now)
            raise ModelLoadError(f"signature mismatch: {kind} are {got}; the serving version has {want}")


class VersionManager:
    """Keeps the repository's serving versions in line with the store and the policies."""

    def __init__(
        self,
        repository: ModelRepository,
        sources: list[ModelSource],
        onnx_threads: int = 1,
        unload: Callable[[ModelVersion], Awaitable[None]] | None = None,
    ) -> None:
        self.repository = repository
        self.sources = sources
        self.onnx_threads = onnx_threads
        self._unload = unload
        self._failed: dict[tuple[str, int], str] = {}  # version → fingerprint of the files that failed
        self._unloading: set[asyncio.Task[None]] = set()
        for source in sources:
            repository.declare(source.name)
            repository.set_labels(source.name, source.labels)

    async def sync(self) -> list[str]:
        """One poll of every model; returns the reasons of the versions that failed this time."""
        failures: list[str] = []
        for source in self.sources:
            failures.extend(await self._sync_model(source))
        return failures

    async def _sync_model(self, source: ModelSource) -> list[str]:
        try:
            available = await asyncio.to_thread(list_versions, source.base)
        except ModelLoadError as exc:
            return [f"model {source.name!r}: {exc}"]
        wanted = source.policy.select(set(available))
        serving = self.repository.serving(source.name)
        failures = []
        for version in sorted(wanted - set(serving)):
            reason = await self._load(source, version, available[version])
            if reason:
                failures.append(reason)
        serving_now = set(self.repository.serving(source.name))
        if not wanted & serving_now:
            return failures  # no wanted version serves (they failed): the old ones keep serving
        for version in sorted(serving_now - wanted):
            entry = self.repository.remove(source.name, version)
            if entry is not None:
                task = asyncio.create_task(self._drain_and_unload(entry))
                self._unloading.add(task)
                task.add_done_callback(self._unloading.discard)
        return failures

    async def _load(self, source: ModelSource, version: int, location: ModelURI) -> str:
        key = (source.name, version)
        fingerprint = await asyncio.to_thread(_fingerprint, location)
        if self._failed.get(key) == fingerprint:
            return ""  # failed before with these very files; wait until they change
        self.repository.set_state(source.name, version, LOADING)
        serving = self.repository.serving(source.name)
        current = serving[max(serving)].model if serving else None
        try:
            model = await asyncio.to_thread(self._load_and_check, source, version, location, current)
        except Exception as exc:  # any failure of a user's model is reported, never fatal
            reason = str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
            self._failed[key] = fingerprint
            self.repository.set_state(source.name, version, END, reason)
            log.warning("model %r version %d refused: %s", source.name, version, reason)
            return f"model {source.name!r} version {version}: {reason}"
        self._failed.pop(key, None)
        self.repository.add(ModelVersion(source.name, version, model))  # atomic: on the loop thread
        log.info("serving model %r version %d (%s)", source.name, version, location)
        return ""

    def _load_and_check(
        self, source: ModelSource, version: int, location: ModelURI, current: LoadedModel | None
    ) -> LoadedModel:
        folder = fetch(location, cache_key=f"{ModelURI.parse(source.base)}@{version}")
        model = load_model(folder, onnx_threads=self.onnx_threads)
        try:
            check_compatible(model, current)
            signature = model.signature()
            outputs = model.predict(warm_up_inputs(signature))
            missing = [s.name for s in signature.outputs if s.name not in outputs]
            if missing:
                raise ModelLoadError(f"warm-up request returned no {', '.join(missing)}")
        except Exception as exc:
            model.close()
            if isinstance(exc, ModelLoadError):
                raise
            raise ModelLoadError(f"warm-up request failed: {type(exc).__name__}: {exc}") from exc
        return model

    async def _drain_and_unload(self, entry: ModelVersion) -> None:
        await entry.in_flight.idle()
        if self._unload is not None:
            await self._unload(entry)
        await asyncio.to_thread(entry.model.close)
        self.repository.set_state(entry.name, entry.version, END)
        log.info("unloaded model %r version %d", entry.name, entry.version)

    async def close(self) -> None:
        if self._unloading:
            await asyncio.gather(*self._unloading, return_exceptions=True)


def _fingerprint(location: ModelURI) -> str:
    """Names, sizes and times (or ETags) of a version's files: a failed version is retried on change."""
    digest = hashlib.sha256()
    try:
        if location.is_local:
            paths = [location.path] if location.path.is_file() else sorted(location.path.rglob("*"))
            for path in paths:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        else:
            from inferstream.models.s3 import list_objects

            for obj in list_objects(location.bucket, location.key):
                digest.update(f"{obj.key}\0{obj.size}\0{obj.etag}\n".encode())
    except (OSError, ModelLoadError) as exc:
        digest.update(str(exc).encode())
    return digest.hexdigest()
