"""The one interface every executor implements: a batch of named arrays in, named arrays out."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.models import TensorSpec

Arrays = dict[str, npt.NDArray[Any]]
__all__ = [
    "Arrays", "ModelExecutor", "ModelMetadata", "TensorSpec", "as_arrays", "batch_size", "check_outputs",
]


@dataclass(frozen=True)
class ModelMetadata:
    """What a server (or an in-process model) says about the model it serves."""

    name: str
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    versions: tuple[str, ...] = ()
    platform: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


class ModelExecutor(abc.ABC):
    """Scores batches against one model; ``source`` names what answers (endpoint URL or model path)."""

    source: str = ""

    @abc.abstractmethod
    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Score one batch: every array's first dimension is the batch; raises ExecutorError."""

    @abc.abstractmethod
    async def metadata(self) -> ModelMetadata:
        """The model's signature as the server reports it."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most executors hold no resources
        """Release connections; the executor is unusable afterwards."""

    async def __aenter__(self) -> ModelExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def check_outputs(outputs: Arrays, batch: int, expected: tuple[str, ...], source: str) -> Arrays:
    """Reject answers the caller cannot split per record: missing names or a wrong batch dimension."""
    missing = [name for name in expected if name not in outputs]
    if missing:
        raise ExecutorError(
            ErrorKind.MALFORMED, f"answer lacks output(s) {missing}; it has {sorted(outputs)}", source
        )
    if not outputs:
        raise ExecutorError(ErrorKind.MALFORMED, "answer has no outputs", source)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != batch:
            raise ExecutorError(
                ErrorKind.MALFORMED,
                f"output {name!r} has shape {list(array.shape)}; expected the batch size {batch} first",
                source,
            )
    return outputs


def batch_size(inputs: Mapping[str, npt.NDArray[Any]]) -> int:
    """The common first dimension of the inputs; a mismatch is the caller's error."""
    sizes = {name: (arr.shape[0] if arr.ndim else 1) for name, arr in inputs.items()}
    if not sizes:
        raise ExecutorError(ErrorKind.REJECTED, "no inputs given")
    if len(set(sizes.values())) != 1:
        raise ExecutorError(ErrorKind.REJECTED, f"inputs disagree on the batch dimension: {sizes}")
    return next(iter(sizes.values()))


def as_arrays(inputs: Mapping[str, Any]) -> Arrays:
    return {name: np.asarray(value) for name, value in inputs.items()}
