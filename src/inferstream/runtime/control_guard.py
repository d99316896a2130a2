"""Who may talk to a run's control port: the bound address only, and a token beyond loopback.

A control endpoint on 127.0.0.1 is reachable from every web page the user's browser opens: a
page can POST to it (a "simple" cross-origin request needs no preflight), and DNS rebinding lets
it read the answers. So every request must name the bound address in ``Host`` (a rebound name
does not), and an ``Origin``, when a browser sends one, must be that address too; anything else
gets 403. Bound beyond loopback, a token is required as well (``Authorization: Bearer <token>``),
compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Environment variable holding the control token (never on the command line: it would show in ps).
TOKEN_ENV = "INFERSTREAM_CONTROL_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


class ControlGuard:
    """Checks ``Host``, ``Origin`` and the token of every request to a control endpoint."""

    def __init__(self, host: str, token: str | None = None) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(
                f"the control port bound to {host} is reachable from other machines: set a token in "
                f"{TOKEN_ENV} (clients send 'Authorization: Bearer <token>'), or bind 127.0.0.1"
            )
        self.host = host
        self.token = token
        self.port = 0  # set once bound

    def allowed_hosts(self) -> set[str]:
        names = {self.host}
        if is_loopback(self.host):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        return {f"{name}:{self.port}" for name in names}

    def refusal(self, request: web.Request) -> str | None:
        """Why ``request`` is refused, or None."""
        host = request.headers.get("Host", "")
        if not _wildcard(self.host) and host not in self.allowed_hosts():
            return f"Host {host!r} is not this control endpoint's address"
        origin = request.headers.get("Origin")
        if origin is not None and origin != "null":
            if urlsplit(origin).netloc != host:
                return f"Origin {origin!r} is not this control endpoint"
        elif origin == "null":
            return "requests from opaque origins are refused"
        if self.token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return "a valid token is required (Authorization: Bearer <token>)"
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        why = self.refusal(request)
        if why is not None:
            return web.json_response({"error": why}, status=403)
        return await handler(request)
