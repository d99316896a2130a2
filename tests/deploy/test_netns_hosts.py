"""The namespace hosts helper: addresses, reachability, a cut link, and cleanup (also of leftovers)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from netns_hosts import BRIDGE, Host, hosts

PORT = 8000
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()"


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def _reaches(prefix: list[str], address: str) -> bool:
    """Whether a TCP connection from the host of ``prefix`` (the root namespace: []) to address:PORT opens."""
    connect = [*prefix, sys.executable, "-c", CONNECT, address, str(PORT)]
    return subprocess.run(connect, capture_output=True, check=False, timeout=20).returncode == 0


def _listen(host: Host) -> subprocess.Popen[bytes]:
    """A TCP listener on the host's address (killed with the host)."""
    server = [*host.prefix(), sys.executable, "-m", "http.server", "--bind", host.address, str(PORT)]
    listener = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not _reaches(host.prefix(), host.address) and time.monotonic() < deadline:
        time.sleep(0.1)
    return listener


@pytest.fixture(autouse=True)
def _root() -> None:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs as root)")


def test_hosts_reach_each_other_a_cut_one_is_unreachable_and_all_is_removed() -> None:
    with hosts(["t-one", "t-two"]) as made:
        one, two = made["t-one"], made["t-two"]
        assert (one.address, two.address) == ("10.231.0.2", "10.231.0.3")
        assert {"isn-t-one", "isn-t-two"} <= _namespaces()
        listener = _listen(two)
        assert listener.pid in two.pids()
        assert _reaches(one.prefix(), two.address) and _reaches([], two.address)
        two.cut()
        assert not _reaches(one.prefix(), two.address) and not _reaches([], two.address)
        two.restore()
        assert _reaches(one.prefix(), two.address)
    assert listener.wait(10) == -9  # killed on the way out
    assert not {"isn-t-one", "isn-t-two"} & _namespaces()
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0


def test_leftovers_of_a_crashed_run_are_removed_and_a_failure_still_cleans_up() -> None:
    subprocess.run(["ip", "netns", "add", "isn-t-one"], check=True)  # as a crashed run leaves it
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    with pytest.raises(RuntimeError, match="boom"), hosts(["t-one"]) as made:
        listener = _listen(made["t-one"])
        assert _reaches([], made["t-one"].address)
        raise RuntimeError("boom")
    assert listener.wait(10) == -9
    assert "isn-t-one" not in _namespaces()
