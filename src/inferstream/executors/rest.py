"""One keep-alive HTTP connection pool per endpoint, with TLS, headers and typed errors."""

from __future__ import annotations

import json
import ssl
from typing import Any

import aiohttp

from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, http_status_kind
from inferstream.observability import tracing
from inferstream.tensors import DType
from inferstream.tensors.jsontext import dumps


def base_url(address: str, tls: TlsConfig, path_prefix: str = "") -> str:
    """``host:port`` or a URL → ``scheme://host:port[/prefix]`` without a trailing slash."""
    url = address if "://" in address else f"{'https' if tls.enabled else 'http'}://{address}"
    return url.rstrip("/") + ("/" + path_prefix.strip("/") if path_prefix.strip("/") else "")


def ssl_context(tls: TlsConfig) -> ssl.SSLContext | bool:
    if not tls.enabled:
        return True  # aiohttp's default: verify https URLs against the system store
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RestClient:
    """Posts and gets JSON on one endpoint; errors become ExecutorError with the server's reason."""

    def __init__(self, address: str, config: ExecutorConfig) -> None:
        self.base = base_url(address, config.tls, config.path_prefix)
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: a session must be made inside the running loop
            connector = aiohttp.TCPConnector(
                limit=self._config.connections_per_endpoint, ssl=ssl_context(self._config.tls)
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"Content-Type": "application/json", **self._config.headers},
                timeout=aiohttp.ClientTimeout(total=self._config.timeout),
                json_serialize=json.dumps,
            )
        return self._session

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base + path
        data = None if body is None else dumps(body)
        try:
            traced = dict(tracing.outgoing_headers()) or None  # W3C context of a traced call
            async with self._open().request(method, url, data=data, headers=traced) as resp:
                text = await resp.text()
                status = resp.status
        except TimeoutError:
            raise ExecutorError(ErrorKind.TIMEOUT, f"{method} {url}: no answer in time", self.base) from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            # Retrying cannot fix trust: the CA or the server's certificate must change.
            raise ExecutorError(ErrorKind.CONFIG, f"{method} {url}: TLS failed: {exc}", self.base) from None
        except aiohttp.ClientConnectionError as exc:
            raise ExecutorError(ErrorKind.UNAVAILABLE, f"{method} {url}: {exc}", self.base) from None
        except aiohttp.ClientError as exc:
            raise ExecutorError(ErrorKind.UNAVAILABLE, f"{method} {url}: {exc}", self.base) from None
        if status >= 400:
            raise ExecutorError(
                http_status_kind(status), f"HTTP {status} from {url}: {_reason(text)}", self.base
            )
        try:
            return json.loads(text)
        except ValueError:
            raise ExecutorError(
                ErrorKind.MALFORMED, f"{url} answered with invalid JSON: {text[:200]!r}", self.base
            ) from None

    async def request_bytes(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        """POST raw bytes; the answer's bytes and headers (binary bodies). Errors as :meth:`request`."""
        url = self.base + path
        try:
            sent = {**headers, **dict(tracing.outgoing_headers())}
            async with self._open().request("POST", url, data=body, headers=sent) as resp:
                data = await resp.read()
                status, answer_headers = resp.status, dict(resp.headers)
        except TimeoutError:
            raise ExecutorError(ErrorKind.TIMEOUT, f"POST {url}: no answer in time", self.base) from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise ExecutorError(ErrorKind.CONFIG, f"POST {url}: TLS failed: {exc}", self.base) from None
        except aiohttp.ClientError as exc:
            raise ExecutorError(ErrorKind.UNAVAILABLE, f"POST {url}: {exc}", self.base) from None
        if status >= 400:
            text = data.decode("utf-8", "replace")
            message = f"HTTP {status} from {url}: {_reason(text)}"
            raise ExecutorError(http_status_kind(status), message, self.base)
        return data, answer_headers

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _reason(text: str) -> str:
    """The server's own error message: TF Serving ``{"error"}``, FastAPI ``{"detail"}``, or the text."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300] or "(empty body)"
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "status"):
            if key in body:
                value = body[key]
                return value if isinstance(value, str) else json.dumps(value)[:300]
    return text[:300]


def json_float_type(config: ExecutorConfig) -> DType:
    """The tensor type of untyped JSON numbers with a fraction in answers (``json_float_dtype``)."""
    return DType.DT_FLOAT if config.json_float_dtype == "float32" else DType.DT_DOUBLE


def require(body: Any, key: str, url: str, source: str) -> Any:
    """``body[key]`` or a MALFORMED error naming what was missing."""
    if not isinstance(body, dict) or key not in body:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise ExecutorError(ErrorKind.MALFORMED, f"{url}: answer lacks {key!r} (has {keys})", source)
    return body[key]
