"""``--model-config-file``: TF Serving's model config, the protobuf text format of ModelServerConfig.

    model_config_list {
      config {
        name: "fraud"
        base_path: "s3://models/fraud"          # a path, file:// or s3:// URI
        model_platform: "tensorflow"            # read and ignored: the format is recognised from the files
        model_version_policy { specific { versions: 1 versions: 2 } }
        version_labels { key: "stable" value: 1 }
        version_labels { key: "canary" value: 2 }
      }
    }

As in TF Serving, a model without ``model_version_policy`` serves its latest version only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import text_format

from inferstream.protos import model_server_config_pb2
from inferstream.server.versions import ModelSource, VersionPolicy


class ModelConfigError(ValueError):
    """The model config file is unreadable or not a valid ModelServerConfig; the message says where."""


def _policy(config: Any) -> VersionPolicy:
    if not config.HasField("model_version_policy"):
        return VersionPolicy("latest", 1)
    policy = config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy("all")
    if choice == "specific":
        if not policy.specific.versions:
            raise ModelConfigError(f"model {config.name!r}: a specific policy lists at least one version")
        return VersionPolicy("specific", versions=tuple(sorted(policy.specific.versions)))
    return VersionPolicy("latest", policy.latest.num_versions or 1)


def parse_model_config(text: str, where: str = "model config") -> list[ModelSource]:
    """The models of a ModelServerConfig in text format (ModelConfigError saying what is wrong)."""
    message = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise ModelConfigError(f"{where}: {exc}") from None
    if message.WhichOneof("config") == "custom_model_config":
        raise ModelConfigError(f"{where}: custom_model_config is not supported; use model_config_list")
    sources: list[ModelSource] = []
    seen: set[str] = set()
    for config in message.model_config_list.config:
        if not config.name or not config.base_path:
            raise ModelConfigError(f"{where}: every config needs a name and a base_path")
        if config.name in seen:
            raise ModelConfigError(f"{where}: model {config.name!r} is configured twice")
        seen.add(config.name)
        policy = _policy(config)
        labels = {label: int(version) for label, version in config.version_labels.items()}
        if policy.kind == "specific":
            stray = {k: v for k, v in labels.items() if v not in policy.versions}
            if stray:
                raise ModelConfigError(
                    f"{where}: model {config.name!r}: labels {stray} name versions the policy does not serve"
                )
        sources.append(ModelSource(config.name, config.base_path, policy, labels))
    if not sources:
        raise ModelConfigError(f"{where}: no model in model_config_list")
    return sources


def read_model_config(path: Path) -> list[ModelSource]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelConfigError(f"{path}: {exc.strerror or exc}") from None
    return parse_model_config(text, str(path))
