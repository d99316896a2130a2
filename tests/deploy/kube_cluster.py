"""A real Kubernetes control plane for the deploy tests (fixtures in conftest.py): etcd, kube-apiserver
and kube-controller-manager v1.37.2, built by scripts/kubernetes/install.sh when missing; certificates
made with openssl; every port a free one on 127.0.0.1. No kubelet: pods stay Pending, so tests check
what the server accepted and stored. Whatever is started is stopped, and its files removed.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "kubernetes"
BIN = CACHE / "bin"
KEDA_CRDS = CACHE / "crds" / "keda"
INSTALLER = REPO / "scripts" / "kubernetes" / "install.sh"


def ensure_installed() -> None:
    """Run the (idempotent) installer: quick when the binaries are cached, a Go build otherwise."""
    subprocess.run(["bash", str(INSTALLER)], check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, cwd=cwd, capture_output=True)


def make_certificates(d: Path) -> None:
    """A CA; a server certificate for 127.0.0.1; an admin client certificate in system:masters;
    the service-account signing key."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=inferstream-test-ca",
        cwd=d,
    )
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"
    )
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject, ext in (
        ("server", "/CN=kube-apiserver", "server.ext"),
        ("admin", "/O=system:masters/CN=admin", "client.ext"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            subject,
            cwd=d,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-extfile",
            ext,
            cwd=d,
        )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


@dataclass
class KubeCluster:
    workdir: Path
    server: str = ""
    kubeconfig: Path = field(default_factory=Path)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def _start(self, name: str, *args: str) -> None:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / name), *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)

    def start(self) -> KubeCluster:
        d = self.workdir
        make_certificates(d)
        client, peer, secure, kcm = free_port(), free_port(), free_port(), free_port()
        self._start(
            "etcd",
            "--name",
            "test",
            "--data-dir",
            str(d / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"test=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        )
        self.server = f"https://127.0.0.1:{secure}"
        self._start(
            "kube-apiserver",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={secure}",
            "--endpoint-reconciler-type=none",
            f"--etcd-servers=http://127.0.0.1:{client}",
            f"--tls-cert-file={d / 'server.crt'}",
            f"--tls-private-key-file={d / 'server.key'}",
            f"--client-ca-file={d / 'ca.crt'}",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=RBAC",
            "--anonymous-auth=false",
        )
        self.kubeconfig = d / "kubeconfig"
        self.kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {{server: "{self.server}", certificate-authority: "{d / "ca.crt"}"}}
users:
- name: admin
  user: {{client-certificate: "{d / "admin.crt"}", client-key: "{d / "admin.key"}"}}
contexts:
- name: test
  context: {{cluster: test, user: admin}}
current-context: test
""")
        self._wait_ready()
        self._start(
            "kube-controller-manager",
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={kcm}",
            f"--service-account-private-key-file={d / 'sa.key'}",
            f"--root-ca-file={d / 'ca.crt'}",
            "--use-service-account-credentials=false",
        )
        return self

    def _wait_ready(self, timeout: float = 90.0) -> None:
        context = ssl.create_default_context(cafile=str(self.workdir / "ca.crt"))
        context.load_cert_chain(str(self.workdir / "admin.crt"), str(self.workdir / "admin.key"))
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in self.logs)
        raise RuntimeError(f"kube-apiserver not ready at {self.server} ({last})\n{tails}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=5)  # the data dir goes anyway: no need to wait for a clean stop
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def env(self) -> dict[str, str]:
        """The environment of a command run against this cluster (kubectl, inferstream)."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "INFERSTREAM_KEDA_CRDS": str(KEDA_CRDS),
        }

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kubectl"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            input=stdin,
            timeout=120,
        )
