"""Find a blueprint by file path or by the name of a blueprint shipped in a package.

``inferstream run fraud-grpc`` looks for ``fraud-grpc.yaml`` (or ``.yml``, ``.conf``) in the
``blueprints/`` folder of every package registered under the ``inferstream.blueprints`` entry
point group (``[project.entry-points."inferstream.blueprints"] myapp = "myapp"``). inferstream's
own apps register the same way (see its pyproject.toml), so the runtime imports no app.
"""

from __future__ import annotations

from importlib import import_module, metadata
from pathlib import Path

SUFFIXES = (".yaml", ".yml", ".conf")
GROUP = "inferstream.blueprints"


class BlueprintNotFound(LookupError):
    pass


def _registered() -> list[metadata.EntryPoint]:
    """Entry points of the group: inferstream's own first, then by distribution and name."""

    def order(entry: metadata.EntryPoint) -> tuple[bool, str, str]:
        dist = entry.dist.name if entry.dist is not None else ""
        return dist != "inferstream", dist, entry.name

    return sorted(metadata.entry_points(group=GROUP), key=order)


def blueprint_folders() -> list[Path]:
    """The ``blueprints/`` folder of every registered package that has one."""
    folders: list[Path] = []
    for entry in _registered():
        try:
            module = import_module(entry.value)
        except ImportError:
            continue
        folder = Path(module.__file__ or "").parent / "blueprints"
        if folder.is_dir() and folder not in folders:
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
