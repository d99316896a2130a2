"""CLI tests drive the verbs against the servers and model folders the packages' own tests use."""

from executors.conftest import builtin_server, doubler_model
from server.conftest import fraud_reference, model_repo

__all__ = ["builtin_server", "doubler_model", "fraud_reference", "model_repo"]
