"""The model-serving streamlet's tests score against the executors' tests' model and server."""

from executors.conftest import builtin_server, doubler_model

__all__ = ["builtin_server", "doubler_model"]
