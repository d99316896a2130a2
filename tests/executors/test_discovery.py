"""Endpoint discovery: static lists, DNS, and a Kubernetes Endpoints object that is watched.

No Kubernetes API server can run on this machine, so the watch is tested against a small local
aiohttp server speaking the API's list + ``?watch=true`` JSON-lines protocol.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from inferstream.executors.discovery import (
    DnsDiscovery,
    KubernetesApi,
    KubernetesEndpointsDiscovery,
    StaticDiscovery,
    parse_target,
)


def test_parse_target_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(parse_target("a:1, b:2"), StaticDiscovery)
    assert parse_target("a:1, b:2").addresses == ["a:1", "b:2"]  # type: ignore[attr-defined]
    dns = parse_target("dns:///models.default.svc:8500")
    assert isinstance(dns, DnsDiscovery) and (dns.host, dns.port) == ("models.default.svc", 8500)
    monkeypatch.setenv("INFERSTREAM_K8S_API", "http://127.0.0.1:1")
    k8s = parse_target("kubernetes:///seldon/fraud-grpc/grpc")
    assert isinstance(k8s, KubernetesEndpointsDiscovery)
    assert (k8s.namespace, k8s.service, k8s.port) == ("seldon", "fraud-grpc", "grpc")
    for bad in ("kubernetes:///only/two", "dns:///noport", ""):
        with pytest.raises(ValueError, match=r"expected|empty"):
            parse_target(bad)


def test_dns_resolves_localhost() -> None:
    asyncio.run(_dns_resolves_localhost())


async def _dns_resolves_localhost() -> None:
    seen: list[list[str]] = []
    discovery = DnsDiscovery("localhost", 8500, period=0.05)
    await discovery.start(seen.append)
    await asyncio.sleep(0.2)
    await discovery.close()
    assert "127.0.0.1:8500" in seen[0]
    assert len(seen) >= 2  # re-resolved periodically


def _endpoints(version: int, ips: list[str]) -> dict[str, Any]:
    return {
        "kind": "Endpoints",
        "metadata": {"name": "fraud", "namespace": "seldon", "resourceVersion": str(version)},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "grpc", "port": 9000}]}],
    }


def test_kubernetes_endpoints_list_then_watch() -> None:
    asyncio.run(_kubernetes_endpoints_list_then_watch())


async def _kubernetes_endpoints_list_then_watch() -> None:
    events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    seen_auth: list[str] = []
    watch_params: list[dict[str, str]] = []

    async def get_one(request: web.Request) -> web.Response:
        seen_auth.append(request.headers.get("Authorization", ""))
        return web.json_response(_endpoints(1, ["10.0.0.1"]))

    async def watch(request: web.Request) -> web.StreamResponse:
        watch_params.append(dict(request.query))
        response = web.StreamResponse()
        await response.prepare(request)
        while (event := await events.get()) is not None:
            await response.write(json.dumps(event).encode() + b"\n")
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/seldon/endpoints/fraud", get_one)
    app.router.add_get("/api/v1/namespaces/seldon/endpoints", watch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    updates: asyncio.Queue[list[str]] = asyncio.Queue()
    api = KubernetesApi(f"http://127.0.0.1:{port}", token="secret-token")
    discovery = KubernetesEndpointsDiscovery("seldon", "fraud", "grpc", api)
    try:
        await discovery.start(updates.put_nowait)
        assert await asyncio.wait_for(updates.get(), 5) == ["10.0.0.1:9000"]
        assert seen_auth == ["Bearer secret-token"]
        await events.put({"type": "MODIFIED", "object": _endpoints(2, ["10.0.0.1", "10.0.0.2"])})
        assert await asyncio.wait_for(updates.get(), 5) == ["10.0.0.1:9000", "10.0.0.2:9000"]
        await events.put({"type": "MODIFIED", "object": _endpoints(3, ["10.0.0.2"])})
        assert await asyncio.wait_for(updates.get(), 5) == ["10.0.0.2:9000"]
        await events.put({"type": "DELETED", "object": _endpoints(4, [])})
        assert await asyncio.wait_for(updates.get(), 5) == []
        assert watch_params[0]["fieldSelector"] == "metadata.name=fraud"
        assert watch_params[0]["resourceVersion"] == "1"
    finally:
        await discovery.close()
        await events.put(None)  # ends the open watch stream, so the server stops at once
        await runner.cleanup()


def test_unreachable_kubernetes_api_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferstream.bench.ports import free_port
    from inferstream.executors.config import ExecutorConfig
    from inferstream.executors.errors import ErrorKind, ExecutorError
    from inferstream.executors.factory import open_executor

    monkeypatch.setenv("INFERSTREAM_K8S_API", f"http://127.0.0.1:{free_port()}")
    config = ExecutorConfig(target="kubernetes:///seldon/fraud/grpc", model="fraud")
    with pytest.raises(ExecutorError) as info:
        asyncio.run(open_executor(config))
    assert info.value.kind is ErrorKind.CONFIG
    assert "kubernetes:///seldon/fraud/grpc" in str(info.value)
