"""S3 access for model URIs: listing, verified download, upload (boto3).

The client is configured the way every AWS tool is: endpoint (``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` or ``endpoint_url`` in ``~/.aws/config``), region and credentials from the
standard variables, config and credentials files. A custom endpoint (MinIO, SeaweedFS, Ceph...)
gets path-style addressing, since such servers rarely have a wildcard DNS name per bucket.

A download is verified: its byte count against the listing's size, and its MD5 against the ETag.
A single-part upload's ETag is the object's MD5. A multipart upload's ETag is
``MD5(MD5(part 1) || ... || MD5(part n))-n``: the part size is read with a ``HEAD ?partNumber=1``
and the ETag recomputed; when the store does not answer part numbers, size alone is checked.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferstream.models.spec import ModelLoadError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")
_CHUNK = 1024 * 1024


class ModelDownloadError(ModelLoadError):
    """A model object could not be listed or fetched, or failed its size or checksum check."""


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str  # without quotes


@lru_cache(maxsize=1)
def s3_client() -> S3Client:
    """One S3 client per process (boto3 clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    client = session.client("s3")
    if "amazonaws.com" not in (client.meta.endpoint_url or ""):
        client = session.client("s3", config=Config(s3={"addressing_style": "path"}))
    return client


def _describe(exc: Exception) -> str:
    """A client error as a line for the user, without request signatures or keys."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def list_objects(bucket: str, prefix: str) -> list[S3Object]:
    """Every object whose key starts with ``prefix``."""
    from botocore.exceptions import BotoCoreError, ClientError

    found: list[S3Object] = []
    try:
        for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(S3Object(item["Key"], int(item["Size"]), item.get("ETag", "").strip('"')))
    except (ClientError, BotoCoreError) as exc:
        raise ModelDownloadError(f"s3://{bucket}/{prefix}: cannot list ({_describe(exc)})") from None
    return found


def _expected_multipart_etag(bucket: str, obj: S3Object, parts: int, path: Path) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = s3_client().head_object(Bucket=bucket, Key=obj.key, PartNumber=1)
    except (ClientError, BotoCoreError):
        return None
    part_size = int(head.get("ContentLength", 0))
    if head.get("PartsCount") != parts or part_size <= 0:
        return None
    digests = []
    with path.open("rb") as f:
        while chunk := f.read(part_size):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def download(bucket: str, obj: S3Object, target: Path) -> None:
    """Fetch one object to ``target`` and verify its size and checksum (ModelDownloadError if wrong)."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"s3://{bucket}/{obj.key}"
    md5 = hashlib.md5(usedforsecurity=False)
    written = 0
    try:
        body = s3_client().get_object(Bucket=bucket, Key=obj.key)["Body"]
        with target.open("wb") as out:
            for chunk in body.iter_chunks(_CHUNK):
                md5.update(chunk)
                written += len(chunk)
                out.write(chunk)
    except (ClientError, BotoCoreError) as exc:
        raise ModelDownloadError(f"{where}: cannot download ({_describe(exc)})") from None
    if written != obj.size:
        raise ModelDownloadError(f"{where}: got {written} bytes, the store lists {obj.size}")
    if _MD5_ETAG.match(obj.etag):
        if md5.hexdigest() != obj.etag:
            raise ModelDownloadError(f"{where}: MD5 {md5.hexdigest()} does not match the ETag {obj.etag}")
    elif match := _MULTIPART_ETAG.match(obj.etag):
        expected = _expected_multipart_etag(bucket, obj, int(match[1]), target)
        if expected is None:
            log.info("%s: multipart ETag without part sizes from the store; size checked only", where)
        elif expected != obj.etag:
            raise ModelDownloadError(f"{where}: multipart checksum {expected} does not match {obj.etag}")
    else:
        log.info("%s: ETag %r is not an MD5 (encrypted object?); size checked only", where, obj.etag)


def upload_file(path: Path, bucket: str, key: str) -> None:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client().upload_file(str(path), bucket, key)
    except (ClientError, BotoCoreError, Boto3Error) as exc:  # S3UploadFailedError wraps the ClientError
        raise ModelDownloadError(f"s3://{bucket}/{key}: cannot upload ({_describe(exc)})") from None
