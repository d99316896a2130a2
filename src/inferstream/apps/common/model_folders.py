"""Model folders in TensorFlow Serving's layout: ``<base>/<name>/<integer version>/``."""

from __future__ import annotations

from pathlib import Path


def versions(model_dir: Path) -> list[int]:
    """The integer versions present under ``model_dir``, ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def latest_version_dir(model_dir: Path, file_name: str = "model.onnx") -> Path | None:
    """The newest version folder that holds ``file_name``, or None."""
    for version in reversed(versions(model_dir)):
        if (model_dir / str(version) / file_name).is_file():
            return model_dir / str(version)
    return None


def new_version_dir(model_dir: Path) -> Path:
    """Create and return the folder for the next version (1 when there is none)."""
    existing = versions(model_dir)
    target = model_dir / str((existing[-1] if existing else 0) + 1)
    target.mkdir(parents=True)
    return target
