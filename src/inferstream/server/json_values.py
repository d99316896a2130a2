"""JSON values ⇄ numpy arrays for the REST adapters (TF Serving ``{"b64": ...}`` strings included)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.server.errors import invalid


def _b64_decode(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise invalid(f"input {name!r}: an object value must be {{\"b64\": \"<base64 string>\"}}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as exc:
            raise invalid(f"input {name!r}: bad base64: {exc}") from None
    if isinstance(value, list):
        return [_b64_decode(v, name) for v in value]
    return value


def to_array(value: Any, name: str) -> npt.NDArray[Any]:
    """A nested JSON list (or scalar) as an array; raises INVALID_ARGUMENT for ragged or odd values."""
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nesting
        raise invalid(f"input {name!r}: not a rectangular array: {exc}") from None
    if array.dtype.kind == "O":  # {"b64": ...} objects, or a mix of types
        try:
            array = np.asarray(_b64_decode(value, name), dtype=object)
        except ValueError as exc:
            raise invalid(f"input {name!r}: not a rectangular array: {exc}") from None
        flat = array.reshape(-1).tolist()
        if any(not isinstance(v, (bytes, str)) for v in flat):
            raise invalid(f"input {name!r}: values must all be numbers, all booleans or all strings")
        encoded = np.empty(len(flat), dtype=object)
        encoded[:] = [v.encode() if isinstance(v, str) else v for v in flat]
        array = encoded.reshape(array.shape)
    elif array.dtype.kind == "U":
        array = np.char.encode(array, "utf-8").astype(object)
    return array


def to_json(array: npt.NDArray[Any], name: str = "") -> Any:
    """An array as nested JSON lists; bytes become text, or ``{"b64": ...}`` for ``*_bytes`` outputs."""
    if array.dtype.kind in "OS":
        as_b64 = name.endswith("_bytes")
        flat = [_bytes_to_json(v, as_b64) for v in array.reshape(-1).tolist()]
        return np.asarray(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else flat[0]
    if array.dtype.kind == "c":
        return np.stack([array.real, array.imag], axis=-1).tolist()
    return array.tolist()


def _bytes_to_json(value: Any, as_b64: bool) -> Any:
    if not isinstance(value, bytes):
        return value
    if as_b64:
        return {"b64": base64.b64encode(value).decode()}
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode()}
