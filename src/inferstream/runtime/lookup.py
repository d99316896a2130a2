"""Find a blueprint by file path or by the name of a blueprint shipped in a package.

``inferstream run fraud-grpc`` looks for ``fraud-grpc.yaml`` (or ``.yml``, ``.conf``) in every
blueprint folder: ``inferstream/apps/<app>/blueprints/`` of this package, and the
``blueprints/`` folder of every package registered under the ``inferstream.blueprints`` entry
point group (``[project.entry-points."inferstream.blueprints"] myapp = "myapp"``).
"""

from __future__ import annotations

from importlib import import_module, metadata
from pathlib import Path

SUFFIXES = (".yaml", ".yml", ".conf")


class BlueprintNotFound(LookupError):
    pass


def blueprint_folders() -> list[Path]:
    folders: list[Path] = []
    apps = Path(import_module("inferstream.apps").__file__ or "").parent
    folders += sorted(p for p in apps.glob("*/blueprints") if p.is_dir())
    for entry in metadata.entry_points(group="inferstream.blueprints"):
        try:
            module = import_module(entry.value)
        except ImportError:
            continue
        folder = Path(module.__file__ or "").parent / "blueprints"
        if folder.is_dir():
            folders.append(folder)
    return folders


def packaged_blueprints() -> dict[str, Path]:
    """Blueprint name -> file, over every blueprint folder (the first folder wins on equal names)."""
    found: dict[str, Path] = {}
    for folder in blueprint_folders():
        for path in sorted(folder.iterdir()):
            if path.suffix in SUFFIXES:
                found.setdefault(path.stem, path)
    return found


def find_blueprint(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = packaged_blueprints()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    known = ", ".join(sorted(shipped)) or "none"
    raise BlueprintNotFound(
        f"no blueprint file or packaged blueprint named {str(name_or_path)!r} (packaged: {known})"
    )
