"""Recognise a model's format from its files and load it."""

from __future__ import annotations

from pathlib import Path

from inferstream.models.base import LoadedModel
from inferstream.models.spec import ModelLoadError

_SKLEARN_SUFFIXES = (".joblib", ".pkl", ".pickle")


def detect_format(path: Path) -> tuple[str, Path]:
    """Return (format, file or folder to load) for a model file or a folder holding one model."""
    if path.is_file():
        if path.suffix == ".onnx":
            return "onnx", path
        if path.suffix in _SKLEARN_SUFFIXES:
            return "sklearn", path
        raise ModelLoadError(f"{path}: unknown model file; want .onnx, .joblib, .pkl or SavedModel folder")
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such model file or folder")
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        return "tensorflow", path
    candidates = sorted(p for p in path.iterdir() if p.suffix == ".onnx" or p.suffix in _SKLEARN_SUFFIXES)
    if len(candidates) == 1:
        return detect_format(candidates[0])
    found = ", ".join(p.name for p in candidates) or "nothing"
    raise ModelLoadError(
        f"{path}: expected saved_model.pb or exactly one .onnx/.joblib/.pkl file, found {found}"
    )


def load_model(path: str | Path, *, onnx_threads: int = 1) -> LoadedModel:
    """Load an ONNX file, a scikit-learn joblib file or a TensorFlow SavedModel folder.

    ``path`` may also be a folder holding exactly one .onnx/.joblib/.pkl file (one version folder
    of a model repository). Raises ModelLoadError saying why when it cannot.
    """
    fmt, target = detect_format(Path(path))
    if fmt == "onnx":
        from inferstream.models.onnx_model import OnnxModel

        return OnnxModel(target, intra_op_threads=onnx_threads)
    if fmt == "sklearn":
        from inferstream.models.sklearn_model import SklearnModel

        return SklearnModel(target)
    from inferstream.models.savedmodel import SavedModel

    return SavedModel(target)
