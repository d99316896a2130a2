"""docs/operations.md: every ```bash command runs as written and ends as its ``# exit N: text`` says.

The first block (pre-flight, verify) runs against a real ``inferstream serve``; the second (a
failing Kafka run, ``errors``, ``replay``, the fixed run) against the session's real broker, on a
fresh ``fraud-grpc`` application (its topics deleted first). The environment points the
packaged blueprint at them (``INFERSTREAM_MODEL_SERVING_TARGET``,
``INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS``), as a user's would. Budget: ~4 minutes (three Kafka runs).
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from operations_helpers import REPO, Served, inferstream, make_project, serving

from inferstream.transports.kafka import KafkaTransport

GUIDE = REPO / "docs" / "operations.md"
EXPECT = re.compile(r"#\s*exit (\d+)(?::\s*(.*))?$")


def _commands(block: int) -> list[tuple[list[str], int, str]]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    found = []
    for line in blocks[block].strip().splitlines():
        expect = EXPECT.search(line)
        assert expect is not None, f"every command says how it ends: {line}"
        command = shlex.split(line[: expect.start()])
        assert command[0] == "inferstream", line
        found.append((command[1:], int(expect.group(1)), (expect.group(2) or "").strip()))
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("ops-guide"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Served]:
    with serving(project) as served:
        yield served


def _run_block(block: int, project: Path, env: dict[str, str]) -> None:
    commands = _commands(block)
    assert commands
    for args, code, text in commands:
        done = inferstream(*args, cwd=project, env=env, timeout=300)
        shown = " ".join(["inferstream", *args])
        assert done.code == code, f"{shown}: exit {done.code}, not {code}\n{done.out[-4000:]}"
        assert text in done.out, f"{shown}: {text!r} not in\n{done.out[-4000:]}"
        assert "Traceback" not in done.out, done.out[-4000:]


@pytest.mark.slow
def test_guide_checks_before_the_first_record(project: Path, server: Served) -> None:
    _run_block(0, project, {"INFERSTREAM_MODEL_SERVING_TARGET": server.grpc_target})


@pytest.mark.slow
@pytest.mark.kafka
def test_guide_round_of_failed_records_on_kafka(project: Path, server: Served, bootstrap: str) -> None:
    transport = KafkaTransport(bootstrap)

    async def fresh() -> None:  # earlier runs on the session's broker must not count here
        for _ in range(100):  # deleting takes a moment to show in the metadata
            meta = await asyncio.to_thread(transport.admin.list_topics, timeout=30)
            left = [t for t in meta.topics if t.startswith("fraud-grpc.")]
            if not left:
                break
            await transport.delete_topics(left)
            await asyncio.sleep(0.5)
        await transport.close()

    asyncio.run(fresh())
    env = {
        "INFERSTREAM_MODEL_SERVING_TARGET": server.grpc_target,
        "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
    }
    _run_block(1, project, env)
