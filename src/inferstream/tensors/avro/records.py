"""Plain Python forms of the Avro records that flow between pipeline stages.

The wrapper records ``SourceRecord`` ({inputs}) and ``ServingOutput`` ({outputs}) are flattened
into their parents (``SourceRequest.inputs``, ``ServingResult.outputs``), but each can still be
encoded on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inferstream.tensors.tensor import DType, Tensor

DEFAULT_DATATYPE = "recommender"


@dataclass(frozen=True)
class TensorSpec:
    """A shape-only tensor: announces an expected output (dtype and shape, no values).

    A dimension of -1 means "unknown" (as in TensorFlow signatures).
    """

    dtype: DType
    shape: tuple[int, ...]
    name: str = ""
    dim_names: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def of(cls, tensor: Tensor) -> TensorSpec:
        """The spec a tensor satisfies."""
        return cls(tensor.dtype, tensor.shape, tensor.name, tensor.dim_names)


@dataclass
class SourceRecord:
    """``tensorflow.modelserving.avro.SourceRecord``: named input tensors."""

    inputs: dict[str, Tensor]


@dataclass
class ServingOutput:
    """``tensorflow.modelserving.avro.ServingOutput``: named outputs, tensors or shape-only specs."""

    outputs: dict[str, Tensor | TensorSpec]


@dataclass
class SourceRequest:
    """``tensorflow.modelserving.avro.SourceRequest``: what an ingress emits.

    ``inputs`` is ``inputRecords.inputs``; ``expected_outputs`` is ``modelResults.outputs``.
    """

    inputs: dict[str, Tensor]
    expected_outputs: dict[str, TensorSpec] = field(default_factory=dict)
    datatype: str = DEFAULT_DATATYPE


@dataclass(frozen=True)
class ModelResultMetadata:
    """``tensorflow.modelserving.avro.ModelResultMetadata``; ``errors == ""`` means success."""

    errors: str = ""
    model_name: str = ""
    source: str = ""
    start_time: int = 0  # epoch millis when the executor started
    duration: int = 0  # millis the call took

    @property
    def ok(self) -> bool:
        return self.errors == ""


@dataclass
class ServingResult:
    """``tensorflow.modelserving.avro.ServingResult``: what model-serving emits.

    ``inputs`` is ``inputRecord.inputs``; ``outputs`` is ``modelResult.outputs`` (empty on error).
    """

    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor] = field(default_factory=dict)
    metadata: ModelResultMetadata = field(default_factory=ModelResultMetadata)
    datatype: str = DEFAULT_DATATYPE


@dataclass(frozen=True)
class ModelDefinition:
    """``tensorflow.modelserving.avro.modelDefinition``."""

    model: str = ""
    signature: str = ""


@dataclass
class ModelDescriptor:
    """``tensorflow.modelserving.avro.ModelDescriptor``: a new model for a running model-serving stage."""

    model_name: str
    description: str = ""
    model: ModelDefinition | None = None
    model_content: list[bytes] | None = None  # model files, e.g. a zipped SavedModel
    model_source_location: list[str] | None = None  # where to fetch it, e.g. object-store keys
    bucket: str | None = None
    datatype: str = DEFAULT_DATATYPE
