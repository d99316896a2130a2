"""Model repository in TensorFlow Serving's layout, ``<base>/<version>/...``, and version resolution."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from inferstream.models import LoadedModel, ModelLoadError, load_model
from inferstream.server.errors import not_found


@dataclass(frozen=True)
class ModelVersion:
    """One loaded version of one served model."""

    name: str
    version: int
    model: LoadedModel


def version_folders(base: Path) -> dict[int, Path]:
    """Numbered subfolders of a model's base path; a base that is itself a model becomes version 1."""
    if not base.exists():
        raise ModelLoadError(f"{base}: no such model folder or file")
    if base.is_dir():
        numbered = {int(p.name): p for p in base.iterdir() if p.is_dir() and p.name.isdigit()}
        if numbered:
            return numbered
    return {1: base}


class ModelRepository:
    """Every version of every served model; the highest version is the default.

    All versions on disk are loaded at start; ``load_new_versions`` picks up folders added later
    (TF Serving's file-system polling). Versions are never unloaded while serving.
    """

    def __init__(self) -> None:
        self._models: dict[str, dict[int, ModelVersion]] = {}

    @classmethod
    def load(cls, models: Mapping[str, Path], onnx_threads: int = 1) -> ModelRepository:
        """Load ``{name: base path}``; raises ModelLoadError naming the model that failed."""
        repo = cls()
        for name, base in models.items():
            for version, folder in sorted(version_folders(Path(base)).items()):
                try:
                    model = load_model(folder, onnx_threads=onnx_threads)
                except ModelLoadError as exc:
                    raise ModelLoadError(f"model {name!r} version {version}: {exc}") from exc
                repo.add(ModelVersion(name, version, model))
        return repo

    def load_new_versions(
        self, models: Mapping[str, Path], onnx_threads: int = 1
    ) -> tuple[list[ModelVersion], list[str]]:
        """Load the version folders that appeared since the last look, without adding them (the
        caller adds them on its own thread); returns them and the reasons of any that failed."""
        found: list[ModelVersion] = []
        failures: list[str] = []
        for name, base in models.items():
            loaded = set(self._models.get(name, {}))
            try:
                folders = version_folders(Path(base))
            except ModelLoadError as exc:
                failures.append(f"model {name!r}: {exc}")
                continue
            for version, folder in sorted(folders.items()):
                if version in loaded:
                    continue
                try:
                    found.append(ModelVersion(name, version, load_model(folder, onnx_threads=onnx_threads)))
                except ModelLoadError as exc:
                    failures.append(f"model {name!r} version {version}: {exc}")
        return found, failures

    @staticmethod
    def scan(root: Path) -> dict[str, Path]:
        """``{name: base}`` for each model folder under a repository root (``<root>/<model>/<version>``)."""
        if not root.is_dir():
            raise ModelLoadError(f"{root}: model repository folder not found")
        return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}

    def add(self, entry: ModelVersion) -> None:
        self._models.setdefault(entry.name, {})[entry.version] = entry

    def names(self) -> list[str]:
        return sorted(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def versions(self, name: str) -> list[ModelVersion]:
        """All loaded versions of ``name``, highest first."""
        try:
            versions = self._models[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise not_found(f"Servable not found for request: model {name!r} (serving: {known})") from None
        return [versions[v] for v in sorted(versions, reverse=True)]

    def resolve(self, name: str, version: int | None = None) -> ModelVersion:
        """The requested version, or the highest one when ``version`` is None."""
        versions = self.versions(name)
        if version is None:
            return versions[0]
        for entry in versions:
            if entry.version == version:
                return entry
        known = ", ".join(str(v.version) for v in versions)
        raise not_found(f"Servable not found for request: model {name!r} version {version} (loaded: {known})")

    def __iter__(self) -> Iterator[ModelVersion]:
        for name in self.names():
            yield from self.versions(name)

    def close(self) -> None:
        for entry in self:
            entry.model.close()
