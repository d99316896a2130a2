"""The one interface every model format implements: signatures in, numpy arrays out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy.typing as npt

from inferstream.models.spec import DEFAULT_SIGNATURE, Signature, TensorSpec, UnknownSignatureError

Arrays = dict[str, npt.NDArray[Any]]


class LoadedModel(ABC):
    """A model in memory. ``predict`` is thread-safe: call it from many threads at once."""

    format: str = ""

    def __init__(self, path: Path, signatures: Mapping[str, Signature]) -> None:
        self.path = path
        self.signatures = dict(signatures)

    @property
    def default_signature(self) -> str:
        if DEFAULT_SIGNATURE in self.signatures:
            return DEFAULT_SIGNATURE
        return next(iter(self.signatures))

    def signature(self, name: str = "") -> Signature:
        """The named signature; ``""`` means the default one (``serving_default``), as in TF Serving."""
        key = name or self.default_signature
        try:
            return self.signatures[key]
        except KeyError:
            raise UnknownSignatureError(key, sorted(self.signatures)) from None

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.signature().inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.signature().outputs

    def predict(self, inputs: Mapping[str, npt.NDArray[Any]], signature_name: str = "") -> Arrays:
        """Validate ``inputs`` against the signature (ModelInputError if wrong), run, return outputs."""
        signature = self.signature(signature_name)
        return self.run(signature, signature.check_inputs(inputs))

    @abstractmethod
    def run(self, signature: Signature, inputs: Arrays) -> Arrays:
        """Run already validated inputs (see ``Signature.check_inputs``) through ``signature``."""

    def close(self) -> None:  # noqa: B027 - most formats hold nothing that needs releasing
        """Release what the model holds."""
