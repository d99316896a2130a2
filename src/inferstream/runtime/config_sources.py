"""Where configuration values come from, lowest precedence first: the blueprint, conf files
(in the order given), the environment, then ``--conf key=value``.

Keys (the same in conf files, HOCON or YAML, and in ``--conf``):

* ``<streamlet>.<parameter>`` or ``streamlets.<streamlet>.config.<parameter>``, or Cloudflow's
  ``cloudflow.streamlets.<streamlet>.config-parameters.<parameter>``;
* ``streamlets.<streamlet>.instances`` (also ``--scale streamlet=N``);
* ``topics.<topic name>.<partitions|replication|retention>`` and ``topic-defaults.<same>``
  (for every topic): beat what the blueprint says;
* ``transports.<transport>.<setting>``: passed to the transport's constructor; dashes become
  underscores (``bootstrap-servers`` -> ``bootstrap_servers``), and dotted client properties
  (``"sasl.mechanism"``) are gathered into ``client_config``.

Environment: ``INFERSTREAM_<STREAMLET>_<PARAMETER>``, upper case, non-alphanumerics as ``_``
(e.g. ``INFERSTREAM_MODEL_SERVING_BATCH_SIZE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstream.runtime.blueprint import Problem


@dataclass
class Settings:
    """Configuration gathered from every source except the environment (read per declared key)."""

    streamlet_config: dict[str, dict[str, Any]] = field(default_factory=dict)  # files + --conf merged
    conf_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # --conf only: beats env
    instances: dict[str, int] = field(default_factory=dict)
    transports: dict[str, dict[str, Any]] = field(default_factory=dict)
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)  # topic name -> partitions/retention/...
    topic_defaults: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def transport_settings(self, name: str) -> dict[str, Any]:
        raw = self.transports.get(name, {})
        kwargs: dict[str, Any] = {}
        client: dict[str, Any] = {}
        for key, value in raw.items():
            for prefix in ("client-config.", "client_config."):
                if key.startswith(prefix):
                    key = key.removeprefix(prefix)  # a conf file's client-config { ... } block
            if "." in key:
                client[key] = value
            elif isinstance(value, Mapping) and key in ("client-config", "client_config"):
                client.update({str(k): v for k, v in value.items()})
            else:
                kwargs[key.replace("-", "_")] = value
        if client:
            kwargs["client_config"] = client
        return kwargs


TOPIC_KEYS = ("partitions", "replication", "replicas", "retention")


def env_var(streamlet: str, key: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", f"INFERSTREAM_{streamlet}_{key}".upper())


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _read_conf(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
    else:
        from pyhocon import ConfigFactory

        data = ConfigFactory.parse_string(text).as_plain_ordered_dict()
    if not isinstance(data, Mapping):
        raise ValueError("a conf file must hold a mapping")
    return _flatten(data)


def _apply(settings: Settings, key: str, value: Any, where: str, layer: dict[str, dict[str, Any]]) -> None:
    parts = key.split(".")
    if parts[0] == "cloudflow" and len(parts) >= 5 and parts[1] == "streamlets":
        # cloudflow.streamlets.<name>.config-parameters.<key>; other cloudflow.* keys (runtimes) ignored
        if parts[3] == "config-parameters":
            layer.setdefault(parts[2], {})[".".join(parts[4:])] = value
        return
    if parts[0] == "topic-defaults" and len(parts) == 2 and parts[1] in TOPIC_KEYS:
        settings.topic_defaults[parts[1]] = value
        return
    if parts[0] == "topics" and len(parts) >= 3 and parts[-1] in TOPIC_KEYS:
        settings.topics.setdefault(".".join(parts[1:-1]), {})[parts[-1]] = value  # topic names have dots
        return
    if parts[0] == "transports" and len(parts) >= 3:
        settings.transports.setdefault(parts[1], {})[".".join(parts[2:])] = value
        return
    if parts[0] == "streamlets" and len(parts) >= 3:
        if parts[2] == "instances" and len(parts) == 3:
            try:
                settings.instances[parts[1]] = int(value)
            except (TypeError, ValueError):
                settings.problems.append(Problem(where, f"{key}: {value!r} is not a number of instances"))
            return
        if parts[2] == "config" and len(parts) >= 4:
            layer.setdefault(parts[1], {})[".".join(parts[3:])] = value
            return
    if len(parts) >= 2 and parts[0] not in (
        "streamlets",
        "transports",
        "cloudflow",
        "topics",
        "topic-defaults",
    ):
        layer.setdefault(parts[0], {})[".".join(parts[1:])] = value
        return
    settings.problems.append(
        Problem(where, f"{key!r} is not a configuration key; write <streamlet>.<parameter>=value")
    )


def gather_settings(
    conf_files: Iterable[str | Path] = (),
    conf_args: Iterable[str] = (),
    scale_args: Iterable[str] = (),
) -> Settings:
    """Read conf files, ``--conf k=v`` and ``--scale streamlet=N``; problems are collected, not raised."""
    settings = Settings()
    for conf_file in conf_files:
        path = Path(conf_file)
        try:
            flat = _read_conf(path)
        except Exception as exc:  # unreadable or unparsable: report it with the file's name
            settings.problems.append(Problem(str(path), f"cannot read conf file: {exc}"))
            continue
        for key, value in flat.items():
            _apply(settings, key, value, str(path), settings.streamlet_config)
    for arg in conf_args:
        key, eq, value = arg.partition("=")
        if not eq or not key.strip():
            settings.problems.append(Problem(f"--conf {arg}", "write --conf <streamlet>.<parameter>=<value>"))
            continue
        _apply(settings, key.strip(), value.strip(), f"--conf {arg}", settings.conf_overrides)
    for arg in scale_args:
        name, eq, count = arg.partition("=")
        if not eq or not count.strip().isdigit() or int(count) < 1:
            settings.problems.append(
                Problem(f"--scale {arg}", "write --scale <streamlet>=<instances>, at least 1")
            )
            continue
        settings.instances[name.strip()] = int(count)
    return settings


def layered_config(
    streamlet: str,
    declared_keys: Iterable[str],
    blueprint_config: Mapping[str, Any],
    settings: Settings,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """Raw values of one streamlet's parameters with the precedence applied."""
    values = dict(blueprint_config)
    values.update(settings.streamlet_config.get(streamlet, {}))
    for key in declared_keys:
        variable = env_var(streamlet, key)
        if variable in environ:
            values[key] = environ[variable]
    values.update(settings.conf_overrides.get(streamlet, {}))
    return values
