"""The model store: list a model's versions and fetch one as a local folder, from a path or S3.

    versions = list_versions("s3://models/fraud")        # {1: "s3://models/fraud/1", 3: ...}
    folder = fetch_version("s3://models/fraud", 3)       # verified, cached, archives extracted
    model = load_model(folder)

Layout (TensorFlow Serving's, on a disk or in a bucket): ``<base>/<version>/...`` where a version
is a folder of numbered name, or an archive ``<base>/<version>.zip`` / ``.tar.gz``. A version folder
holding nothing but one archive is extracted too. A base without numbered children that is itself
a model (folder, file or archive) is version 1.

Remote versions are downloaded into a local cache (``$INFERSTREAM_MODEL_CACHE``, default
``~/.cache/inferstream/models``) keyed by URI and version; a cached copy is reused while the
store lists the same objects (key, size, ETag), so a restart does not download again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from inferstream.models.archive import extract_archive, is_archive
from inferstream.models.s3 import S3Object, download, list_objects, upload_file
from inferstream.models.spec import ModelLoadError
from inferstream.models.uri import ModelURI

_ARCHIVE_VERSION_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def cache_root() -> Path:
    env = os.environ.get("INFERSTREAM_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "inferstream" / "models"


def _version_of(name: str) -> int | None:
    """The version a child name stands for: ``3`` or ``3.zip`` → 3; anything else → None."""
    stem = name
    for suffix in _ARCHIVE_VERSION_SUFFIXES:
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            break
    return int(stem) if stem.isdigit() else None


# ---- listing -----------------------------------------------------------------------------------


def list_versions(uri: str | Path | ModelURI) -> dict[int, ModelURI]:
    """``{version: location}`` under a model's base (ModelLoadError when the base does not exist)."""
    base = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
    return _list_local(base) if base.is_local else _list_s3(base)


def _list_local(base: ModelURI) -> dict[int, ModelURI]:
    path = base.path
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model folder or file")
    if path.is_dir():
        found: dict[int, ModelURI] = {}
        for child in path.iterdir():
            version = _version_of(child.name)
            if version is not None and (child.is_dir() or is_archive(child.name)):
                found.setdefault(version, base.child(child.name))
        if found:
            return found
    return {1: base}


def _list_s3(base: ModelURI) -> dict[int, ModelURI]:
    prefix = f"{base.key}/" if base.key else ""
    objects = list_objects(base.bucket, prefix)
    found: dict[int, ModelURI] = {}
    for obj in objects:
        first = obj.key[len(prefix) :].split("/", 1)
        version = _version_of(first[0])
        if version is None:
            continue
        if len(first) == 2 or is_archive(first[0]):  # a folder <n>/..., or an archive <n>.zip
            found.setdefault(version, base.child(first[0]))
    if found:
        return found
    if objects or list_objects(base.bucket, base.key):  # the base itself: a folder or one object
        return {1: base}
    raise ModelLoadError(f"{base}: nothing stored under this prefix")


# ---- fetching ----------------------------------------------------------------------------------


def fetch_version(uri: str | Path | ModelURI, version: int) -> Path:
    """A local folder or file holding ``version`` of the model at ``uri``, ready for ``load_model``."""
    base = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
    versions = list_versions(base)
    if version not in versions:
        known = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise ModelLoadError(f"{base}: no version {version} (found: {known})")
    return fetch(versions[version], cache_key=f"{base}@{version}")


def fetch_latest(uri: str | Path | ModelURI) -> Path:
    """The highest version under ``uri`` as a local folder or file (a model itself is version 1)."""
    base = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
    versions = list_versions(base)
    latest = max(versions)
    return fetch(versions[latest], cache_key=f"{base}@{latest}")


def fetch(location: ModelURI, cache_key: str) -> Path:
    """A local copy of one model location (a folder, file or archive; local or on S3)."""
    if location.is_local:
        path = location.path
        if path.is_file() and is_archive(path.name):
            stat = path.stat()
            manifest = [{"key": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}]
            return _cached(cache_key, manifest, lambda tmp: _extract_into(path, tmp))
        return path
    objects = list_objects(location.bucket, location.key)
    exact = [o for o in objects if o.key == location.key]
    prefix = f"{location.key}/"
    if exact:  # a single object (a model file or an archive)
        objects, prefix = exact, location.key[: location.key.rfind("/") + 1]
    else:
        objects = [o for o in objects if o.key.startswith(prefix) and not o.key.endswith("/")]
    if not objects:
        raise ModelLoadError(f"{location}: nothing stored there")
    manifest = [{"key": o.key, "size": o.size, "etag": o.etag} for o in objects]
    return _cached(cache_key, manifest, lambda tmp: _download_into(location.bucket, objects, prefix, tmp))


def _cached(cache_key: str, manifest: list[dict[str, object]], fill: Callable[[Path], None]) -> Path:
    """The cached copy of ``cache_key`` with exactly these objects, filled on first use.

    An entry is named by the key and the manifest, and never changes once in place: a changed
    object makes a new entry (older ones of the key are then removed), and two processes filling
    the same entry at once both succeed (the second finds the first's and drops its own).
    """
    root = cache_root()
    wanted = {"uri": cache_key, "objects": manifest}
    key = hashlib.sha256(cache_key.encode()).hexdigest()[:20]
    content = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:20]
    entry = root / f"{key}-{content}"
    if (entry / "manifest.json").is_file():
        return entry / "model"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-", dir=root))
    try:
        fill(tmp / "model")
        (tmp / "manifest.json").write_text(json.dumps(wanted))
        try:
            tmp.rename(entry)  # complete copies only: a crash leaves a .tmp- folder, never a half entry
        except OSError:
            if not (entry / "manifest.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process got there first: same content
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in root.glob(f"{key}-*"):
        if old != entry:
            shutil.rmtree(old, ignore_errors=True)
    return entry / "model"


def _download_into(bucket: str, objects: list[S3Object], prefix: str, target: Path) -> None:
    target.mkdir(parents=True)
    downloads = target.parent / "downloads"
    downloads.mkdir()
    for obj in objects:
        relative = obj.key[len(prefix) :]
        parts = [p for p in relative.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise ModelLoadError(f"s3://{bucket}/{obj.key}: key does not name a file under {prefix!r}")
        local = downloads.joinpath(*parts)
        local.parent.mkdir(parents=True, exist_ok=True)
        download(bucket, obj, local)
    files = [p for p in downloads.rglob("*") if p.is_file()]
    if len(files) == 1 and is_archive(files[0].name):  # one archive: the model is inside
        target.rmdir()
        extract_archive(files[0], target)
        shutil.rmtree(downloads)
    else:
        target.rmdir()
        downloads.rename(target)


def _extract_into(archive: Path, target: Path) -> None:
    extract_archive(archive, target)


# ---- uploading ---------------------------------------------------------------------------------


def upload_folder(folder: str | Path, uri: str | ModelURI) -> list[str]:
    """Copy every file under ``folder`` to ``uri`` (S3), keeping relative paths; returns the keys."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such folder to upload")
    target = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
    if target.is_local:
        raise ValueError("upload_folder writes to S3; copy local folders with shutil")
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = "/".join(p for p in (target.key, path.relative_to(folder).as_posix()) if p)
        upload_file(path, target.bucket, key)
        keys.append(key)
    return keys
