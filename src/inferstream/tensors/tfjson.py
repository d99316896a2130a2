"""TensorFlow Serving REST JSON: request and response bodies to and from tensors.

Two formats, never mixed in one body:
- row: ``{"instances": [...]}`` -> ``{"predictions": [...]}``; each instance is one batch row,
  either a value (one input) or ``{"<input>": value, ...}`` (named inputs);
- columnar: ``{"inputs": value | {"<input>": value}}`` -> ``{"outputs": value | {...}}``.
One tensor goes unnamed (the server maps it to the signature's only input/output); several go by
name. Binary strings travel as ``{"b64": "..."}``. JSON carries no element type: decoders take
``dtypes`` (one DType, or one per name) and otherwise infer bool, int64 or DT_FLOAT.

Bodies are plain dicts: serialize with ``json.dumps`` (which writes NaN/Infinity as TF Serving does).
A JSON array cannot show the shape of an empty tensor past its first zero-sized dimension.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from inferstream.tensors.conversions import DEFAULT_MAX_TENSOR_BYTES, array_from_json, array_to_json
from inferstream.tensors.numpy_codec import as_tensor
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

UNNAMED = ""
"""The name under which an unnamed input or output is returned."""

Tensors = Mapping[str, Tensor | npt.ArrayLike]
DTypes = Mapping[str, DType] | DType | None


class JsonFormat(enum.Enum):
    ROW = "row"
    COLUMNAR = "columnar"


@dataclass(frozen=True)
class PredictBody:
    """A parsed request body: tensors by name (``UNNAMED`` for one unnamed tensor), format, signature."""

    tensors: dict[str, Tensor]
    format: JsonFormat
    signature_name: str | None = None


def _tensors(values: Tensors | Tensor | npt.ArrayLike) -> dict[str, Tensor]:
    if isinstance(values, Mapping):
        return {name: as_tensor(value, name) for name, value in values.items()}
    return {UNNAMED: as_tensor(values)}


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and set(value) != {"b64"}


def _dtype(dtypes: DTypes, name: str) -> DType | None:
    if isinstance(dtypes, Mapping):
        return dtypes.get(name)
    return dtypes


def _rows(field: str, tensors: dict[str, Tensor], b64: bool | None, named: bool) -> list[Any]:
    """Batch rows: one value per row (single tensor) or one ``{name: value}`` per row."""
    for name, tensor in tensors.items():
        if tensor.data.ndim == 0:
            raise TensorCodecError(f"{field}[{name}]", "row format needs a batch dimension (rank >= 1)")
    sizes = {tensor.data.shape[0] for tensor in tensors.values()}
    if len(sizes) > 1:
        raise TensorCodecError(field, f"row format needs one batch size for all tensors, got {sorted(sizes)}")
    columns = {name: array_to_json(f"{field}[{name}]", t, b64) for name, t in tensors.items()}
    if len(columns) == 1 and not named:
        return list(next(iter(columns.values())))
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _columns(field: str, tensors: dict[str, Tensor], b64: bool | None, named: bool) -> Any:
    if len(tensors) == 1 and not named:
        return array_to_json(field, next(iter(tensors.values())), b64)
    return {name: array_to_json(f"{field}[{name}]", t, b64) for name, t in tensors.items()}


def _encode(
    key_row: str, key_columnar: str, values: Any, fmt: JsonFormat, b64: bool | None, named: bool
) -> dict[str, Any]:
    tensors = _tensors(values)
    named = named or len(tensors) != 1
    if fmt is JsonFormat.ROW:
        return {key_row: _rows(key_row, tensors, b64, named)}
    return {key_columnar: _columns(key_columnar, tensors, b64, named)}


def predict_request(
    inputs: Tensors | Tensor | npt.ArrayLike,
    *,
    format: JsonFormat = JsonFormat.ROW,
    signature_name: str | None = None,
    b64: bool | None = None,
    named: bool = False,
) -> dict[str, Any]:
    """A predict request body. A mapping of one input goes unnamed unless ``named``."""
    body = _encode("instances", "inputs", inputs, format, b64, named)
    return {"signature_name": signature_name, **body} if signature_name else body


def predict_response(
    outputs: Tensors | Tensor | npt.ArrayLike,
    *,
    format: JsonFormat = JsonFormat.ROW,
    b64: bool | None = None,
    named: bool = False,
) -> dict[str, Any]:
    """A predict response body; one output goes unnamed unless ``named`` (as TF Serving does)."""
    return _encode("predictions", "outputs", outputs, format, b64, named)


def _parse_rows(
    field: str, rows: Any, dtypes: DTypes, max_bytes: int, unnamed: str, floats: DType
) -> dict[str, Tensor]:
    if not isinstance(rows, list):
        raise TensorCodecError(field, f"expected a list of rows, got {type(rows).__name__}")
    if not rows or not _is_named(rows[0]):
        if any(_is_named(row) for row in rows):
            raise TensorCodecError(field, "rows mix named ({...}) and unnamed values")
        return {
            unnamed: _named(array_from_json(field, rows, _dtype(dtypes, unnamed), max_bytes, floats), unnamed)
        }
    names = list(rows[0])
    for i, row in enumerate(rows):
        if not _is_named(row) or set(row) != set(names):
            raise TensorCodecError(f"{field}[{i}]", f"every row needs the same names {names}")
    return {
        name: _named(
            array_from_json(
                f"{field}[{name}]", [row[name] for row in rows], _dtype(dtypes, name), max_bytes, floats
            ),
            name,
        )
        for name in names
    }


def _parse_columns(
    field: str, value: Any, dtypes: DTypes, max_bytes: int, unnamed: str, floats: DType
) -> dict[str, Tensor]:
    if _is_named(value):
        return {
            name: _named(
                array_from_json(f"{field}[{name}]", v, _dtype(dtypes, name), max_bytes, floats), name
            )
            for name, v in value.items()
        }
    return {
        unnamed: _named(array_from_json(field, value, _dtype(dtypes, unnamed), max_bytes, floats), unnamed)
    }


def _named(tensor: Tensor, name: str) -> Tensor:
    return Tensor(tensor.dtype, tensor.data, name)


def _parse(
    body: Any,
    key_row: str,
    key_columnar: str,
    dtypes: DTypes,
    max_bytes: int,
    unnamed: str,
    floats: DType = DType.DT_FLOAT,
) -> tuple[dict[str, Tensor], JsonFormat]:
    if not isinstance(body, dict):
        raise TensorCodecError("body", f"expected a JSON object, got {type(body).__name__}")
    if "error" in body:
        raise TensorCodecError("error", str(body["error"]))
    if key_row in body and key_columnar in body:
        raise TensorCodecError("body", f"{key_row!r} and {key_columnar!r} cannot be mixed in one body")
    if key_row in body:
        return _parse_rows(key_row, body[key_row], dtypes, max_bytes, unnamed, floats), JsonFormat.ROW
    if key_columnar in body:
        columns = _parse_columns(key_columnar, body[key_columnar], dtypes, max_bytes, unnamed, floats)
        return columns, JsonFormat.COLUMNAR
    raise TensorCodecError("body", f"neither {key_row!r} (row format) nor {key_columnar!r} (columnar) given")


def parse_predict_request(
    body: Any, *, dtypes: DTypes = None, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> PredictBody:
    """The tensors of a predict request body (row or columnar)."""
    tensors, fmt = _parse(body, "instances", "inputs", dtypes, max_bytes, UNNAMED)
    signature = body.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise TensorCodecError("signature_name", "must be a string")
    return PredictBody(tensors, fmt, signature)


def parse_predict_response(
    body: Any,
    *,
    dtypes: DTypes = None,
    unnamed: str = UNNAMED,
    max_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
    default_float: DType = DType.DT_FLOAT,
) -> dict[str, Tensor]:
    """The output tensors of a predict response; an unnamed output is keyed ``unnamed``.

    Untyped numbers with a fraction become ``default_float``. A body ``{"error": "..."}`` raises
    TensorCodecError with field ``error`` and the server's message.
    """
    tensors, _ = _parse(body, "predictions", "outputs", dtypes, max_bytes, unnamed, default_float)
    return tensors
