"""Avro codecs for the tensor records of the original system (``tensorflow.*.avro`` schemas).

Single records: ``encode_<record>(record) -> bytes`` / ``decode_<record>(bytes) -> record``
(schemaless binary, as Kafka carries them; generic fastavro). Batches (the hot path):
``decode_source_requests``, ``encode_serving_results``, ``decode_serving_results``,
``encode_source_requests`` work on stacked numpy arrays (``StackedTensor``, with row splits) and
take a byte-template fast path where they can, the generic codec elsewhere.

Wire decisions: complex64/128 travel as ``DT_FLOAT``/``DT_DOUBLE`` with ``complex_*_data`` (the
Avro enum has no complex symbols); a tensor with no data field is a shape-only ``TensorSpec``
(expected outputs) or, where values are required, an error unless it has zero elements.
"""

from inferstream.tensors.avro.batch import (
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
    encode_source_requests,
)
from inferstream.tensors.avro.convert import DEFAULT_MAX_TENSOR_BYTES
from inferstream.tensors.avro.generic import (
    decode_model_descriptor,
    decode_model_result_metadata,
    decode_serving_output,
    decode_serving_result,
    decode_source_record,
    decode_source_request,
    decode_tensor,
    encode_model_descriptor,
    encode_model_result_metadata,
    encode_serving_output,
    encode_serving_result,
    encode_source_record,
    encode_source_request,
    encode_tensor,
)
from inferstream.tensors.avro.records import (
    DEFAULT_DATATYPE,
    ModelDefinition,
    ModelDescriptor,
    ModelResultMetadata,
    ServingOutput,
    ServingResult,
    SourceRecord,
    SourceRequest,
    TensorSpec,
)
from inferstream.tensors.avro.stacked import (
    DecodedBatch,
    RecordFailure,
    ServingResultGroup,
    SourceRequestGroup,
    StackedTensor,
)

__all__ = [
    "DEFAULT_DATATYPE",
    "DEFAULT_MAX_TENSOR_BYTES",
    "DecodedBatch",
    "ModelDefinition",
    "ModelDescriptor",
    "ModelResultMetadata",
    "RecordFailure",
    "ServingOutput",
    "ServingResult",
    "ServingResultGroup",
    "SourceRecord",
    "SourceRequest",
    "SourceRequestGroup",
    "StackedTensor",
    "TensorSpec",
    "decode_model_descriptor",
    "decode_model_result_metadata",
    "decode_serving_output",
    "decode_serving_result",
    "decode_serving_results",
    "decode_source_record",
    "decode_source_request",
    "decode_source_requests",
    "decode_tensor",
    "encode_model_descriptor",
    "encode_model_result_metadata",
    "encode_serving_output",
    "encode_serving_result",
    "encode_serving_results",
    "encode_source_record",
    "encode_source_request",
    "encode_source_requests",
    "encode_tensor",
]
