"""The served models: every version's state, the versions serving now, version labels.

The repository is only read and written on the server's event loop thread, so a request sees
either the old set of versions or the new one, never half of a change: that is what makes a
version switch atomic. Loading and unloading (slow, on threads) is the VersionManager's job
(``server/versions.py``); this module only keeps the books.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inferstream.models import LoadedModel, ModelLoadError
from inferstream.models.store import list_versions
from inferstream.server.errors import not_found

# TF Serving's ManagerState names (ModelVersionStatus.State in get_model_status.proto).
LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"


class _InFlight:
    """Requests running on one version; ``idle`` resolves when none is left."""

    def __init__(self) -> None:
        self.count = 0
        self._idle: asyncio.Event | None = None

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            self._idle.set()

    async def idle(self) -> None:
        if self.count == 0:
            return
        self._idle = asyncio.Event()
        await self._idle.wait()


@dataclass(frozen=True)
class ModelVersion:
    """One loaded version of one served model."""

    name: str
    version: int
    model: LoadedModel
    in_flight: _InFlight = field(default_factory=_InFlight, compare=False, repr=False)


@dataclass(frozen=True)
class VersionState:
    """What the status endpoints report for one version: a TF Serving state and an error, if any."""

    version: int
    state: str
    error: str = ""


def version_folders(base: Path) -> dict[int, Path]:
    """Numbered subfolders of a local base path; a base that is itself a model becomes version 1."""
    return {v: uri.path for v, uri in list_versions(base).items()}


class ModelRepository:
    """Every served model's versions: the highest serving version is the default."""

    def __init__(self) -> None:
        self._models: dict[str, dict[int, ModelVersion]] = {}
        self._states: dict[str, dict[int, VersionState]] = {}
        self._labels: dict[str, dict[str, int]] = {}

    @classmethod
    def load(cls, models: Mapping[str, Path], onnx_threads: int = 1) -> ModelRepository:
        """Load every version of ``{name: local base}`` at once (no polling, no checks)."""
        from inferstream.models import load_model

        repo = cls()
        for name, base in models.items():
            for version, folder in sorted(version_folders(Path(base)).items()):
                try:
                    model = load_model(folder, onnx_threads=onnx_threads)
                except ModelLoadError as exc:
                    raise ModelLoadError(f"model {name!r} version {version}: {exc}") from exc
                repo.add(ModelVersion(name, version, model))
        return repo

    @staticmethod
    def scan(root: Path) -> dict[str, Path]:
        """``{name: base}`` for each model folder under a repository root (``<root>/<model>/<version>``)."""
        if not root.is_dir():
            raise ModelLoadError(f"{root}: model repository folder not found")
        return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}

    # ---- changes (event loop thread only) ------------------------------------------------------

    def declare(self, name: str) -> None:
        """Make a model known before any version serves (its status then says why not)."""
        self._models.setdefault(name, {})
        self._states.setdefault(name, {})

    def add(self, entry: ModelVersion) -> None:
        self.declare(entry.name)
        self._models[entry.name][entry.version] = entry
        self._states[entry.name][entry.version] = VersionState(entry.version, AVAILABLE)

    def remove(self, name: str, version: int) -> ModelVersion | None:
        """Stop routing new requests to a version; returns it (to unload once idle) or None."""
        entry = self._models.get(name, {}).pop(version, None)
        if entry is not None:
            self.set_state(name, version, UNLOADING)
        return entry

    def set_state(self, name: str, version: int, state: str, error: str = "") -> None:
        self.declare(name)
        self._states[name][version] = VersionState(version, state, error)

    def set_labels(self, name: str, labels: Mapping[str, int]) -> None:
        self._labels[name] = dict(labels)

    # ---- reads ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def serving(self, name: str) -> dict[int, ModelVersion]:
        return self._models.get(name, {})

    def states(self, name: str) -> list[VersionState]:
        """Every version ever seen of ``name`` (loading, serving, failed, unloaded), highest first."""
        self._known(name)
        return [self._states[name][v] for v in sorted(self._states.get(name, {}), reverse=True)]

    def labels(self, name: str) -> dict[str, int]:
        return dict(self._labels.get(name, {}))

    def _known(self, name: str) -> dict[int, ModelVersion]:
        try:
            return self._models[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise not_found(f"Servable not found for request: model {name!r} (serving: {known})") from None

    def versions(self, name: str) -> list[ModelVersion]:
        """All serving versions of ``name``, highest first."""
        versions = self._known(name)
        if not versions:
            raise not_found(f"Servable not found for request: model {name!r}: {self._why_none(name)}")
        return [versions[v] for v in sorted(versions, reverse=True)]

    def _why_none(self, name: str) -> str:
        failed = [s for s in self.states(name) if s.error]
        if failed:
            return f"no version is serving; version {failed[0].version} failed: {failed[0].error}"
        return "no version is serving yet"

    def label_version(self, name: str, label: str) -> int:
        labels = self._labels.get(name, {})
        if label not in labels:
            self._known(name)
            known = ", ".join(sorted(labels)) or "none"
            raise not_found(f"model {name!r} has no version label {label!r} (labels: {known})")
        return labels[label]

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> ModelVersion:
        """The requested version (by number or label), or the highest serving one."""
        if label:
            version = self.label_version(name, label)
        versions = self.versions(name)
        if version is None:
            return versions[0]
        for entry in versions:
            if entry.version == version:
                return entry
        state = self._states.get(name, {}).get(version)
        why = f" ({state.state.lower()}: {state.error})" if state and state.error else ""
        known = ", ".join(str(v.version) for v in versions)
        raise not_found(
            f"Servable not found for request: model {name!r} version {version}{why} (serving: {known})"
        )

    def __iter__(self) -> Iterator[ModelVersion]:
        for name in self.names():
            for version in sorted(self._models[name], reverse=True):
                yield self._models[name][version]

    def close(self) -> None:
        for entry in list(self):
            entry.model.close()
