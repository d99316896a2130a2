"""Typed failures of a model call: transient ones are worth retrying, permanent ones are not."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager

from inferstream.tensors import TensorCodecError


class ErrorKind(enum.Enum):
    """Why a call failed; also the ``kind`` label of the errors metric."""

    UNAVAILABLE = "unavailable"  # connection refused/reset, gRPC UNAVAILABLE, HTTP 502/503/504
    TIMEOUT = "timeout"  # the call did not answer within its deadline
    REJECTED = "rejected"  # the server answered 4xx / INVALID_ARGUMENT / NOT_FOUND: the request is wrong
    SERVER = "server"  # the server answered 5xx / INTERNAL: it tried and failed
    MALFORMED = "malformed"  # the answer could not be decoded (bad JSON, missing outputs, wrong shape)
    CONFIG = "config"  # the executor is configured wrongly (unknown protocol, no endpoints)


#: Kinds that a retry (possibly on another endpoint) may cure.
TRANSIENT_KINDS = frozenset({ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT})


class ExecutorError(Exception):
    """A model call failed; ``kind`` says why and whether to retry, ``source`` which endpoint failed."""

    def __init__(self, kind: ErrorKind, message: str, source: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.source = source

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT_KINDS

    def __str__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        return f"{self.kind.value}{where}: {self.args[0]}"


class NoEndpointsError(ExecutorError):
    """Every endpoint is ejected or none is known yet; transient, since endpoints come back."""

    def __init__(self, message: str = "no healthy endpoint available") -> None:
        super().__init__(ErrorKind.UNAVAILABLE, message)


def http_status_kind(status: int) -> ErrorKind:
    """Classify an HTTP error status the way a retrying client must."""
    if status in (502, 503, 504):
        return ErrorKind.UNAVAILABLE
    if status == 408 or status == 429:
        return ErrorKind.UNAVAILABLE
    if 400 <= status < 500:
        return ErrorKind.REJECTED
    return ErrorKind.SERVER


def malformed(message: str, source: str = "") -> ExecutorError:
    """An answer that cannot be decoded (bad JSON, missing outputs, wrong shape)."""
    return ExecutorError(ErrorKind.MALFORMED, message, source)


@contextmanager
def codec_errors(kind: ErrorKind, source: str = "", what: str = "") -> Iterator[None]:
    """A TensorCodecError inside becomes an ExecutorError of ``kind`` (REJECTED when encoding a
    request, MALFORMED when decoding an answer), its message led by ``what``."""
    try:
        yield
    except TensorCodecError as exc:
        raise ExecutorError(kind, f"{what}{exc}", source) from None
