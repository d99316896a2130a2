"""Reading the model-call duration the model-serving stage writes into each ServingResult."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from fastavro import schemaless_reader

from inferstream.schemas import SERVING_RESULT, parsed_schema


def model_call_durations_ms(values: Sequence[bytes]) -> npt.NDArray[np.float64]:
    """``modelResultMetadata.duration`` (ms) of each decodable ServingResult; others are left out."""
    schema = parsed_schema(SERVING_RESULT)
    durations = []
    for value in values:
        try:
            record = schemaless_reader(io.BytesIO(value), schema, None)
        except Exception:  # a record of another shape simply has no figure
            continue
        if isinstance(record, dict):
            durations.append(float(record["modelResultMetadata"]["duration"]))
    return np.asarray(durations, dtype=np.float64)
