"""The conformance battery runs against the real servers the executor tests start."""

from executors.conftest import builtin_server, doubler_model, kserve, mlserver, seldon

__all__ = ["builtin_server", "doubler_model", "kserve", "mlserver", "seldon"]
