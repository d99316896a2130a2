"""docs/fraud.md: every ```bash command and ```python block runs, in a scratch folder, as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "fraud.md"
LAUNCH = "from inferstream.cli.main import main; main()"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    work = tmp_path_factory.mktemp("guide")
    shutil.copytree(repo_root / "data", work / "data")
    return work


def test_guide_has_examples() -> None:
    assert len(_blocks("bash")) >= 4 and _blocks("python")


def test_guide_commands_run_in_order(workdir: Path) -> None:
    for block in _blocks("bash"):
        for line in block.strip().splitlines():
            command = shlex.split(line, comments=True)
            assert command[0] == "inferstream", f"guide command must be an inferstream verb: {line}"
            done = subprocess.run(
                [sys.executable, "-c", LAUNCH, *command[1:]],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=240,
                env={**os.environ, "COLUMNS": "200"},
            )
            assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (workdir / "models/fraud/1/report/report.md").is_file()
    assert (workdir / "models/recommender/1/model.onnx").is_file()


def test_guide_python_runs(workdir: Path) -> None:
    for block in _blocks("python"):
        done = subprocess.run(
            [sys.executable, "-c", block], cwd=workdir, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "out-of-fold ROC AUC" in done.stdout
