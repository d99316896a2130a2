"""Where the replicas are: a static list, DNS (a headless service), or a watched Kubernetes Endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

OnChange = Callable[[list[str]], None]
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Discovery:
    """Feeds the current endpoint list (``host:port`` strings) to ``on_change`` until closed."""

    async def start(self, on_change: OnChange) -> None:
        """Deliver the first list before returning, then keep delivering changes in the background."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop watching."""


class StaticDiscovery(Discovery):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def start(self, on_change: OnChange) -> None:
        on_change(list(self.addresses))


class DnsDiscovery(Discovery):
    """Re-resolves ``host`` every ``period`` seconds; each address of a headless service is a replica."""

    def __init__(self, host: str, port: int, period: float = 5.0) -> None:
        self.host, self.port, self.period = host, port, period
        self._task: asyncio.Task[None] | None = None

    async def resolve(self) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        found = sorted({_join(str(info[4][0]), self.port) for info in infos})
        return found

    async def start(self, on_change: OnChange) -> None:
        try:
            on_change(await self.resolve())
        except OSError as exc:  # keep going: the name may appear once the service has pods
            log.warning("DNS lookup of %s failed: %s", self.host, exc)
            on_change([])
        self._task = asyncio.create_task(self._loop(on_change))

    async def _loop(self, on_change: OnChange) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                on_change(await self.resolve())
            except OSError as exc:
                log.warning("DNS lookup of %s failed: %s (keeping the last list)", self.host, exc)

    async def close(self) -> None:
        await _cancel(self._task)


@dataclass(frozen=True)
class KubernetesApi:
    """How to reach the API server; ``in_cluster()`` reads the pod's service-account credentials."""

    base_url: str
    token: str = ""
    ca_file: str | None = None

    @classmethod
    def in_cluster(cls) -> KubernetesApi:
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise RuntimeError(
                "kubernetes:/// targets need KUBERNETES_SERVICE_HOST (run in a pod) or INFERSTREAM_K8S_API"
            )
        token_file = SERVICE_ACCOUNT / "token"
        token = token_file.read_text().strip() if token_file.exists() else ""
        ca = SERVICE_ACCOUNT / "ca.crt"
        return cls(f"https://{_join(host, int(port))}", token, str(ca) if ca.exists() else None)

    @classmethod
    def from_env(cls) -> KubernetesApi:
        """``INFERSTREAM_K8S_API`` (+ ``INFERSTREAM_K8S_TOKEN``) overrides in-cluster discovery."""
        url = os.environ.get("INFERSTREAM_K8S_API")
        if url:
            return cls(url.rstrip("/"), os.environ.get("INFERSTREAM_K8S_TOKEN", ""))
        return cls.in_cluster()


class KubernetesEndpointsDiscovery(Discovery):
    """Lists, then watches, the Endpoints object of ``namespace/service`` through the API server.

    ``port`` is a port number or the name of a port of the service. The watch reconnects from the
    last resourceVersion when the stream ends, and relists when the server says it is too old (410).
    """

    def __init__(
        self, namespace: str, service: str, port: str, api: KubernetesApi, retry_seconds: float = 1.0
    ) -> None:
        self.namespace, self.service, self.port = namespace, service, port
        self.api = api
        self.retry_seconds = retry_seconds
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def _path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/endpoints"

    def _addresses(self, endpoints: dict[str, Any]) -> list[str]:
        found: list[str] = []
        for subset in endpoints.get("subsets") or []:
            ports = subset.get("ports") or []
            port = next(
                (p["port"] for p in ports if str(p.get("port")) == self.port or p.get("name") == self.port),
                None,
            )
            if port is None:
                continue
            found.extend(_join(a["ip"], int(port)) for a in subset.get("addresses") or [])
        return sorted(set(found))

    async def _list(self) -> tuple[list[str], str]:
        assert self._session is not None
        async with self._session.get(f"{self.api.base_url}{self._path}/{self.service}") as resp:
            if resp.status == 404:
                return [], ""
            resp.raise_for_status()
            body = await resp.json()
        return self._addresses(body), str(body.get("metadata", {}).get("resourceVersion", ""))

    async def start(self, on_change: OnChange) -> None:
        headers = {"Authorization": f"Bearer {self.api.token}"} if self.api.token else {}
        ssl_ctx: ssl.SSLContext | bool = True
        if self.api.ca_file:
            ssl_ctx = ssl.create_default_context(cafile=self.api.ca_file)
        self._session = aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(ssl=ssl_ctx),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        addresses, version = await self._list()
        on_change(addresses)
        self._task = asyncio.create_task(self._watch_forever(on_change, version))

    async def _watch_forever(self, on_change: OnChange, version: str) -> None:
        while True:
            try:
                version = await self._watch(on_change, version)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API server restarts, the network blips: try again
                log.warning("watch of endpoints %s/%s failed: %s", self.namespace, self.service, exc)
                await asyncio.sleep(self.retry_seconds)
                with contextlib.suppress(Exception):
                    addresses, version = await self._list()
                    on_change(addresses)

    async def _watch(self, on_change: OnChange, version: str) -> str:
        assert self._session is not None
        params = {"watch": "true", "fieldSelector": f"metadata.name={self.service}"}
        if version:
            params["resourceVersion"] = version
        async with self._session.get(f"{self.api.base_url}{self._path}", params=params) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object", {})
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:  # our resourceVersion is too old: start over
                        addresses, version = await self._list()
                        on_change(addresses)
                        return version
                    raise RuntimeError(f"watch error: {obj.get('message', obj)}")
                version = str(obj.get("metadata", {}).get("resourceVersion", version))
                on_change([] if event.get("type") == "DELETED" else self._addresses(obj))
        return version

    async def close(self) -> None:
        await _cancel(self._task)
        if self._session is not None:
            await self._session.close()


def parse_target(target: str, refresh_seconds: float = 5.0) -> Discovery:
    """``kubernetes:///ns/svc/port``, ``dns:///host:port`` or a comma-separated static list."""
    if target.startswith("kubernetes:///"):
        parts = target.removeprefix("kubernetes:///").strip("/").split("/")
        if len(parts) != 3:
            raise ValueError(f"expected kubernetes:///<namespace>/<service>/<port>, got {target!r}")
        namespace, service, port = parts
        return KubernetesEndpointsDiscovery(namespace, service, port, KubernetesApi.from_env())
    if target.startswith("dns:///"):
        host, _, port = target.removeprefix("dns:///").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected dns:///<host>:<port>, got {target!r}")
        return DnsDiscovery(host.strip("[]"), int(port), refresh_seconds)
    addresses = [a.strip() for a in target.split(",") if a.strip()]
    if not addresses:
        raise ValueError("empty target: give host:port, a comma-separated list, dns:/// or kubernetes:///")
    return StaticDiscovery(addresses)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
