"""nginx proxy in front of real loopback replicas: gRPC (HTTP/2) and HTTP, spread over both replicas."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest

from inferstream.bench.nginx import NginxProxy, ProxyPlan, render_config

METHOD = "/bench.Echo/Who"


def _grpc_replica(name: bytes) -> tuple[grpc.Server, int]:
    def who(request: bytes, context: grpc.ServicerContext) -> bytes:
        return name + b":" + request

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Who": grpc.unary_unary_rpc_method_handler(who)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def _http_replica(name: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(name)))
            self.end_headers()
            self.wfile.write(name)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def replicas() -> Iterator[tuple[list[int], list[int]]]:
    grpc_servers = [_grpc_replica(b"a"), _grpc_replica(b"b")]
    http_servers = [_http_replica(b"a"), _http_replica(b"b")]
    yield [p for _, p in grpc_servers], [s.server_address[1] for s in http_servers]
    for server, _ in grpc_servers:
        server.stop(grace=None)
    for http in http_servers:
        http.shutdown()
        http.server_close()


def test_config_names_every_replica(tmp_path: Path) -> None:
    text = render_config(ProxyPlan(grpc_backends=[1001, 1002], http_backends=[2001]), tmp_path, 3000, 3001)
    assert "grpc_pass grpc://grpc_replicas;" in text
    assert "listen 127.0.0.1:3000 http2;" in text
    assert all(f"server 127.0.0.1:{p};" in text for p in (1001, 1002, 2001))
    assert str(tmp_path / "proxy") in text


def test_proxy_spreads_grpc_and_http_calls(tmp_path: Path, replicas: tuple[list[int], list[int]]) -> None:
    grpc_ports, http_ports = replicas
    plan = ProxyPlan(grpc_backends=grpc_ports, http_backends=http_ports)
    with NginxProxy(plan, tmp_path / "nginx") as proxy:
        assert proxy.grpc_port is not None and proxy.http_port is not None
        with grpc.insecure_channel(f"127.0.0.1:{proxy.grpc_port}") as channel:
            call = channel.unary_unary(METHOD)
            grpc_answers = {call(b"x", timeout=5.0) for _ in range(8)}
        http_answers = set()
        for _ in range(8):
            with urllib.request.urlopen(f"http://127.0.0.1:{proxy.http_port}/", timeout=5.0) as resp:
                http_answers.add(resp.read())
        process = proxy.process
    assert grpc_answers == {b"a:x", b"b:x"}
    assert http_answers == {b"a", b"b"}
    assert process is not None and not process.alive()
