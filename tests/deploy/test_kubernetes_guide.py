"""docs/kubernetes.md: every ```bash command runs, in order, in a scratch folder, against the real API server
(files the guide shows as ```yaml blocks starting with ``# file: NAME`` are written first). inferstream
commands run in this process (the CLI app, as the console script calls it), kubectl as itself."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from kube_cluster import BIN, REPO, KubeCluster
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app

pytestmark = pytest.mark.slow
GUIDE = REPO / "docs" / "kubernetes.md"
_register_verbs()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def test_guide_commands_run_against_the_api_server(
    crds_installed: KubeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for block in _blocks("yaml"):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            (tmp_path / first.removeprefix("# file: ").strip()).write_text(body)
    env = {**crds_installed.env(), "COLUMNS": "200"}
    commands = [line for block in _blocks("bash") for line in block.strip().splitlines()]
    assert len(commands) >= 15
    for line in commands:
        command = shlex.split(line, comments=True)
        if command[0] == "inferstream":
            result = CliRunner(env=env).invoke(app, command[1:])
            assert result.exit_code == 0, f"{line}\n{result.output[-3000:]}"
            continue
        assert command[0] == "kubectl", f"guide commands are inferstream or kubectl: {line}"
        done = subprocess.run(
            [str(BIN / "kubectl"), *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    replicas = crds_installed.kubectl(
        "-n", "fraud", "get", "deployment", "fraud-grpc-model-serving", "-o", "jsonpath={.spec.replicas}"
    )
    assert replicas.stdout == "3"
    partitions = crds_installed.kubectl(
        "-n", "fraud", "get", "kafkatopic", "fraud-grpc.card-ingress.out", "-o", "jsonpath={.spec.partitions}"
    )
    assert partitions.stdout == "3"
    secret = crds_installed.kubectl("-n", "fraud", "get", "secret", "kafka-credentials", "-o", "name")
    assert secret.stdout.strip() == "secret/kafka-credentials"
    assert len(list((tmp_path / "k8s" / "fraud-grpc").glob("*.yaml"))) > 10
    retention = next(
        (tmp_path / "k8s" / "short-retention").glob("*kafkatopic-fraud-grpc.card-ingress.out.yaml")
    )
    assert "retention.ms: 21600000" in retention.read_text()
