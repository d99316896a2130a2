"""Hosts made of Linux network namespaces, for tests that need several machines on one (root only).

``hosts(["broker", "serve-a"])`` makes a bridge ``isn-br0`` holding 10.231.0.1/24 in the root
namespace, and per name a namespace ``isn-<name>`` whose ``eth0`` (one end of a veth pair; the
other end, ``isn-<name>``, is a port of the bridge) has the next address: 10.231.0.2, .3, ...
The test process itself reaches every host through the bridge. ``Host.cut()`` takes the host's
link down on the bridge side (packets to and from it vanish: no reset, no refusal, like a pulled
cable), ``Host.restore()`` brings it back, ``Host.kill_all()`` SIGKILLs every process inside.

Always cleaned up: on leaving the ``with`` block (also on failure) every process in the hosts is
killed and the namespaces, veths and bridge removed; on entering, leftovers of a crashed earlier
run with the same names are removed first. Names are prefixed ``isn-`` and the subnet is one
nothing else here uses (checked: a route to it that is not ours fails the set-up).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "isn-"
BRIDGE = f"{PREFIX}br0"
SUBNET = "10.231.0"
GATEWAY = f"{SUBNET}.1"
INSTALLER = Path(__file__).resolve().parents[2] / "scripts" / "netns" / "install.sh"


def ensure_ip() -> None:
    """iproute2's ``ip`` is there (scripts/netns/install.sh installs it when missing, as root)."""
    if shutil.which("ip") is None:
        subprocess.run(["bash", str(INSTALLER)], check=True, timeout=600)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Host:
    """One namespace: its name, address and the bridge-side end of its link."""

    name: str
    namespace: str
    address: str
    link: str  # the veth end in the root namespace (a bridge port)

    def prefix(self) -> list[str]:
        """Put before a command to run it on this host (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.namespace]

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.link, "up")

    def pids(self) -> list[int]:
        done = _ip("netns", "pids", self.namespace, check=False)
        return [int(p) for p in done.stdout.split() if p.isdigit()]

    def kill_all(self, timeout: float = 10.0) -> list[int]:
        """SIGKILL every process in the namespace; wait (bounded) until none is left. Returns the pids."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        return killed


def _remove(namespaces: Sequence[str], links: Sequence[str]) -> None:
    """Kill what runs in the namespaces, delete them, their veths and the bridge (missing ones are fine)."""
    existing = set(_ip("netns", "list", check=False).stdout.split())
    for namespace in namespaces:
        if namespace in existing:
            Host(namespace, namespace, "", "").kill_all()
            _ip("netns", "del", namespace, check=False)
    for link in [*links, BRIDGE]:  # deleting a namespace deletes its veth pair; leftovers go here
        if _ip("link", "show", link, check=False).returncode == 0:
            _ip("link", "del", link, check=False)


@contextlib.contextmanager
def hosts(names: Sequence[str]) -> Iterator[dict[str, Host]]:
    """A bridge and one namespace per name (at most 200), each with its own address; removed on exit."""
    if not 0 < len(names) <= 200 or len(set(names)) != len(names):
        raise ValueError(f"1 to 200 distinct host names, not {list(names)}")
    ensure_ip()
    made = {
        name: Host(name, f"{PREFIX}{name}", f"{SUBNET}.{n + 2}", f"{PREFIX}{name}"[:15])
        for n, name in enumerate(names)
    }
    namespaces, links = [h.namespace for h in made.values()], [h.link for h in made.values()]
    _remove(namespaces, links)  # a crashed earlier run's leftovers
    try:
        route = _ip("route", "show", f"{SUBNET}.0/24").stdout.strip()
        if route:
            raise RuntimeError(f"{SUBNET}.0/24 is already routed here ({route}): pick another subnet")
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for host in made.values():
            _ip("netns", "add", host.namespace)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
            _ip("link", "set", host.link, "master", BRIDGE)
            _ip("link", "set", host.link, "up")
            inside = ["netns", "exec", host.namespace, "ip"]
            _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
        yield made
    finally:
        _remove(namespaces, links)
