"""Model loading is tested on the model folders the server's tests build (tests/server/conftest.py)."""

from server.conftest import linear_reference, model_repo

__all__ = ["linear_reference", "model_repo"]
