"""Seldon Core v1 ``SeldonMessage`` (JSON and protobuf) to and from one tensor.

A message carries one tensor in ``data`` (plus optional column ``names``) in one of three forms:
- ``ndarray``: nested lists (JSON) / ``google.protobuf.ListValue`` (protobuf);
- ``tensor``: ``{"shape": [...], "values": [...]}``, values as doubles;
- ``tftensor``: a TensorFlow ``TensorProto`` (its protobuf JSON mapping in JSON bodies).
Element types: ``tftensor`` keeps them; the others carry numbers only, so decoders take ``dtype``
and otherwise infer bool/int64/DT_DOUBLE (what Seldon's Python wrapper gets from ``np.array``).
Forms that carry numbers as doubles reject int64 values beyond 2**53 instead of rounding them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import json_format

from inferstream.protos import seldon_pb2, tensor_pb2
from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES,
    Array,
    array_from_json,
    array_to_json,
    check_shape,
    itemsize,
    shaped,
)
from inferstream.tensors.numpy_codec import as_tensor
from inferstream.tensors.packed import read_packed, write_packed
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto

_EXACT_DOUBLE_INT = 2**53
_INT32_MAX = 2**31 - 1


class SeldonKind(enum.Enum):
    NDARRAY = "ndarray"
    TENSOR = "tensor"
    TFTENSOR = "tftensor"


@dataclass(frozen=True)
class SeldonData:
    """The tensor of a SeldonMessage, its column names, the form it came in and the ``meta`` object."""

    tensor: Tensor
    names: list[str] = field(default_factory=list)
    kind: SeldonKind = SeldonKind.NDARRAY
    meta: dict[str, Any] = field(default_factory=dict)


def _check_doubles(field_name: str, tensor: Tensor) -> Array:
    """The values as float64, refusing what doubles cannot carry exactly."""
    if tensor.dtype in (DType.DT_STRING, DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        raise TensorCodecError(field_name, f"carries numbers only, not {tensor.dtype.value}")
    data = tensor.data
    if tensor.dtype is DType.DT_INT64 and data.size and int(np.abs(data).max()) > _EXACT_DOUBLE_INT:
        raise TensorCodecError(field_name, "int64 values beyond 2**53 cannot be carried as doubles exactly")
    return data.astype(np.float64).reshape(-1)


def _from_doubles(field_name: str, values: Array, dtype: DType | None) -> Tensor:
    """A tensor of ``dtype`` (DT_DOUBLE if None) from numbers, refusing values the type cannot hold."""
    target = dtype or DType.DT_DOUBLE
    if target in (DType.DT_STRING, DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        raise TensorCodecError(field_name, f"carries numbers only, not {target.value}")
    if target is DType.DT_BOOL:
        if not np.all((values == 0) | (values == 1)):
            raise TensorCodecError(field_name, "values other than 0 and 1 where DT_BOOL is expected")
        return Tensor(target, values != 0)
    return array_from_json(field_name, values, target)


def _shape_of(tensor: Tensor, field_name: str) -> list[int]:
    if any(d > _INT32_MAX for d in tensor.shape):
        raise TensorCodecError(field_name, "Seldon tensor shapes are int32")
    return list(tensor.shape)


# --- JSON ---------------------------------------------------------------------------------------


def seldon_message_json(
    value: Tensor | npt.ArrayLike,
    *,
    kind: SeldonKind = SeldonKind.NDARRAY,
    names: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A SeldonMessage JSON body carrying one tensor in ``data.<kind>``."""
    tensor = as_tensor(value)
    data: dict[str, Any] = {"names": list(names)} if names else {}
    if kind is SeldonKind.NDARRAY:
        data["ndarray"] = array_to_json("data.ndarray", tensor)
    elif kind is SeldonKind.TENSOR:
        values = _check_doubles("data.tensor.values", tensor)
        data["tensor"] = {"shape": _shape_of(tensor, "data.tensor.shape"), "values": values.tolist()}
    else:
        data["tftensor"] = json_format.MessageToDict(tensor_to_proto(tensor))
    body: dict[str, Any] = {"data": data}
    if meta is not None:
        body["meta"] = dict(meta)
    return body


def parse_seldon_json(
    body: Any, *, dtype: DType | None = None, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> SeldonData:
    """The tensor of a SeldonMessage JSON body; a FAILURE status or a body with no tensor is an error."""
    if not isinstance(body, dict):
        raise TensorCodecError("body", f"expected a JSON object, got {type(body).__name__}")
    _raise_on_failure(body.get("status"))
    data = body.get("data")
    if not isinstance(data, dict):
        other = [k for k in ("strData", "binData", "jsonData", "customData") if k in body]
        raise TensorCodecError("data", f"missing (the message carries {other or 'nothing'}, not a tensor)")
    names = _names(data.get("names"))
    meta = body.get("meta") or {}
    present = [k.value for k in SeldonKind if k.value in data]
    if len(present) != 1:
        raise TensorCodecError("data", f"needs exactly one of ndarray, tensor, tftensor; got {present}")
    kind = SeldonKind(present[0])
    if kind is SeldonKind.NDARRAY:
        tensor = array_from_json("data.ndarray", data["ndarray"], dtype, max_bytes, DType.DT_DOUBLE)
    elif kind is SeldonKind.TENSOR:
        tensor = _tensor_from_json(data["tensor"], dtype, max_bytes)
    else:
        tensor = _tftensor_from_json(data["tftensor"], max_bytes)
    return SeldonData(tensor, names, kind, meta if isinstance(meta, dict) else {})


def _raise_on_failure(status: Any) -> None:
    if isinstance(status, dict) and status.get("status") == "FAILURE":
        reason = status.get("info") or status.get("reason") or "no reason given"
        raise TensorCodecError("status", f"FAILURE (code {status.get('code', '?')}): {reason}")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise TensorCodecError("data.names", "must be a list of strings")
    return list(value)


def _tensor_from_json(obj: Any, dtype: DType | None, max_bytes: int) -> Tensor:
    if not isinstance(obj, dict) or "shape" not in obj or "values" not in obj:
        raise TensorCodecError("data.tensor", "needs shape and values")
    shape_value = obj["shape"]
    if not isinstance(shape_value, list) or not all(isinstance(d, int) for d in shape_value):
        raise TensorCodecError("data.tensor.shape", "must be a list of integers")
    shape = check_shape("data.tensor.shape", shape_value, itemsize(dtype or DType.DT_DOUBLE), max_bytes)
    # Ints stay ints here, so a DT_INT64 hint keeps values beyond 2**53 exact.
    values = array_from_json("data.tensor.values", obj["values"], None, max_bytes, DType.DT_DOUBLE)
    flat = shaped("data.tensor.values", values.data.reshape(-1), shape)
    tensor = _from_doubles("data.tensor.values", flat.reshape(-1), dtype)
    return Tensor(tensor.dtype, tensor.data.reshape(shape))


def _tftensor_from_json(obj: Any, max_bytes: int) -> Tensor:
    try:
        proto = json_format.ParseDict(obj, tensor_pb2.TensorProto())
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise TensorCodecError("data.tftensor", f"not a TensorProto: {exc}") from None
    return tensor_from_proto(proto, "data.tftensor", max_bytes)


# --- protobuf -----------------------------------------------------------------------------------


def seldon_message_proto(
    value: Tensor | npt.ArrayLike, *, kind: SeldonKind = SeldonKind.TFTENSOR, names: Sequence[str] = ()
) -> Any:
    """A ``seldon.protos.SeldonMessage`` carrying one tensor (``tftensor`` by default: exact types)."""
    tensor = as_tensor(value)
    message = seldon_pb2.SeldonMessage()
    message.data.names.extend(names)
    if kind is SeldonKind.TFTENSOR:
        tensor_to_proto(tensor, into=message.data.tftensor)
    elif kind is SeldonKind.TENSOR:
        message.data.tensor.SetInParent()  # an empty tensor must still select the oneof
        write_packed(message.data.tensor, "values", _check_doubles("data.tensor.values", tensor), "<f8")
        message.data.tensor.shape.extend(_shape_of(tensor, "data.tensor.shape"))
    else:
        if tensor.data.ndim == 0:
            raise TensorCodecError("data.ndarray", "a ListValue needs rank >= 1")
        if tensor.dtype is DType.DT_INT64:
            _check_doubles("data.ndarray", tensor)
        message.data.ndarray.SetInParent()  # an empty list must still select the oneof
        message.data.ndarray.extend(array_to_json("data.ndarray", tensor))
    return message


def parse_seldon_proto(
    message: Any, *, dtype: DType | None = None, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> SeldonData:
    """The tensor of a ``SeldonMessage``; a FAILURE status or a message with no tensor is an error."""
    if message.HasField("status") and message.status.status == seldon_pb2.Status.FAILURE:
        status = message.status
        raise TensorCodecError("status", f"FAILURE (code {status.code}): {status.info or status.reason}")
    if message.WhichOneof("data_oneof") != "data":
        raise TensorCodecError("data", f"missing (the message carries {message.WhichOneof('data_oneof')})")
    data = message.data
    which = data.WhichOneof("data_oneof")
    if which is None:
        raise TensorCodecError("data", "needs one of ndarray, tensor, tftensor")
    kind = SeldonKind(which)
    if kind is SeldonKind.TFTENSOR:
        tensor = tensor_from_proto(data.tftensor, "data.tftensor", max_bytes)
    elif kind is SeldonKind.TENSOR:
        shape = check_shape(
            "data.tensor.shape", list(data.tensor.shape), itemsize(dtype or DType.DT_DOUBLE), max_bytes
        )
        doubles = read_packed(data.tensor, "values", "<f8", "data.tensor.values")
        if doubles is None:
            doubles = np.array(data.tensor.values, dtype=np.float64)
        flat = shaped("data.tensor.values", doubles, shape)
        tensor = _from_doubles("data.tensor.values", flat.reshape(-1), dtype)
        tensor = Tensor(tensor.dtype, tensor.data.reshape(shape))
    else:
        nested = [_plain(v) for v in data.ndarray.values]
        tensor = array_from_json("data.ndarray", nested, dtype, max_bytes, DType.DT_DOUBLE)
    meta = {"puid": message.meta.puid} if message.meta.puid else {}
    return SeldonData(tensor, list(data.names), kind, meta)


def _plain(value: Any) -> Any:
    """A ``google.protobuf.Value`` as the plain Python value JSON would give."""
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        return [_plain(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: _plain(v) for k, v in value.struct_value.fields.items()}
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)
