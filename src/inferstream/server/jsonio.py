"""JSON bodies in and out of the REST adapters, through orjson (~10× faster than ``json`` both ways on
tensor-sized bodies, which dominates a REST request's CPU cost)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from inferstream.server.errors import invalid


def loads(body: bytes) -> Any:
    """The parsed body; malformed JSON is INVALID_ARGUMENT with the parse error."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:  # the standard parser also accepts NaN / Infinity, as TF Serving does, and explains errors well
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"JSON Parse error: {exc}") from None
    except RecursionError:  # e.g. "[[[[...": no tensor nests that deep
        raise invalid("JSON Parse error: nested too deeply") from None


def dumps(payload: Any, arrays: Iterable[npt.NDArray[Any]] = ()) -> bytes:
    """``payload`` as JSON bytes; NaN and ±Infinity in ``arrays`` are written as such (``json``'s way)."""
    if any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in arrays):
        return json.dumps(payload).encode()  # orjson would write null
    return orjson.dumps(payload)
