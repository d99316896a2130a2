"""Safe extraction: each crafted bad archive is refused and leaves nothing behind."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from inferstream.models.archive import UnsafeArchiveError, extract_archive
from inferstream.models.spec import ModelLoadError


def _zip(path: Path, entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for member in members:
            payload = (data or {}).get(member.name)
            if payload is not None:
                member.size = len(payload)
                tf.addfile(member, io.BytesIO(payload))
            else:
                tf.addfile(member)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _refused(archive: Path, target: Path, match: str, **bounds: int) -> None:
    with pytest.raises(UnsafeArchiveError, match=match):
        extract_archive(archive, target, **bounds)
    assert not target.exists(), "a refused archive leaves no folder behind"


def test_good_zip_and_tar_extract(tmp_path: Path) -> None:
    files = {"model.onnx": b"onnx-bytes", "variables/variables.index": b"idx"}
    extract_archive(_zip(tmp_path / "m.zip", files), tmp_path / "z")
    members = [_file(n) for n in files]
    extract_archive(_tar(tmp_path / "m.tar.gz", members, files), tmp_path / "t")
    for folder in ("z", "t"):
        assert (tmp_path / folder / "model.onnx").read_bytes() == b"onnx-bytes"
        assert (tmp_path / folder / "variables" / "variables.index").read_bytes() == b"idx"


def test_zip_slip_dotdot(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "slip.zip", {"ok.txt": b"1", "../../evil.txt": b"owned"})
    _refused(archive, tmp_path / "out" / "x", r"'\.\./\.\./evil\.txt' climbs out")
    assert not (tmp_path / "evil.txt").exists()


def test_zip_absolute_path(tmp_path: Path) -> None:
    evil = tmp_path / "abs-evil.txt"
    _refused(_zip(tmp_path / "abs.zip", {str(evil): b"owned"}), tmp_path / "out", "absolute path")
    assert not evil.exists()


def test_zip_windows_drive_path(tmp_path: Path) -> None:
    _refused(_zip(tmp_path / "drive.zip", {"C:/evil.txt": b"owned"}), tmp_path / "out", "absolute path")


def test_zip_symlink(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "link.zip", {}, symlinks={"escape": "/etc"})
    _refused(archive, tmp_path / "out", "symbolic link")


def test_zip_bomb_is_bounded_by_bytes_written(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(5_000_000)})
    assert archive.stat().st_size < 100_000  # the compressed file is small; its content is not
    _refused(archive, tmp_path / "out", "more than 1000000 bytes", max_bytes=1_000_000)


def test_zip_too_many_entries(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(20)})
    _refused(archive, tmp_path / "out", "more than 10 entries", max_entries=10)


def test_tar_dotdot(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "slip.tar.gz", [_file("a/../../evil.txt")], {"a/../../evil.txt": b"x"})
    _refused(archive, tmp_path / "out" / "x", "climbs out")
    assert not (tmp_path / "out" / "evil.txt").exists()


def test_tar_absolute_path(tmp_path: Path) -> None:
    evil = str(tmp_path / "abs-evil.txt")
    _refused(_tar(tmp_path / "abs.tar.gz", [_file(evil)], {evil: b"x"}), tmp_path / "out", "absolute")


def test_tar_symlink_out_then_write_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [_link("escape", str(outside)), _file("escape/evil.txt")]
    archive = _tar(tmp_path / "link.tar.gz", members, {"escape/evil.txt": b"owned"})
    _refused(archive, tmp_path / "out", "is a symbolic link")
    assert list(outside.iterdir()) == []


def test_tar_hard_link_out(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "hard.tar.gz", [_link("passwd", "/etc/passwd", tarfile.LNKTYPE)])
    _refused(archive, tmp_path / "out", "is a hard link")


def test_tar_device_file(tmp_path: Path) -> None:
    device = tarfile.TarInfo("null")
    device.type = tarfile.CHRTYPE
    _refused(_tar(tmp_path / "dev.tar.gz", [device]), tmp_path / "out", "not a file or folder")


def test_tar_bomb_is_bounded(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "bomb.tar.gz", [_file("zeros.bin")], {"zeros.bin": bytes(3_000_000)})
    _refused(archive, tmp_path / "out", "more than 1000000 bytes", max_bytes=1_000_000)


def test_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.zip"
    fake.write_bytes(b"this is not a zip")
    with pytest.raises(ModelLoadError, match="not a valid zip file"):
        extract_archive(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()
