"""Blueprints: which streamlets run, how their outlets feed inlets, and their config.

YAML is the primary format::

    name: numbers                                   # the application name (default: file stem)
    streamlets:
      source: inferstream.apps.examples:NumberedIngress
      double:
        class: inferstream.apps.examples:Doubler
        instances: 3
        config: {factor: 2}
      sink: inferstream.apps.examples:CollectingEgress
    connections:                                    # one topic per outlet: <app>.<streamlet>.<outlet>
      source.out: [double.in]
      double.out: [sink.in]
    # or, naming topics explicitly (Cloudflow 2 style):
    topics:
      doubled:
        producers: [double.out]
        consumers: [sink.in]
        partitions: 3                               # default: the most instances among consumers
        retention: 1 day                            # default: 7 days, never forever
    topic-defaults: {retention: 2 days, replication: 3}  # for every topic, unless it says otherwise
    dead-letters: numbers.dead-letters             # the default

Cloudflow's HOCON ``blueprint { streamlets {...} connections {...} }`` (or ``topics {...}``) is
accepted as is, with Python import paths (``pkg.module:Class`` or ``pkg.module.Class``) as the
streamlet classes. Parsing never raises on content: every problem is collected in
``Blueprint.problems`` so that ``verify`` reports them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstream.runtime.config import parse_duration
from inferstream.runtime.deadletters import dead_letter_topic
from inferstream.transports.base import DEFAULT_RETENTION_MS

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")  # DNS-1123 label, as Cloudflow and Kubernetes want
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # what Kafka accepts


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a blueprint: where, what, and whether it blocks a run."""

    where: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


@dataclass(frozen=True)
class PortRef:
    streamlet: str
    port: str

    def __str__(self) -> str:
        return f"{self.streamlet}.{self.port}"


@dataclass
class StreamletRef:
    name: str
    class_path: str
    instances: int = 1
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class TopicDef:
    """A topic between outlets (producers) and inlets (consumers)."""

    name: str
    producers: list[PortRef] = field(default_factory=list)
    consumers: list[PortRef] = field(default_factory=list)
    partitions: int | None = None  # None: the most instances among its consumers
    replication: int = 1
    retention_ms: int | None = DEFAULT_RETENTION_MS
    config: dict[str, str] = field(default_factory=dict)
    where: str = ""


@dataclass
class Blueprint:
    name: str
    streamlets: dict[str, StreamletRef] = field(default_factory=dict)
    topics: list[TopicDef] = field(default_factory=list)
    dead_letters: str = ""
    source: str = "<blueprint>"
    problems: list[Problem] = field(default_factory=list)

    def topic_of_inlet(self, ref: PortRef) -> list[TopicDef]:
        return [t for t in self.topics if ref in t.consumers]

    def topics_of_outlet(self, ref: PortRef) -> list[TopicDef]:
        return [t for t in self.topics if ref in t.producers]


class _Loader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last one."""

    duplicates: list[Problem]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            loader.duplicates.append(Problem(f"line {line}", f"duplicate key {key!r}"))
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_blueprint(path: str | Path) -> Blueprint:
    """Read a YAML (``.yaml``/``.yml``) or HOCON (anything else, e.g. ``blueprint.conf``) blueprint."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return parse_yaml(text, name=path.stem, source=str(path))
    return parse_hocon(text, name=path.stem, source=str(path))


def parse_yaml(text: str, name: str = "app", source: str = "<yaml>") -> Blueprint:
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        return Blueprint(name, source=source, problems=[Problem(source, f"not valid YAML: {exc}")])
    finally:
        loader.dispose()
    blueprint = from_mapping(data if data is not None else {}, name=name, source=source)
    blueprint.problems[:0] = [Problem(f"{source}: {p.where}", p.message) for p in loader.duplicates]
    return blueprint


def parse_hocon(text: str, name: str = "app", source: str = "<hocon>") -> Blueprint:
    from pyhocon import ConfigFactory
    from pyhocon.exceptions import ConfigException

    try:
        tree = ConfigFactory.parse_string(text)
    except (ConfigException, Exception) as exc:  # pyparsing errors are not ConfigExceptions
        return Blueprint(name, source=source, problems=[Problem(source, f"not valid HOCON: {exc}")])
    data = tree.as_plain_ordered_dict() if hasattr(tree, "as_plain_ordered_dict") else dict(tree)
    if "blueprint" in data:
        data = data["blueprint"]
    return from_mapping(_flatten_connections(data), name=name, source=source)


def _flatten_connections(data: Any) -> Any:
    # HOCON reads `a.out = [b.in]` as {"a": {"out": ["b.in"]}}; turn it back into {"a.out": [...]}.
    if not isinstance(data, Mapping) or not isinstance(data.get("connections"), Mapping):
        return data
    flat: dict[str, Any] = {}
    for streamlet, ports in data["connections"].items():
        if isinstance(ports, Mapping):
            for port, targets in ports.items():
                flat[f"{streamlet}.{port}"] = targets
        else:
            flat[str(streamlet)] = ports
    return {**data, "connections": flat}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _port_ref(text: str, where: str, problems: list[Problem]) -> PortRef | None:
    streamlet, dot, port = str(text).partition(".")
    if not dot or not streamlet or not port:
        problems.append(
            Problem(where, f"{text!r} is not a port reference; write <streamlet>.<port>, e.g. ingress.out")
        )
        return None
    return PortRef(streamlet, port)


def from_mapping(data: Any, name: str = "app", source: str = "<blueprint>") -> Blueprint:
    """Build a blueprint from parsed YAML/HOCON; content problems land in ``problems``."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        return Blueprint(name, source=source, problems=[Problem(source, "a blueprint must be a mapping")])
    app = str(data.get("name", name))
    if not NAME.match(app):
        problems.append(
            Problem(f"{source}: name", f"{app!r} is not a valid name (lowercase letters, digits, '-')")
        )
    blueprint = Blueprint(app, source=source, problems=problems)
    blueprint.dead_letters = str(data.get("dead-letters") or dead_letter_topic(app))

    streamlets = data.get("streamlets")
    if not isinstance(streamlets, Mapping) or not streamlets:
        problems.append(
            Problem(f"{source}: streamlets", "no streamlets: list them as name: pkg.module:Class")
        )
        streamlets = {}
    for streamlet_name, spec in streamlets.items():
        where = f"{source}: streamlets.{streamlet_name}"
        streamlet_name = str(streamlet_name)
        if not NAME.match(streamlet_name):
            problems.append(
                Problem(
                    where,
                    f"{streamlet_name!r} is not a valid streamlet name (lowercase letters, digits, '-')",
                )
            )
        if isinstance(spec, str):
            blueprint.streamlets[streamlet_name] = StreamletRef(streamlet_name, spec)
            continue
        if not isinstance(spec, Mapping) or not isinstance(spec.get("class"), str):
            problems.append(
                Problem(where, "give the class as pkg.module:Class, or a mapping with a 'class' key")
            )
            continue
        instances = spec.get("instances", 1)
        if not isinstance(instances, int) or isinstance(instances, bool) or instances < 1:
            problems.append(
                Problem(f"{where}.instances", f"{instances!r} is not a positive number of instances")
            )
            instances = 1
        config = spec.get("config", {}) or {}
        if not isinstance(config, Mapping):
            problems.append(Problem(f"{where}.config", "config must be a mapping of parameter: value"))
            config = {}
        blueprint.streamlets[streamlet_name] = StreamletRef(
            streamlet_name, spec["class"], instances, dict(config)
        )

    defaults = data.get("topic-defaults") or {}
    if not isinstance(defaults, Mapping):
        problems.append(
            Problem(f"{source}: topic-defaults", "topic-defaults must map partitions/retention/...")
        )
        defaults = {}
    connections = data.get("connections") or {}
    topics = data.get("topics") or {}
    if not connections and not topics:
        problems.append(Problem(f"{source}: connections", "no connections or topics: nothing flows"))
    if not isinstance(connections, Mapping):
        problems.append(Problem(f"{source}: connections", "connections must map outlet: [inlet, ...]"))
        connections = {}
    for outlet_text, inlets in connections.items():
        where = f"{source}: connections.{outlet_text}"
        outlet = _port_ref(str(outlet_text), where, problems)
        targets = [ref for text in _as_list(inlets) if (ref := _port_ref(text, where, problems)) is not None]
        if outlet is None:
            continue
        if not _as_list(inlets):
            problems.append(Problem(where, "connects to no inlet; write outlet: [streamlet.inlet, ...]"))
        topic_name = f"{app}.{outlet}"
        existing = next((t for t in blueprint.topics if t.name == topic_name), None)
        if existing is None:
            created = TopicDef(topic_name, [outlet], targets, where=where)
            apply_topic_options(created, defaults, f"{source}: topic-defaults", problems)
            blueprint.topics.append(created)
        else:
            existing.consumers.extend(t for t in targets if t not in existing.consumers)

    if not isinstance(topics, Mapping):
        problems.append(Problem(f"{source}: topics", "topics must map topic-id: {producers, consumers}"))
        topics = {}
    for topic_id, spec in topics.items():
        where = f"{source}: topics.{topic_id}"
        topic = _topic(str(topic_id), spec, defaults, where, problems)
        if topic is None:
            continue
        if any(t.name == topic.name for t in blueprint.topics):
            problems.append(Problem(where, f"topic {topic.name!r} is defined twice"))
            continue
        blueprint.topics.append(topic)
    return blueprint


def apply_topic_options(
    topic: TopicDef, spec: Mapping[str, Any], where: str, problems: list[Problem]
) -> None:
    """Set partitions, replication, retention and extra config of ``topic`` from ``spec``'s keys."""
    for key, attribute in (
        ("partitions", "partitions"),
        ("replication", "replication"),
        ("replicas", "replication"),
    ):
        if key in spec:
            value = spec[key]
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)  # from --conf
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(Problem(f"{where}.{key}", f"{value!r} is not a positive integer"))
            else:
                setattr(topic, attribute, value)
    if "retention" in spec:
        try:
            topic.retention_ms = int(parse_duration(spec["retention"]).total_seconds() * 1000)
        except ValueError as exc:
            problems.append(Problem(f"{where}.retention", str(exc)))
    extra = spec.get("config", {})
    if isinstance(extra, Mapping):
        topic.config.update({str(k): str(v) for k, v in extra.items()})


def _topic(
    topic_id: str, spec: Any, defaults: Mapping[str, Any], where: str, problems: list[Problem]
) -> TopicDef | None:
    if not isinstance(spec, Mapping):
        problems.append(Problem(where, "a topic needs producers = [...] and consumers = [...]"))
        return None
    name = str(
        spec.get("topic", {}).get("name", topic_id) if isinstance(spec.get("topic"), Mapping) else topic_id
    )
    name = str(spec.get("name", name))
    if not TOPIC_NAME.match(name):
        problems.append(
            Problem(where, f"{name!r} is not a valid topic name (letters, digits, '.', '_', '-')")
        )
    topic = TopicDef(name, where=where)
    topic.producers = [r for t in _as_list(spec.get("producers")) if (r := _port_ref(t, where, problems))]
    topic.consumers = [r for t in _as_list(spec.get("consumers")) if (r := _port_ref(t, where, problems))]
    apply_topic_options(topic, defaults, where, problems)
    apply_topic_options(topic, spec, where, problems)
    return topic
