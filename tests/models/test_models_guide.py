"""docs/models.md: its Python examples run as written, in order, against a real S3 server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inferstream.devtools.seaweedfs import S3Server
from inferstream.server.model_config import parse_model_config
from inferstream.server.versions import VersionPolicy

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def test_guide_model_config_parses() -> None:
    (config,) = _blocks("protobuf")
    assert config == (GUIDE.parent / "models.config").read_text(), "the guide shows docs/models.config"
    (source,) = parse_model_config(config)
    assert source.base == "s3://models/fraud" and source.policy == VersionPolicy("specific", versions=(1, 2))
    assert source.labels == {"stable": 1, "canary": 2}


@pytest.mark.slow
def test_guide_python_runs_in_order(s3_env: S3Server, repo_root: Path, tmp_path: Path) -> None:
    from inferstream.models.s3 import s3_client

    if "models" in {b["Name"] for b in s3_client().list_buckets().get("Buckets", [])}:
        pytest.fail("the session's S3 server already has a 'models' bucket; the guide creates it")
    work = tmp_path / "work"  # the guide's relative paths, and what it writes, stay in here
    work.mkdir()
    for folder in ("docs", "tests"):
        (work / folder).symlink_to(repo_root / folder)
    outputs = []
    for block in _blocks("python"):
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "INFERSTREAM_MODEL_CACHE": str(tmp_path / "cache")},
        )
        assert done.returncode == 0, f"{block}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    assert outputs[0].strip() == "{1: ModelURI(scheme='s3', bucket='models', key='fraud/1')}"
    lines = outputs[1].strip().splitlines()
    assert lines[0] == "{'1': 'AVAILABLE'}"
    assert lines[1] == "{'2': 'AVAILABLE', '1': 'AVAILABLE'}"
    assert "'version': '2'" in lines[2]
