"""The model store against a real S3 server (SeaweedFS) and local folders: URIs, versions, downloads."""

from __future__ import annotations

import hashlib
import io
import secrets
import zipfile
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from inferstream.devtools.seaweedfs import S3Server
from inferstream.models import ModelLoadError, load_model
from inferstream.models.s3 import ModelDownloadError, S3Object, download, s3_client
from inferstream.models.store import fetch_version, list_versions, upload_folder
from inferstream.models.uri import ModelURI


def onnx_bytes(offset: float) -> bytes:
    model = LinearRegression()
    model.coef_, model.intercept_, model.n_features_in_ = np.ones(4), offset, 4
    return bytes(to_onnx(model, np.zeros((1, 4), np.float32), target_opset=15).SerializeToString())


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def answer(folder: Path) -> float:
    model = load_model(folder)
    return float(model.predict({"X": np.ones((1, 4), np.float32)})["variable"].reshape(-1)[0])


def new_bucket() -> str:
    name = f"models-{secrets.token_hex(4)}"
    s3_client().create_bucket(Bucket=name)
    return name


def test_uris_parse() -> None:
    assert ModelURI.parse("models/fraud") == ModelURI("file", "", "models/fraud")
    assert ModelURI.parse("file:///srv/models/fraud") == ModelURI("file", "", "/srv/models/fraud")
    assert ModelURI.parse("s3://bucket/models/fraud/") == ModelURI("s3", "bucket", "models/fraud")
    assert str(ModelURI.parse("s3://bucket/models/fraud").child("3")) == "s3://bucket/models/fraud/3"
    bad_uris = (("gs://b/m", "unsupported scheme"), ("s3:///m", "names a bucket"), ("file://host/m", "local"))
    for bad, reason in bad_uris:
        with pytest.raises(ModelLoadError, match=reason):
            ModelURI.parse(bad)


def test_local_layout_with_folders_and_archives(tmp_path: Path) -> None:
    base = tmp_path / "m"
    (base / "1").mkdir(parents=True)
    (base / "1" / "model.onnx").write_bytes(onnx_bytes(100))
    (base / "2.zip").write_bytes(zipped({"model.onnx": onnx_bytes(200)}))
    (base / "notes").mkdir()  # not a version
    assert sorted(list_versions(base)) == [1, 2]
    assert list_versions(f"file://{base}").keys() == {1, 2}
    assert answer(fetch_version(base, 1)) == pytest.approx(104)
    assert answer(fetch_version(base, 2)) == pytest.approx(204)  # extracted into the cache
    with pytest.raises(ModelLoadError, match=r"no version 7 \(found: 1, 2\)"):
        fetch_version(base, 7)


def test_s3_layout_download_cache_and_archives(s3_env: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket()
    client = s3_client()
    client.put_object(Bucket=bucket, Key="fraud/1/model.onnx", Body=onnx_bytes(100))
    client.put_object(Bucket=bucket, Key="fraud/2/model.onnx", Body=onnx_bytes(200))
    client.put_object(Bucket=bucket, Key="fraud/3.zip", Body=zipped({"m/model.onnx": onnx_bytes(300)}))
    client.put_object(Bucket=bucket, Key="fraud/README", Body=b"not a version")
    uri = f"s3://{bucket}/fraud"
    assert sorted(list_versions(uri)) == [1, 2, 3]

    first = fetch_version(uri, 2)
    assert answer(first) == pytest.approx(204)
    cached = first / "model.onnx"
    stamp = cached.stat().st_mtime_ns
    assert fetch_version(uri, 2) == first and cached.stat().st_mtime_ns == stamp  # from the cache
    assert answer(fetch_version(uri, 3) / "m") == pytest.approx(304)  # archive extracted safely

    # A changed object (new ETag) invalidates the cached copy.
    client.put_object(Bucket=bucket, Key="fraud/2/model.onnx", Body=onnx_bytes(250))
    assert answer(fetch_version(uri, 2)) == pytest.approx(254)

    # A base that is itself one model object is version 1.
    single = f"s3://{bucket}/fraud/1/model.onnx"
    assert list(list_versions(single)) == [1]
    assert answer(fetch_version(single, 1)) == pytest.approx(104)


@pytest.mark.slow  # > 5 s on a loaded 2-core machine
def test_multipart_object_is_verified(s3_env: S3Server, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    bucket = new_bucket()
    payload = np.random.default_rng(3).bytes(12 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3_client().upload_file(str(source), bucket, "big/1/weights.bin", Config=config)
    head = s3_client().head_object(Bucket=bucket, Key="big/1/weights.bin")
    etag = head["ETag"].strip('"')
    assert etag.endswith("-3"), etag  # three parts: the multipart ETag form
    target = tmp_path / "got.bin"
    download(bucket, S3Object("big/1/weights.bin", len(payload), etag), target)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
    wrong = etag[:-2].replace(etag[0], "0" if etag[0] != "0" else "1", 1) + "-3"
    with pytest.raises(ModelDownloadError, match="multipart checksum"):
        download(bucket, S3Object("big/1/weights.bin", len(payload), wrong), target)


def test_download_checks_size_and_md5(s3_env: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket()
    s3_client().put_object(Bucket=bucket, Key="m/1/model.onnx", Body=b"model bytes")
    md5 = hashlib.md5(b"model bytes").hexdigest()
    download(bucket, S3Object("m/1/model.onnx", 11, md5), tmp_path / "ok")
    with pytest.raises(ModelDownloadError, match="does not match the ETag"):
        download(bucket, S3Object("m/1/model.onnx", 11, "0" * 32), tmp_path / "bad-md5")
    with pytest.raises(ModelDownloadError, match="got 11 bytes, the store lists 12"):
        download(bucket, S3Object("m/1/model.onnx", 12, md5), tmp_path / "bad-size")


@pytest.mark.slow  # > 5 s on a loaded 2-core machine
def test_s3_errors_are_clear(s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = new_bucket()
    with pytest.raises(ModelLoadError, match="nothing stored under this prefix"):
        list_versions(f"s3://{bucket}/absent")
    with pytest.raises(ModelLoadError, match="NoSuchBucket"):
        list_versions("s3://no-such-bucket-here/m")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    s3_client.cache_clear()
    with pytest.raises(ModelLoadError, match=r"SignatureDoesNotMatch|AccessDenied") as caught:
        list_versions(f"s3://{bucket}/m")
    assert "wrong-secret" not in str(caught.value)


def test_upload_folder_round_trips(s3_env: S3Server, tmp_path: Path) -> None:
    bucket = new_bucket()
    (tmp_path / "out" / "1" / "report").mkdir(parents=True)
    (tmp_path / "out" / "1" / "model.onnx").write_bytes(onnx_bytes(7))
    (tmp_path / "out" / "1" / "report" / "r.txt").write_text("ok")
    keys = upload_folder(tmp_path / "out", f"s3://{bucket}/fraud")
    assert keys == ["fraud/1/model.onnx", "fraud/1/report/r.txt"]
    assert answer(fetch_version(f"s3://{bucket}/fraud", 1)) == pytest.approx(11)


def test_concurrent_fetches_of_one_version_share_the_cache(s3_env: S3Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bucket = new_bucket()
    s3_client().put_object(Bucket=bucket, Key="m/1/model.onnx", Body=onnx_bytes(5))
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda _: fetch_version(f"s3://{bucket}/m", 1), range(4)))
    assert len(set(folders)) == 1 and answer(folders[0]) == pytest.approx(9)
    leftovers = [p.name for p in folders[0].parent.parent.iterdir() if ".tmp-" in p.name]
    assert leftovers == [], "every losing copy is removed"
