"""Typed errors of the DataPlane; each adapter maps the kind to its protocol's status code."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    NOT_FOUND = "not found"  # unknown model, version or signature
    INVALID_ARGUMENT = "invalid argument"  # malformed body, wrong input name / dtype / shape
    TOO_LARGE = "too large"  # body over the configured limit
    UNAVAILABLE = "unavailable"  # server shutting down or model not loaded
    INTERNAL = "internal"  # the model failed on valid input


class ServerError(Exception):
    """A request the server could not answer; ``kind`` decides the status code, the message says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


def not_found(message: str) -> ServerError:
    return ServerError(ErrorKind.NOT_FOUND, message)


def invalid(message: str) -> ServerError:
    return ServerError(ErrorKind.INVALID_ARGUMENT, message)
