"""Benchmark input records: Avro SourceRequests of real card transactions, each tagged with a sequence number.

The tag lives in ``datatype``, the last field of both SourceRequest and ServingResult, which the
model-serving stage passes through. It is fixed-width, so the harness reads it from the last bytes
of any record downstream without decoding the record: matching an output to its input costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from fastavro import schemaless_writer

from inferstream.schemas import SOURCE_REQUEST, parsed_schema

TAG_PREFIX = "fraud#"
TAG_DIGITS = 18
TAG_LENGTH = len(TAG_PREFIX) + TAG_DIGITS
# Avro writes a string as its zigzag-varint length, then the UTF-8 bytes; 24 fits in one byte.
_TAG_LENGTH_BYTE = bytes([TAG_LENGTH << 1])
_TAG_SUFFIX = len(_TAG_LENGTH_BYTE) + TAG_LENGTH
INPUT_NAME = "transaction"
OUTPUT_NAME = "predictions"


def _float_tensor(shape: Sequence[int], values: Sequence[float] | None) -> dict[str, object]:
    return {
        "dtype": "DT_FLOAT",
        "tensorshape": {"dim": [{"size": int(s), "name": ""} for s in shape]},
        "float_data": list(values) if values is not None else None,
    }


def source_request_prefix(row: npt.NDArray[np.float32]) -> bytes:
    """The Avro bytes of a SourceRequest for one transaction, without its trailing ``datatype``."""
    record = {
        "inputRecords": {"inputs": {INPUT_NAME: _float_tensor((1, row.shape[0]), row.tolist())}},
        "modelResults": {"outputs": {OUTPUT_NAME: _float_tensor((1, row.shape[0]), None)}},
        "datatype": "",
    }
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed_schema(SOURCE_REQUEST), record)
    encoded = buffer.getvalue()
    assert encoded[-1:] == b"\x00"  # the empty datatype string
    return encoded[:-1]


def tag(seq: int) -> bytes:
    return _TAG_LENGTH_BYTE + f"{TAG_PREFIX}{seq:0{TAG_DIGITS}d}".encode()


def read_tag(value: bytes) -> int | None:
    """The sequence number at the end of a benchmark record, or None for a record without a tag."""
    suffix = value[-_TAG_SUFFIX:]
    if len(suffix) != _TAG_SUFFIX or suffix[:1] != _TAG_LENGTH_BYTE:
        return None
    text = suffix[1:]
    if not text.startswith(TAG_PREFIX.encode()):
        return None
    digits = text[len(TAG_PREFIX) :]
    return int(digits) if digits.isdigit() else None


class RequestFactory:
    """Tagged SourceRequest bytes for sequence numbers, cycling over the given transactions."""

    def __init__(self, features: npt.NDArray[np.float32]) -> None:
        if features.ndim != 2 or len(features) == 0:
            raise ValueError(
                f"need a non-empty [n, features] array of transactions, got shape {features.shape}"
            )
        self._prefixes = [source_request_prefix(row) for row in features]

    def __call__(self, seq: int) -> bytes:
        return self._prefixes[seq % len(self._prefixes)] + tag(seq)
