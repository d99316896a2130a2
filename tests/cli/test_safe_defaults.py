"""Safe by default: every socket that inferstream listens on is bound to 127.0.0.1 unless told otherwise.

Real commands, real sockets: ``inferstream serve`` (REST + gRPC) and ``inferstream run`` with a
server streamlet (its HTTP endpoint) and ``--control-port``; their listening sockets are read
from /proc (the process's socket inodes matched against /proc/net/tcp{,6}). Size bounds are
checked where each protocol refuses: ``tests/server/test_rest_errors.py`` (REST body over the
limit: 413 with the reason) and ``tests/server/test_grpc_fuzz.py`` (gRPC message over the limit:
RESOURCE_EXHAUSTED). Budget: ~15 s.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

pytestmark = pytest.mark.slow
LISTEN = "0A"


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _address(hex_address: str) -> str:
    host, _ = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def listening(pid: int) -> list[str]:
    """The addresses (host) of every TCP socket ``pid`` listens on; IPv4-mapped IPv6 as IPv4 (gRPC)."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                address = ipaddress.ip_address(_address(fields[1]))
                mapped = getattr(address, "ipv4_mapped", None)
                found.append(str(mapped or address))
    return found


def _wait_listening(process: subprocess.Popen[bytes], count: int, log: Path) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        found = listening(process.pid)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} listening sockets:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_serve_listens_on_loopback_only(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(16, 4))
    model = LinearRegression().fit(x, x.sum(axis=1))
    (tmp_path / "m" / "1").mkdir(parents=True)
    onnx = to_onnx(model, x[:1].astype(np.float32)).SerializeToString()
    (tmp_path / "m" / "1" / "model.onnx").write_bytes(onnx)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "inferstream.cli.main", "serve", "--model",
                                    f"m={tmp_path / 'm'}", "--port", "0", "--grpc-port", "0"],
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        addresses = _wait_listening(process, 2, log)  # REST and gRPC
    finally:
        _stop(process)
    assert addresses and set(addresses) == {"127.0.0.1"}, addresses


def test_run_listens_on_loopback_only(tmp_path: Path) -> None:
    blueprint = tmp_path / "safe.yaml"
    blueprint.write_text("""name: safe
streamlets:
  source: {class: "inferstream.apps.examples:NumberedIngress", config: {rate: 50, count: 0}}
  counter: inferstream.apps.examples:CountingServerEgress
connections:
  source.out: [counter.in]
""")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "inferstream.cli.main", "run", str(blueprint),
                                    "--control-port", "0", "--no-progress"],
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        addresses = _wait_listening(process, 2, log)  # the streamlet's HTTP endpoint and the control port
    finally:
        _stop(process)
    assert addresses and set(addresses) == {"127.0.0.1"}, addresses
