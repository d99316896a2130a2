"""Glue between the adapters and ``inferstream.tensors``: codec errors become INVALID_ARGUMENT
naming what the model expects; outputs become Tensors; raw protobuf bytes are parsed with care."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy.typing as npt
from google.protobuf.message import DecodeError

from inferstream.models import Signature
from inferstream.server.errors import ErrorKind, ServerError, invalid
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError


def parse_proto(message_class: Any, data: bytes) -> Any:
    """``message_class`` parsed from ``data``; malformed bytes are INVALID_ARGUMENT with the parse error."""
    try:
        return message_class.FromString(data)
    except DecodeError as exc:
        raise invalid(f"malformed {message_class.DESCRIPTOR.full_name}: {exc}") from None


@contextmanager
def decoding(signature: Signature | None = None) -> Iterator[None]:
    """Turn a TensorCodecError into INVALID_ARGUMENT, adding what the model expects when known."""
    try:
        yield
    except TensorCodecError as exc:
        expected = f"; the model expects {signature.describe_inputs()}" if signature is not None else ""
        raise invalid(f"{exc}{expected}") from None


def input_dtypes(signature: Signature) -> dict[str, DType]:
    """The tensor types of the signature's inputs, so JSON values parse straight to them."""
    dtypes = {}
    for spec in signature.inputs:
        try:
            dtypes[spec.name] = DType.from_numpy(spec.dtype)
        except TensorCodecError:
            continue  # a type the protocols cannot name: let the value's own type through
    return dtypes


def output_tensors(outputs: dict[str, npt.NDArray[Any]]) -> dict[str, Tensor]:
    try:
        return {name: Tensor.from_numpy(value, name=name) for name, value in outputs.items()}
    except TensorCodecError as exc:
        raise ServerError(ErrorKind.INTERNAL, f"the model's output cannot be sent: {exc}") from None
