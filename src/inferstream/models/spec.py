"""What a model accepts and returns: named, typed, shaped tensor specs grouped in signatures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_SIGNATURE = "serving_default"


class ModelError(Exception):
    """Base class of every error raised by the models package."""


class ModelLoadError(ModelError):
    """A model folder or file could not be recognised or loaded; the message says which and why."""


class UnknownSignatureError(ModelError):
    """The caller asked for a signature the model does not have."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"signature {name!r} not found; the model has: {', '.join(available) or 'none'}")
        self.name = name
        self.available = available


class ModelInputError(ModelError):
    """An input is missing, unknown, or of the wrong dtype or shape; ``input_name`` names it."""

    def __init__(self, input_name: str, reason: str) -> None:
        super().__init__(f"input {input_name!r}: {reason}")
        self.input_name = input_name
        self.reason = reason


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: numpy dtype and shape, ``None`` for a free dimension (the batch)."""

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int | None, ...] | None  # None: rank unknown

    def describe(self) -> str:
        dims = "?" if self.shape is None else ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype} [{dims}]"

    @property
    def batched(self) -> bool:
        """True when the first dimension is free, so requests can be stacked along it."""
        return self.shape is not None and len(self.shape) > 0 and self.shape[0] is None

    def check(self, value: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Return ``value`` cast to this spec's dtype, or raise ModelInputError saying what was expected.

        Casts within a kind family are allowed (float64 → float32, int → float), as TF Serving's JSON
        API does; a string or a boolean for a number, or a float for an integer, is an error.
        """
        if self.shape is not None:
            got = f"got shape {list(value.shape)}"
            if value.ndim != len(self.shape):
                rank = f"expected rank {len(self.shape)}"
                raise ModelInputError(self.name, f"{rank} ({self.describe()}), {got}")
            for axis, (want, size) in enumerate(zip(self.shape, value.shape, strict=True)):
                if want is not None and want != size:
                    where = f"expected size {want} in dimension {axis}"
                    raise ModelInputError(self.name, f"{where} ({self.describe()}), {got}")
        if value.dtype == self.dtype:
            return value
        if self.dtype.kind == "O" and value.dtype.kind in "USO":
            return value.astype(object)
        castable = np.can_cast(value.dtype, self.dtype, casting="same_kind")
        if value.dtype.kind in "USO" or not castable or (value.dtype.kind == "b") != (self.dtype.kind == "b"):
            expected = f"expected dtype {self.dtype} ({self.describe()})"
            raise ModelInputError(self.name, f"{expected}, got {value.dtype}")
        return value.astype(self.dtype)


@dataclass(frozen=True)
class Signature:
    """A named function of the model: its inputs and outputs, in the model's order."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def batched(self) -> bool:
        return all(spec.batched for spec in self.inputs)

    def check_inputs(self, inputs: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """Validate names, dtypes and shapes; return the inputs cast to the declared dtypes."""
        expected = {spec.name: spec for spec in self.inputs}
        for name in inputs:
            if name not in expected:
                raise ModelInputError(name, f"unknown input; the model expects {self.describe_inputs()}")
        checked: dict[str, npt.NDArray[Any]] = {}
        for spec in self.inputs:
            if spec.name not in inputs:
                raise ModelInputError(spec.name, f"missing; the model expects {self.describe_inputs()}")
            checked[spec.name] = spec.check(np.asarray(inputs[spec.name]))
        if self.batched and len({v.shape[0] for v in checked.values()}) > 1:
            sizes = {k: v.shape[0] for k, v in checked.items()}
            raise ModelInputError(next(iter(sizes)), f"inputs disagree on the batch size: {sizes}")
        return checked

    def describe_inputs(self) -> str:
        return ", ".join(f"{s.name}: {s.describe()}" for s in self.inputs)
