"""Model updates: ModelDescriptor records turned into the executor configuration they ask for.

A descriptor carries the model inline (``modelcontent``: the bytes of a zipped or tarred model
folder, or of a single ``.onnx`` / ``.joblib`` file) or by location (``modelSourceLocation``: a
path, ``file://`` or ``s3://`` URI, or a key in ``bucket``). Its ``modelName`` is ``name:version``
(``fraud:3``); without ``:version`` the location's last numeric folder is the version. Archives
are extracted by :func:`~inferstream.models.archive.extract_archive` (no path escapes, size bounds).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstream.models.archive import extract_archive, is_archive
from inferstream.models.spec import ModelLoadError
from inferstream.models.store import cache_root, fetch
from inferstream.models.uri import ModelURI

MAX_INLINE_BYTES = 512 * 1024 * 1024  # an inline model larger than this is refused, not written


@dataclass(frozen=True)
class ModelUpdate:
    """What one descriptor asks for: ``name:version`` and, for embedded serving, a local model path."""

    name: str
    version: int | None
    path: Path | None  # None: a remote server already holds the version (only the version changes)

    @property
    def label(self) -> str:
        """``name:version`` as ``modelResultMetadata.modelName`` carries it (docs/models.md)."""
        return f"{self.name}:{self.version}" if self.version is not None else self.name


def split_label(text: str) -> tuple[str, int | None]:
    """``fraud:3`` -> ("fraud", 3); ``fraud`` -> ("fraud", None)."""
    name, sep, version = text.rpartition(":")
    if sep and version.isdigit() and name:
        return name, int(version)
    return text, None


def descriptor(
    name: str, version: int | None, *, location: str = "", content: bytes | None = None, description: str = ""
) -> dict[str, Any]:
    """A ModelDescriptor record (what ``inferstream models publish`` writes)."""
    return {
        "modelName": f"{name}:{version}" if version is not None else name,
        "description": description,
        "model": None,
        "modelcontent": [content] if content is not None else None,
        "modelSourceLocation": [location] if location else None,
        "bucket": None,
        "datatype": "model",
    }  # fmt: skip


def resolve(record: dict[str, Any], *, need_path: bool = True) -> ModelUpdate:
    """The update a descriptor record asks for; ModelLoadError says why it cannot be served."""
    name, version = split_label(str(record.get("modelName") or ""))
    if not name:
        raise ModelLoadError("descriptor without modelName; write name:version, e.g. fraud:3")
    content = record.get("modelcontent") or []
    locations = [str(x) for x in record.get("modelSourceLocation") or [] if x]
    if version is None and locations:
        found = [p for p in re.split(r"[/\\]", locations[0]) if p.isdigit()]
        version = int(found[-1]) if found else None
    if not need_path:
        if version is None:
            raise ModelLoadError(f"{name}: a remote server needs a version; write {name}:<version>")
        return ModelUpdate(name, version, None)
    if content:
        return ModelUpdate(name, version, _inline(b"".join(content)))
    if not locations:
        raise ModelLoadError(f"{name}: descriptor has neither modelcontent nor modelSourceLocation")
    bucket = record.get("bucket")
    where = locations[0]
    in_bucket = bool(bucket) and "://" not in where
    uri = ModelURI("s3", str(bucket), where.strip("/")) if in_bucket else ModelURI.parse(where)
    return ModelUpdate(name, version, fetch(uri, cache_key=f"update:{uri}"))


def _inline(data: bytes) -> Path:
    """Inline bytes as a local model: an archive is extracted safely, a single file kept as is."""
    if len(data) > MAX_INLINE_BYTES:
        raise ModelLoadError(f"inline model of {len(data)} bytes is over {MAX_INLINE_BYTES}")
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = cache_root() / "inline" / digest
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    kind = _sniff(data)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / f"model{kind}"
        staged.write_bytes(data)
        if is_archive(staged.name):
            extract_archive(staged, Path(tmp) / "extracted")
            (Path(tmp) / "extracted").rename(target)
        else:
            target.mkdir()
            staged.rename(target / staged.name)
    return target


def _sniff(data: bytes) -> str:
    """The suffix the bytes' format needs (archives by magic number; else an ONNX protobuf)."""
    if data[:4] == b"PK\x03\x04":
        return ".zip"
    if data[:2] == b"\x1f\x8b":
        return ".tar.gz"
    if len(data) > 262 and data[257:262] == b"ustar":
        return ".tar"
    if data[:1] == b"\x80":  # a pickle (joblib)
        return ".joblib"
    return ".onnx"
