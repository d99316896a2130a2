"""Triton's binary tensor data extension of the V2 REST API (what ``tritonclient[http]`` sends).

A body is a JSON header of ``Inference-Header-Content-Length`` bytes, then the raw bytes of every
tensor whose ``parameters.binary_data_size`` is set, in the order of the header's list. Raw bytes
are those of ``raw_input_contents``: little-endian numbers, BYTES elements 4-byte length-prefixed.
A client asks for binary outputs per output (``parameters.binary_data``) or for all of them
(request ``parameters.binary_data_output``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy.typing as npt
import orjson

from inferstream.tensors.conversions import DEFAULT_MAX_TENSOR_BYTES
from inferstream.tensors.tensor import Tensor, TensorCodecError
from inferstream.tensors.v2.datatypes import InferBody, dtype_from_datatype, named_tensors
from inferstream.tensors.v2.json_bodies import parse_infer_request_json, tensor_to_json
from inferstream.tensors.v2.proto_messages import _from_raw, array_raw_bytes

HEADER = "Inference-Header-Content-Length"
CONTENT_TYPE = "application/octet-stream"


def split_body(body: bytes, header_length: int) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the bytes after it."""
    if not 0 < header_length <= len(body):
        raise TensorCodecError(HEADER, f"{header_length} does not fit a body of {len(body)} bytes")
    try:
        header = orjson.loads(body[:header_length])
    except orjson.JSONDecodeError as exc:
        raise TensorCodecError("header", f"not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise TensorCodecError("header", "expected a JSON object")
    return header, body[header_length:]


def _take_binary(tensors: list[Any], raw: bytes, what: str, max_bytes: int) -> dict[str, npt.NDArray[Any]]:
    """Arrays of the tensors sent as binary, cut from ``raw`` in order; every byte must be used."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    pos = 0
    for i, tensor in enumerate(tensors):
        field = f"{what}[{i}]"
        params = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is None:
            continue
        if not isinstance(size, int) or size < 0 or pos + size > len(raw):
            raise TensorCodecError(f"{field}.parameters.binary_data_size",
                                   f"{size!r} bytes do not fit the {len(raw) - pos} left")
        if "data" in tensor:
            raise TensorCodecError(field, "has both data and binary_data_size")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise TensorCodecError(f"{field}.shape", "must be a list of non-negative integers")
        dtype = dtype_from_datatype(tensor.get("datatype"), f"{field}.datatype")
        chunk = raw[pos:pos + size]
        arrays[str(tensor.get("name"))] = _from_raw(chunk, dtype, tuple(shape), field, max_bytes)
        pos += size
    if pos != len(raw):
        raise TensorCodecError(what, f"{len(raw) - pos} binary bytes left after the tensors")
    return arrays


def parse_binary_infer_request(
    body: bytes, header_length: int, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> tuple[InferBody, frozenset[str] | bool]:
    """The request, and which outputs to send as binary (True: all, from ``binary_data_output``)."""
    header, raw = split_body(body, header_length)
    inputs = header.get("inputs")
    if not isinstance(inputs, list):
        raise TensorCodecError("inputs", "must be a list")
    binary = _take_binary(inputs, raw, "inputs", max_bytes)
    json_only = {**header, "inputs": [t for t in inputs if str(t.get("name")) not in binary]}
    parsed = parse_infer_request_json(json_only, max_bytes=max_bytes)
    tensors = {}
    for tensor in inputs:  # the header's order, binary or not
        name = str(tensor.get("name"))
        tensors[name] = Tensor.from_numpy(binary[name], name) if name in binary else parsed.tensors[name]
    return (
        InferBody(tensors=tensors, id=parsed.id, parameters=parsed.parameters,
                  requested_outputs=parsed.requested_outputs),
        binary_outputs_requested(header),
    )


def binary_outputs_requested(header: Mapping[str, Any]) -> frozenset[str] | bool:
    params = header.get("parameters") or {}
    if isinstance(params, dict) and params.get("binary_data_output"):
        return True
    wanted = set()
    for out in header.get("outputs") or []:
        out_params = out.get("parameters") if isinstance(out, dict) else None
        if isinstance(out_params, dict) and out_params.get("binary_data"):
            wanted.add(str(out.get("name")))
    return frozenset(wanted)


def encode_binary(header: dict[str, Any], tensors: Sequence[Tensor], key: str,
                  binary: frozenset[str] | bool) -> tuple[bytes, int]:
    """``header`` with ``key`` holding the tensors (the binary ones as sizes), then their bytes."""
    entries, chunks = [], []
    for tensor in tensors:
        if binary is True or (binary and tensor.name in binary):
            raw = array_raw_bytes(tensor.data, f"{key}[{tensor.name}]")
            entry = {"name": tensor.name, "datatype": tensor_to_json(tensor)["datatype"],
                     "shape": list(tensor.shape), "parameters": {"binary_data_size": len(raw)}}
            entries.append(entry)
            chunks.append(raw)
        else:
            entries.append(tensor_to_json(tensor))
    head = orjson.dumps({**header, key: entries}, option=orjson.OPT_SERIALIZE_NUMPY)
    return head + b"".join(chunks), len(head)


def binary_infer_request(inputs: Mapping[str, npt.NDArray[Any]], outputs: Sequence[str] = (),
                         binary_outputs: bool = True) -> tuple[bytes, int]:
    """A request with every input binary; outputs asked as binary too when ``binary_outputs``."""
    header: dict[str, Any] = {}
    if outputs:
        header["outputs"] = [{"name": n, "parameters": {"binary_data": binary_outputs}} for n in outputs]
    elif binary_outputs:
        header["parameters"] = {"binary_data_output": True}
    return encode_binary(header, named_tensors(inputs), "inputs", True)


def parse_binary_infer_response(
    body: bytes, header_length: int | None, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> dict[str, npt.NDArray[Any]]:
    """Outputs of a response, binary (a header length) or plain JSON (none)."""
    from inferstream.tensors.v2.json_bodies import parse_infer_response_json

    if header_length is None:
        try:
            plain = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise TensorCodecError("body", f"not JSON: {exc}") from None
        return {k: t.data for k, t in parse_infer_response_json(plain, max_bytes=max_bytes).tensors.items()}
    header, raw = split_body(body, header_length)
    if "error" in header:
        raise TensorCodecError("error", str(header["error"]))
    outputs = header.get("outputs")
    if not isinstance(outputs, list):
        raise TensorCodecError("outputs", "must be a list")
    binary = _take_binary(outputs, raw, "outputs", max_bytes)
    rest = [t for t in outputs if str(t.get("name")) not in binary]
    plain_outputs = parse_infer_response_json({"outputs": rest}, max_bytes=max_bytes).tensors
    return {str(t.get("name")): (binary[str(t.get("name"))] if str(t.get("name")) in binary
                                 else plain_outputs[str(t.get("name"))].data) for t in outputs}


__all__ = [
    "CONTENT_TYPE", "HEADER", "binary_infer_request", "binary_outputs_requested", "encode_binary",
    "parse_binary_infer_request", "parse_binary_infer_response", "split_body",
]


