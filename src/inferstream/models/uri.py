"""Model URIs: a local path, ``file:///abs/path`` or ``s3://bucket/prefix``.

A URI names a model's *base*: in TensorFlow Serving's layout its children ``<base>/<version>/``
are the versions (on S3 too: ``s3://bucket/models/fraud/3/model.onnx``). A base that is itself a
model (a SavedModel folder, an ``.onnx`` file, an archive) is version 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from inferstream.models.spec import ModelLoadError


@dataclass(frozen=True)
class ModelURI:
    """A parsed model location: ``scheme`` is ``file`` or ``s3``."""

    scheme: str
    bucket: str  # S3 bucket; "" for files
    key: str  # S3 key prefix without surrounding slashes, or the local path

    @classmethod
    def parse(cls, text: str | Path) -> ModelURI:
        """Parse a path or URI; ModelLoadError says what is accepted when it is neither."""
        if isinstance(text, Path):
            return cls("file", "", str(text))
        if "://" not in text:
            return cls("file", "", text)
        parsed = urlparse(text)
        if parsed.scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise ModelLoadError(f"{text}: file URIs name a local path, file:///abs/path")
            return cls("file", "", unquote(parsed.path))
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise ModelLoadError(f"{text}: an S3 URI names a bucket, s3://bucket/prefix")
            return cls("s3", parsed.netloc, parsed.path.strip("/"))
        raise ModelLoadError(f"{text}: unsupported scheme {parsed.scheme!r}; use a path, file:// or s3://")

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def path(self) -> Path:
        """The local path (file URIs only)."""
        if not self.is_local:
            raise ValueError(f"{self} is not a local path")
        return Path(self.key)

    def child(self, name: str) -> ModelURI:
        if self.is_local:
            return ModelURI("file", "", str(Path(self.key) / name))
        return ModelURI("s3", self.bucket, f"{self.key}/{name}" if self.key else name)

    def __str__(self) -> str:
        if self.is_local:
            return self.key
        return f"s3://{self.bucket}/{self.key}"
