"""A seldon-core Python model for the executor tests: run by ``seldon-core-microservice DoublingModel``.

Returns its input times two, so a client can check that numbers went there and back intact.
Shapes are kept: [n, k] in, [n, k] out. A NaN in the input asks for a server error (test hook).
"""

from typing import Any

import numpy as np


class DoublingModel:
    def predict(self, X: Any, features_names: Any = None, meta: Any = None) -> Any:  # seldon's API names
        array = np.asarray(X, dtype=np.float64)
        if np.isnan(array).any():
            raise ValueError("NaN in input")
        return array * 2
