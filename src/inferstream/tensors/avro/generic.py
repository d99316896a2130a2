"""Generic codec: every record type through fastavro's schemaless binary (as Kafka carries them).

This is the reference the batch fast path is checked against and falls back to. Payloads are
plain Avro binary without a container header, exactly one record each: trailing bytes are an error.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro

from inferstream import schemas
from inferstream.tensors.avro.convert import (
    AVRO_SYMBOLS,
    DEFAULT_MAX_TENSOR_BYTES,
    as_spec,
    require_tensor,
    tensor_from_avro,
    tensor_to_avro,
)
from inferstream.tensors.avro.records import (
    ModelDefinition,
    ModelDescriptor,
    ModelResultMetadata,
    ServingOutput,
    ServingResult,
    SourceRecord,
    SourceRequest,
    TensorSpec,
)
from inferstream.tensors.tensor import Tensor, TensorCodecError


def write(full_name: str, record: dict[str, Any]) -> bytes:
    """Schemaless Avro binary of a fastavro dict."""
    out = io.BytesIO()
    try:
        fastavro.schemaless_writer(out, schemas.parsed_schema(full_name), record)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TensorCodecError(full_name.rsplit(".", 1)[-1], f"cannot encode: {exc}") from None
    return out.getvalue()


def read(full_name: str, payload: bytes) -> dict[str, Any]:
    """The fastavro dict of one schemaless record; TensorCodecError if it is truncated or malformed."""
    what = full_name.rsplit(".", 1)[-1]
    stream = io.BytesIO(payload)
    try:
        record = fastavro.schemaless_reader(stream, schemas.parsed_schema(full_name), None)
    except EOFError:
        raise _cut_short(full_name, payload) from None
    except IndexError:
        # fastavro indexes enum symbols and union branches by the wire index
        raise _index_error(full_name, payload) from None
    except UnicodeDecodeError as exc:
        raise TensorCodecError(what, f"a string is not UTF-8: {exc}") from None
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise TensorCodecError(what, f"malformed: {exc}") from None
    if stream.tell() != len(payload):
        raise TensorCodecError(what, f"{len(payload) - stream.tell()} trailing bytes after the record")
    if not isinstance(record, dict):
        raise TensorCodecError(what, f"decoded to {type(record).__name__}, not a record")
    return record


#: A record cut short is completed by at most this much zero padding (its missing fields' tails);
#: bytes of another kind read as lengths and counts ask for far more. Measured on fraud records:
#: every prefix completes within 127 bytes, text and random bytes need over 500 or never complete.
_COMPLETION_BYTES = 256


def _cut_short(full_name: str, payload: bytes) -> TensorCodecError:
    """The payload ended mid-record: a truncated record, or bytes that are not this record at all."""
    what = full_name.rsplit(".", 1)[-1]
    stream = io.BytesIO(payload + bytes(4 * _COMPLETION_BYTES))
    try:
        fastavro.schemaless_reader(stream, schemas.parsed_schema(full_name), None)
        completes = stream.tell() - len(payload) <= _COMPLETION_BYTES
    except Exception:  # any failure: the bytes do not follow the schema
        completes = False
    if completes:
        return TensorCodecError(
            what, f"truncated: the record ends after {len(payload)} bytes, inside a field"
        )
    return TensorCodecError(
        what,
        f"not a {what} record: {len(payload)} bytes that do not follow its schema "
        "(garbage, or a record cut short inside a long field)",
    )


def _index_error(full_name: str, payload: bytes) -> TensorCodecError:
    """Name the field behind an out-of-range index: a DataType symbol, else a union branch."""
    what = full_name.rsplit(".", 1)[-1]
    try:
        lenient = fastavro.schemaless_reader(io.BytesIO(payload), schemas.lenient_schema(full_name), None)
    except Exception:  # still unreadable: the bad index is a union branch
        return TensorCodecError(what, "unknown union branch index (the bytes do not follow the schema)")
    for path, index in _dtype_indices(lenient, what if full_name == schemas.TENSOR else ""):
        if not 0 <= index < len(AVRO_SYMBOLS):
            return TensorCodecError(
                f"{path}dtype", f"unknown DataType symbol index {index} (known: {AVRO_SYMBOLS})"
            )
    return TensorCodecError(what, "unknown enum symbol")


def _dtype_indices(node: Any, path: str) -> list[tuple[str, int]]:
    """(field path prefix, wire index) of every Tensor.dtype in a record read with enums as ints."""
    if not isinstance(node, dict):
        return []
    found = [(f"{path}." if path else "", node["dtype"])] if isinstance(node.get("dtype"), int) else []
    for key, value in node.items():
        if key in ("inputs", "outputs") and isinstance(value, dict):
            for name, tensor in value.items():
                found += _dtype_indices(tensor, f"{path}.{key}[{name}]".lstrip("."))
        else:
            found += _dtype_indices(value, f"{path}.{key}".lstrip("."))
    return found


def _tensors_to_avro(tensors: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: tensor_to_avro(t, f"{field}[{name}]") for name, t in tensors.items()}


def _inputs_from_avro(tensors: dict[str, Any], field: str, max_bytes: int) -> dict[str, Tensor]:
    return {
        name: require_tensor(tensor_from_avro(t, f"{field}[{name}]", max_bytes), f"{field}[{name}]", name)
        for name, t in tensors.items()
    }


def _specs_from_avro(tensors: dict[str, Any], field: str, max_bytes: int) -> dict[str, TensorSpec]:
    return {
        name: as_spec(tensor_from_avro(t, f"{field}[{name}]", max_bytes), name) for name, t in tensors.items()
    }


def _metadata_to_avro(m: ModelResultMetadata) -> dict[str, Any]:
    return {
        "errors": m.errors,
        "modelName": m.model_name,
        "source": m.source,
        "startTime": m.start_time,
        "duration": m.duration,
    }


def _metadata_from_avro(r: dict[str, Any]) -> ModelResultMetadata:
    return ModelResultMetadata(r["errors"], r["modelName"], r["source"], r["startTime"], r["duration"])


# --- Tensor -------------------------------------------------------------------------------------


def encode_tensor(tensor: Tensor | TensorSpec) -> bytes:
    return write(schemas.TENSOR, tensor_to_avro(tensor))


def decode_tensor(payload: bytes, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> Tensor | TensorSpec:
    """A Tensor, or a TensorSpec when the record is shape-only."""
    return tensor_from_avro(read(schemas.TENSOR, payload), "Tensor", max_bytes)


# --- SourceRecord / ServingOutput ---------------------------------------------------------------


def encode_source_record(record: SourceRecord) -> bytes:
    return write(schemas.SOURCE_RECORD, {"inputs": _tensors_to_avro(record.inputs, "inputs")})


def decode_source_record(payload: bytes, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> SourceRecord:
    return SourceRecord(
        _inputs_from_avro(read(schemas.SOURCE_RECORD, payload)["inputs"], "inputs", max_bytes)
    )


def encode_serving_output(output: ServingOutput) -> bytes:
    return write(schemas.SERVING_OUTPUT, {"outputs": _tensors_to_avro(output.outputs, "outputs")})


def decode_serving_output(payload: bytes, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> ServingOutput:
    outputs = read(schemas.SERVING_OUTPUT, payload)["outputs"]
    decoded: dict[str, Tensor | TensorSpec] = {}
    for name, t in outputs.items():
        value = tensor_from_avro(t, f"outputs[{name}]", max_bytes)
        decoded[name] = (
            Tensor(value.dtype, value.data, name, value.dim_names)
            if isinstance(value, Tensor)
            else (TensorSpec(value.dtype, value.shape, name, value.dim_names))
        )
    return ServingOutput(decoded)


# --- SourceRequest ------------------------------------------------------------------------------


def source_request_to_avro(request: SourceRequest) -> dict[str, Any]:
    return {
        "inputRecords": {"inputs": _tensors_to_avro(request.inputs, "inputRecords.inputs")},
        "modelResults": {"outputs": _tensors_to_avro(request.expected_outputs, "modelResults.outputs")},
        "datatype": request.datatype,
    }


def source_request_from_avro(
    record: dict[str, Any], max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> SourceRequest:
    return SourceRequest(
        inputs=_inputs_from_avro(record["inputRecords"]["inputs"], "inputRecords.inputs", max_bytes),
        expected_outputs=_specs_from_avro(
            record["modelResults"]["outputs"], "modelResults.outputs", max_bytes
        ),
        datatype=record["datatype"],
    )


def encode_source_request(request: SourceRequest) -> bytes:
    return write(schemas.SOURCE_REQUEST, source_request_to_avro(request))


def decode_source_request(payload: bytes, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> SourceRequest:
    return source_request_from_avro(read(schemas.SOURCE_REQUEST, payload), max_bytes)


# --- ModelResultMetadata / ServingResult --------------------------------------------------------


def encode_model_result_metadata(metadata: ModelResultMetadata) -> bytes:
    return write(schemas.MODEL_RESULT_METADATA, _metadata_to_avro(metadata))


def decode_model_result_metadata(payload: bytes) -> ModelResultMetadata:
    return _metadata_from_avro(read(schemas.MODEL_RESULT_METADATA, payload))


def serving_result_to_avro(result: ServingResult) -> dict[str, Any]:
    return {
        "inputRecord": {"inputs": _tensors_to_avro(result.inputs, "inputRecord.inputs")},
        "modelResult": {"outputs": _tensors_to_avro(result.outputs, "modelResult.outputs")},
        "modelResultMetadata": _metadata_to_avro(result.metadata),
        "datatype": result.datatype,
    }


def serving_result_from_avro(
    record: dict[str, Any], max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> ServingResult:
    return ServingResult(
        inputs=_inputs_from_avro(record["inputRecord"]["inputs"], "inputRecord.inputs", max_bytes),
        outputs=_inputs_from_avro(record["modelResult"]["outputs"], "modelResult.outputs", max_bytes),
        metadata=_metadata_from_avro(record["modelResultMetadata"]),
        datatype=record["datatype"],
    )


def encode_serving_result(result: ServingResult) -> bytes:
    return write(schemas.SERVING_RESULT, serving_result_to_avro(result))


def decode_serving_result(payload: bytes, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> ServingResult:
    return serving_result_from_avro(read(schemas.SERVING_RESULT, payload), max_bytes)


# --- ModelDescriptor ----------------------------------------------------------------------------


def encode_model_descriptor(descriptor: ModelDescriptor) -> bytes:
    model = descriptor.model
    return write(
        schemas.MODEL_DESCRIPTOR,
        {
            "modelName": descriptor.model_name,
            "description": descriptor.description,
            "model": None if model is None else {"model": model.model, "signature": model.signature},
            "modelcontent": descriptor.model_content,
            "modelSourceLocation": descriptor.model_source_location,
            "bucket": descriptor.bucket,
            "datatype": descriptor.datatype,
        },
    )


def decode_model_descriptor(payload: bytes) -> ModelDescriptor:
    r = read(schemas.MODEL_DESCRIPTOR, payload)
    model = r["model"]
    return ModelDescriptor(
        model_name=r["modelName"],
        description=r["description"],
        model=None if model is None else ModelDefinition(model["model"], model["signature"]),
        model_content=r["modelcontent"],
        model_source_location=r["modelSourceLocation"],
        bucket=r["bucket"],
        datatype=r["datatype"],
    )
