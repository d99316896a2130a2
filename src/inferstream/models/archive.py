"""Safe extraction of model archives (``.zip``, ``.tar.gz``/``.tgz``/``.tar``).

Nothing lands outside the target folder: absolute names, ``..`` components, drive letters and
links (symbolic or hard) are refused, as are devices and FIFOs; the total extracted size and the
number of entries are bounded, counted on the bytes actually written (a zip header may lie about
sizes). A refused archive raises ``UnsafeArchiveError`` naming the entry, and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from inferstream.models.spec import ModelLoadError

DEFAULT_MAX_BYTES = 4 * 1024**3  # 4 GiB: larger than any model here, smaller than a bomb
DEFAULT_MAX_ENTRIES = 100_000
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_CHUNK = 1024 * 1024


class UnsafeArchiveError(ModelLoadError):
    """An archive entry would escape the target, is a link or device, or the archive is too large."""


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    """The entry's path relative to the target, or UnsafeArchiveError when it could escape."""
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: entry {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"{archive.name}: entry {name!r} climbs out of the folder with '..'")
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


class _Budget:
    def __init__(self, archive: Path, max_bytes: int, max_entries: int) -> None:
        self.archive, self.max_bytes, self.max_entries = archive, max_bytes, max_entries
        self.bytes = 0
        self.entries = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise UnsafeArchiveError(f"{self.archive.name}: more than {self.max_entries} entries")

    def copy(self, source: IO[bytes], target: Path) -> None:
        with target.open("xb") as out:
            while chunk := source.read(_CHUNK):
                self.bytes += len(chunk)
                if self.bytes > self.max_bytes:
                    raise UnsafeArchiveError(
                        f"{self.archive.name}: extracts to more than {self.max_bytes} bytes; "
                        "raise the bound if the model really is that large"
                    )
                out.write(chunk)


def extract_archive(
    archive: Path, target: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_entries: int = DEFAULT_MAX_ENTRIES
) -> Path:
    """Extract ``archive`` into the new folder ``target``; on any refusal ``target`` is removed."""
    target.mkdir(parents=True, exist_ok=False)
    budget = _Budget(archive, max_bytes, max_entries)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target, budget)
        elif archive.name.lower().endswith(ARCHIVE_SUFFIXES):
            _extract_tar(archive, target, budget)
        else:
            raise ModelLoadError(f"{archive.name}: not an archive; want {', '.join(ARCHIVE_SUFFIXES)}")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _extract_zip(archive: Path, target: Path, budget: _Budget) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ModelLoadError(f"{archive.name}: not a valid zip file ({exc})") from None
    with zf:
        for info in zf.infolist():
            budget.entry()
            relative = _safe_relative(info.filename, archive)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"{archive.name}: entry {info.filename!r} is a symbolic link")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix mode recorded
                raise UnsafeArchiveError(f"{archive.name}: entry {info.filename!r} is not a file or folder")
            destination = target / relative
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as source:
                    budget.copy(source, destination)
            except (zipfile.BadZipFile, OSError) as exc:  # CRC mismatch, truncated data, duplicates
                raise ModelLoadError(f"{archive.name}: entry {info.filename!r}: {exc}") from None


def _extract_tar(archive: Path, target: Path, budget: _Budget) -> None:
    try:
        tf = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise ModelLoadError(f"{archive.name}: not a valid tar archive ({exc})") from None
    with tf:
        for member in tf:
            budget.entry()
            relative = _safe_relative(member.name, archive)
            if member.issym() or member.islnk():
                kind = "symbolic" if member.issym() else "hard"
                raise UnsafeArchiveError(
                    f"{archive.name}: entry {member.name!r} is a {kind} link (to {member.linkname!r})"
                )
            destination = target / relative
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isreg():
                raise UnsafeArchiveError(f"{archive.name}: entry {member.name!r} is not a file or folder")
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tf.extractfile(member)
            if source is None:
                raise ModelLoadError(f"{archive.name}: entry {member.name!r} has no data")
            try:
                budget.copy(source, destination)
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise ModelLoadError(f"{archive.name}: entry {member.name!r}: {exc}") from None
