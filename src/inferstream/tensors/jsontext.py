"""Numeric arrays straight to JSON text, and ``json.dumps`` that splices such text into a body.

Finite numeric arrays are rendered with printf formats (``%.9g`` keeps every float32 exactly,
``%.17g`` every float64): several times faster than ``json.dumps(array.tolist())``, and shorter.
Clients building REST request bodies use ``array_json`` + ``dumps``; everything that is not a
finite number array goes through ``array_to_json``, so strings follow the shared codec's rules.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from inferstream.tensors.conversions import Array, array_to_json
from inferstream.tensors.numpy_codec import tensor_from_numpy


class JsonText(str):
    """Already-rendered JSON, spliced into a body by ``dumps`` instead of being quoted."""


_NUMBER_FORMATS = {"f4": "%.9g", "f2": "%.5g", "f8": "%.17g", "i": "%d", "u": "%d"}


def _number_format(array: Array) -> str | None:
    if array.dtype.kind == "f":
        return _NUMBER_FORMATS.get(f"f{array.dtype.itemsize}")
    return _NUMBER_FORMATS.get(array.dtype.kind)


def _template(shape: tuple[int, ...], leaf: str) -> str:
    if not shape:
        return leaf
    inner = _template(shape[1:], leaf)
    return "[" + ",".join([inner] * shape[0]) + "]"


def number_text(array: Array) -> JsonText | None:
    """The JSON text of a non-empty array of finite ints or floats; None for anything else."""
    fmt = _number_format(array)
    if fmt is None or not array.size or (array.dtype.kind == "f" and not np.isfinite(array).all()):
        return None
    return JsonText(_template(array.shape, fmt) % tuple(array.reshape(-1).tolist()))


def array_json(array: Array, field: str = "array", b64: bool | None = None) -> Any:
    """A JSON value of ``array``: ``JsonText`` for finite numbers, else nested lists.

    Unicode arrays stay text; ``bytes`` follow ``array_to_json``'s ``b64`` rule (True: always
    ``{"b64": ...}``; None: UTF-8 text else base64; False: non-UTF-8 is a TensorCodecError).
    NaN and ±inf stay floats, which ``dumps`` writes as ``NaN``/``Infinity``.
    """
    text = number_text(array)
    if text is not None:
        return text
    if array.dtype.kind in "biufU":  # incl. float16/uint8, which no tensor type holds
        return array.tolist()
    return array_to_json(field, tensor_from_numpy(array, field=field), b64)


def dumps(body: Any) -> str:
    """Compact ``json.dumps`` that writes ``JsonText`` values verbatim."""
    fragments: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, JsonText):
            fragments.append(value)
            return f"\u0000{len(fragments) - 1}\u0000"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), separators=(",", ":"))
    for index, fragment in enumerate(fragments):
        text = text.replace(f'"\\u0000{index}\\u0000"', fragment, 1)
    return text
