"""nginx as a proxy load balancer in front of N loopback model-server replicas.

This is the role Ambassador played in the original deployment: the pipeline talks to one address
and the proxy spreads calls over the replicas (gRPC via ``grpc_pass`` over HTTP/2, REST via an
HTTP/1.1 upstream with keep-alive). Each instance gets its own prefix, temp dirs and free ports and
runs in the foreground (``daemon off``) as a child process, so stopping it is stopping a process.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from inferstream.bench.ports import free_port, wait_for_port
from inferstream.bench.procs import ManagedProcess

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


class NginxMissing(RuntimeError):
    """No nginx binary on this machine."""


def find_nginx() -> str:
    """Path of the nginx binary; NginxMissing says how to install it."""
    found = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)
    if found is None:
        raise NginxMissing(
            "nginx is not installed: run scripts/nginx/install.sh (apt-get install nginx-light)"
        )
    return found


@dataclass(frozen=True)
class ProxyPlan:
    """What to proxy: backend ports per protocol; a listening port is created for each non-empty list."""

    grpc_backends: Sequence[int] = ()
    http_backends: Sequence[int] = ()
    worker_processes: int = 1
    host: str = "127.0.0.1"


def render_config(plan: ProxyPlan, prefix: Path, grpc_port: int | None, http_port: int | None) -> str:
    """The nginx.conf text for ``plan``; every path lives under ``prefix`` so instances never collide."""
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    lines = [
        "daemon off;",
        f"worker_processes {plan.worker_processes};",
        f"pid {prefix / 'nginx.pid'};",
        f"error_log {prefix / 'error.log'} warn;",
    ]
    if os.geteuid() == 0:
        # Workers would otherwise drop to 'nobody', who cannot write the temp dirs under prefix.
        lines.append("user root;")
    lines += [
        "events { worker_connections 4096; }",
        "http {",
        "  access_log off;",
        f"  client_body_temp_path {temp['client_body']};",
        f"  proxy_temp_path {temp['proxy']};",
        f"  fastcgi_temp_path {temp['fastcgi']};",
        f"  uwsgi_temp_path {temp['uwsgi']};",
        f"  scgi_temp_path {temp['scgi']};",
        "  client_max_body_size 64m;",
    ]
    if plan.grpc_backends and grpc_port is not None:
        lines += _upstream("grpc_replicas", plan.host, plan.grpc_backends)
        lines += [
            "  server {",
            f"    listen {plan.host}:{grpc_port} http2;",
            "    http2_max_concurrent_streams 1024;",
            "    location / { grpc_pass grpc://grpc_replicas; }",
            "  }",
        ]
    if plan.http_backends and http_port is not None:
        lines += _upstream("http_replicas", plan.host, plan.http_backends)
        lines += [
            "  server {",
            f"    listen {plan.host}:{http_port};",
            "    location / {",
            "      proxy_pass http://http_replicas;",
            "      proxy_http_version 1.1;",
            '      proxy_set_header Connection "";',
            "      proxy_buffering off;",
            "    }",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _upstream(name: str, host: str, ports: Sequence[int]) -> list[str]:
    servers = [f"    server {host}:{port};" for port in ports]
    # keepalive: reuse connections to the replicas instead of a new TCP handshake per call.
    return [f"  upstream {name} {{", *servers, "    keepalive 64;", "  }"]


@dataclass
class NginxProxy:
    """A running nginx proxy; use as a context manager or call ``start()`` / ``stop()``."""

    plan: ProxyPlan
    workdir: Path
    grpc_port: int | None = field(default=None, init=False)
    http_port: int | None = field(default=None, init=False)
    process: ManagedProcess | None = field(default=None, init=False)

    def start(self, ready_timeout: float = 15.0) -> NginxProxy:
        binary = find_nginx()
        prefix = self.workdir.resolve()
        prefix.mkdir(parents=True, exist_ok=True)
        self.grpc_port = free_port(self.plan.host) if self.plan.grpc_backends else None
        self.http_port = free_port(self.plan.host) if self.plan.http_backends else None
        if self.grpc_port is None and self.http_port is None:
            raise ValueError("ProxyPlan has no backends: give grpc_backends and/or http_backends")
        conf = prefix / "nginx.conf"
        conf.write_text(render_config(self.plan, prefix, self.grpc_port, self.http_port))
        # -e: the startup error log, which would otherwise be /var/log/nginx/error.log.
        argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        self.process = ManagedProcess("nginx", argv, prefix / "error.log").start()
        for port in (self.grpc_port, self.http_port):
            if port is not None and not wait_for_port(port, ready_timeout, self.plan.host):
                self.stop()
                raise self.process.fail(f"not listening on port {port} after {ready_timeout:.0f} s")
        return self

    def stop(self) -> None:
        if self.process is not None:
            # SIGQUIT: graceful shutdown (workers finish their requests), then the process is killed.
            self.process.stop(sig=signal.SIGQUIT, grace=5.0)

    def __enter__(self) -> NginxProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
