"""A local S3-compatible store for development and tests: SeaweedFS's ``weed mini`` on 127.0.0.1.

The ``weed`` binary is built from the Go module proxy by ``scripts/seaweedfs/install.sh`` into
``.cache/seaweedfs/weed`` (run here when missing). ``start_s3`` gives every port explicitly (a
default one that is taken moves silently), turns telemetry off, creates one identity (access key
and secret) and a fresh data folder, waits until the S3 gateway answers and returns an ``S3Server``
whose ``env()`` holds the standard AWS variables a boto3 client (or ``inferstream serve``) needs.

Command line::

    python -m inferstream.devtools.seaweedfs run [--port N] [--dir DIR]   # until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
INSTALLER = REPO / "scripts" / "seaweedfs" / "install.sh"
_PR_SET_PDEATHSIG = 1


class SeaweedFSError(RuntimeError):
    """The binary could not be installed or the server did not start; the message says why."""


def weed_binary() -> Path:
    """The ``weed`` binary (``$INFERSTREAM_WEED`` or the repository's cache), built if missing."""
    env = os.environ.get("INFERSTREAM_WEED")
    binary = Path(env) if env else REPO / ".cache" / "seaweedfs" / "weed"
    if not binary.is_file():
        if env or not INSTALLER.is_file():
            raise SeaweedFSError(f"{binary}: no weed binary; run scripts/seaweedfs/install.sh")
        result = subprocess.run(["bash", str(INSTALLER)], check=False, capture_output=True, text=True)
        if result.returncode != 0 or not binary.is_file():
            raise SeaweedFSError(f"scripts/seaweedfs/install.sh failed:\n{result.stdout}{result.stderr}")
    return binary


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class S3Server:
    """A running ``weed mini``; ``stop()`` ends it and removes what it made."""

    endpoint: str
    access_key: str
    secret_key: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    grpc_ports: list[int] = field(default_factory=list)
    log_path: Path | None = None
    owns_dir: bool = True

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 (and so inferstream) at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: weed removes its unix sockets itself
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for port in self.grpc_ports:  # left behind when it had to be killed
            for sock in glob.glob(f"/tmp/seaweedfs-*-grpc-{port}.sock"):
                with contextlib.suppress(OSError):
                    os.unlink(sock)
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _preexec() -> None:  # the server dies with its parent (a crashed test leaves nothing running)
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_s3(data_dir: Path | None = None, s3_port: int = 0, timeout: float = 120.0) -> S3Server:
    """Start ``weed mini`` with its S3 gateway on 127.0.0.1 and wait until S3 answers."""
    binary = weed_binary()
    owns_dir = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="inferstream-s3-")) if data_dir is None else data_dir
    folder.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "inferstream" + secrets.token_hex(4), secrets.token_hex(20)
    identities = folder / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "inferstream",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = _free_ports(11)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin, admin_grpc, debug = ports
    s3 = s3_port or s3
    data = folder / "data"
    data.mkdir(exist_ok=True)
    args = [
        str(binary), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", f"-s3.config={identities}", "-webdav=false", "-admin.ui=false",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={folder / 'filer.sock'}", f"-s3.localSocket={folder / 's3.sock'}",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}", "-admin.port.legacy=0",
        f"-debug.port={debug}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # else weed adds a user
    log_path = folder / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder, preexec_fn=_preexec
        )
    server = S3Server(
        f"http://127.0.0.1:{s3}", access_key, secret_key, folder, process,
        [master_grpc, volume_grpc, filer_grpc, s3_grpc, admin_grpc], log_path, owns_dir,
    )  # fmt: skip
    try:
        _wait_until_answering(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_answering(server: S3Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-2000:] if server.log_path else ""
            raise SeaweedFSError(f"weed mini exited with {server.process.returncode}:\n{tail}")
        try:
            urllib.request.urlopen(server.endpoint, timeout=2).close()
            return
        except urllib.error.HTTPError:  # 403 to an unsigned request: the gateway is up
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SeaweedFSError(f"the S3 gateway at {server.endpoint} did not answer within {timeout:.0f} s")
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local S3 store (SeaweedFS weed mini) until Ctrl-C.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start, print the AWS variables, serve until Ctrl-C")
    run.add_argument("--port", type=int, default=0, help="S3 port (0: a free one)")
    run.add_argument("--dir", type=Path, default=None, help="data folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    server = start_s3(args.dir, args.port)
    try:
        for key, value in server.env().items():
            print(f"export {key}={value}", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
