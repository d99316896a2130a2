"""From a blueprint and its settings to a runnable plan, checking everything on the way (``verify``).

:func:`build_plan` never stops at the first problem: it reports every one, each with where and
why, so that ``inferstream verify`` can list them all. A plan is only returned without errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from inferstream.runtime.blueprint import NAME, Blueprint, PortRef, Problem, TopicDef, apply_topic_options
from inferstream.runtime.config import ConfigError, StreamletConfig, resolve_parameters
from inferstream.runtime.config_sources import Settings, layered_config
from inferstream.runtime.instance import Wiring
from inferstream.runtime.loading import StreamletLoadError, did_you_mean, load_streamlet_class
from inferstream.runtime.streamlet import Streamlet, port_names_by_attribute
from inferstream.transports.base import TopicSpec


@dataclass
class StreamletPlan:
    name: str
    cls: type[Streamlet]
    instances: int
    config: StreamletConfig
    wiring: Wiring


@dataclass
class Plan:
    app: str
    streamlets: dict[str, StreamletPlan] = field(default_factory=dict)
    topics: list[TopicSpec] = field(default_factory=list)
    dead_letters: str = ""

    def group(self, streamlet: str, inlet: str) -> str:
        return f"{self.app}.{streamlet}.{inlet}"


def build_plan(
    blueprint: Blueprint,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Plan | None, list[Problem]]:
    """The plan (``None`` if any error) and every problem found, errors and warnings."""
    settings = settings or Settings()
    environ = os.environ if environ is None else environ
    problems = list(blueprint.problems) + list(settings.problems)
    src = blueprint.source

    classes: dict[str, type[Streamlet]] = {}
    for name, ref in blueprint.streamlets.items():
        try:
            classes[name] = load_streamlet_class(ref.class_path)
        except StreamletLoadError as exc:
            problems.append(Problem(f"{src}: streamlets.{name}", f"unknown streamlet class: {exc}"))
            continue
        problems += _class_problems(f"{src}: streamlets.{name}", classes[name])

    for name in set(settings.instances) | set(settings.streamlet_config) | set(settings.conf_overrides):
        if name not in blueprint.streamlets:
            hint = did_you_mean(name, set(blueprint.streamlets))
            problems.append(Problem("settings", f"configuration for unknown streamlet {name!r}{hint}"))

    problems += _topic_settings(blueprint, settings)
    problems += _wiring_problems(blueprint, classes)

    configs: dict[str, StreamletConfig] = {}
    for name, cls in classes.items():
        declared = cls.declared_parameters()
        raw = layered_config(
            name, [p.key for p in declared], blueprint.streamlets[name].config, settings, environ
        )
        config, errors = resolve_parameters(declared, raw)
        if not errors:  # the values together: the same check run does before starting anything
            errors = cls.check_config(config)
        problems += [_config_problem(src, name, error) for error in errors]
        configs[name] = config

    if any(p.severity == "error" for p in problems):
        return None, problems
    return _plan(blueprint, classes, configs, settings), problems


def _topic_settings(blueprint: Blueprint, settings: Settings) -> list[Problem]:
    """Apply ``topic-defaults.*`` and ``topics.<name>.*`` settings (they beat the blueprint)."""
    problems: list[Problem] = []
    for topic in blueprint.topics:
        apply_topic_options(topic, settings.topic_defaults, "settings: topic-defaults", problems)
    by_name = {t.name: t for t in blueprint.topics}
    for name, options in settings.topics.items():
        if name not in by_name:
            hint = did_you_mean(name, set(by_name))
            problems.append(Problem(f"settings: topics.{name}", f"no topic {name!r} in the blueprint{hint}"))
            continue
        apply_topic_options(by_name[name], options, f"settings: topics.{name}", problems)
    return problems


def _config_problem(source: str, streamlet: str, error: ConfigError) -> Problem:
    return Problem(
        f"{source}: streamlets.{streamlet}.config.{error.key}", f"bad config value: {error.reason}"
    )


def _class_problems(where: str, cls: type[Streamlet]) -> list[Problem]:
    problems: list[Problem] = []
    for port, attributes in port_names_by_attribute(cls).items():
        if not NAME.match(port):
            problems.append(
                Problem(
                    where,
                    f"port name {port!r} of {cls.__name__} is not valid (lowercase letters, digits, '-')",
                )
            )
        if len(attributes) > 1:
            problems.append(
                Problem(
                    where, f"port name {port!r} is used twice ({', '.join(attributes)}) in {cls.__name__}"
                )
            )
    if cls.kind == "ingress" and cls.inlets():
        problems.append(Problem(where, f"{cls.__name__} is an ingress but declares inlets"))
    if cls.kind == "egress" and cls.outlets():
        problems.append(Problem(where, f"{cls.__name__} is an egress but declares outlets"))
    if cls.kind != "ingress" and not cls.inlets():
        problems.append(Problem(where, f"{cls.__name__} is a {cls.kind} but declares no inlet"))
    return problems


def _check_port(
    ref: PortRef,
    direction: str,
    topic: TopicDef,
    blueprint: Blueprint,
    classes: dict[str, type[Streamlet]],
) -> list[Problem]:
    if ref.streamlet not in blueprint.streamlets:
        hint = did_you_mean(ref.streamlet, set(blueprint.streamlets))
        return [Problem(topic.where, f"{direction} {ref}: unknown streamlet {ref.streamlet!r}{hint}")]
    cls = classes.get(ref.streamlet)
    if cls is None:
        return []  # its class failed to load: already reported
    ports = cls.outlets() if direction == "outlet" else cls.inlets()
    if ref.port in ports:
        return []
    other = cls.inlets() if direction == "outlet" else cls.outlets()
    if ref.port in other:
        opposite = "inlet" if direction == "outlet" else "outlet"
        return [Problem(topic.where, f"{ref} is an {opposite} of {cls.__name__}, not an {direction}")]
    hint = did_you_mean(ref.port, set(ports)) or f" ({direction}s: {', '.join(sorted(ports)) or 'none'})"
    return [Problem(topic.where, f"unknown {direction} {ref} of {cls.__name__}{hint}")]


def _wiring_problems(blueprint: Blueprint, classes: dict[str, type[Streamlet]]) -> list[Problem]:
    problems: list[Problem] = []
    src = blueprint.source
    for topic in blueprint.topics:
        for ref in topic.producers:
            problems += _check_port(ref, "outlet", topic, blueprint, classes)
        for ref in topic.consumers:
            problems += _check_port(ref, "inlet", topic, blueprint, classes)
        if not topic.producers:
            problems.append(Problem(topic.where, f"topic {topic.name!r} has no producer", "warning"))
        problems += _schema_problems(topic, classes)
    for name, cls in classes.items():
        for inlet in cls.inlets():
            ref = PortRef(name, inlet)
            feeding = blueprint.topic_of_inlet(ref)
            if not feeding:
                problems.append(Problem(f"{src}: streamlets.{name}", f"inlet {ref} is not connected"))
            elif len(feeding) > 1:
                names = ", ".join(t.name for t in feeding)
                message = f"inlet {ref} is fed by more than one topic: {names}"
                problems.append(Problem(f"{src}: streamlets.{name}", message))
        for outlet in cls.outlets():
            ref = PortRef(name, outlet)
            if not blueprint.topics_of_outlet(ref):
                problems.append(
                    Problem(
                        f"{src}: streamlets.{name}",
                        f"outlet {ref} is not connected (its records are discarded)",
                        "warning",
                    )
                )
    return problems


@cache
def _avro_schema(schema_json: str) -> Any:
    import avro.schema

    return avro.schema.parse(schema_json)


def _schema_json(schema: str | Mapping[str, Any]) -> str:
    from inferstream.runtime.codecs import resolve_schema

    _, parsed = resolve_schema(schema)

    def clean(value: Any) -> Any:  # fastavro's parsed schemas carry private "__..." keys
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not str(k).startswith("__")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(parsed), sort_keys=True)


def schema_incompatibility(writer: str | Mapping[str, Any], reader: str | Mapping[str, Any]) -> str | None:
    """Why a reader schema cannot read what a writer schema wrote (Avro resolution), or None."""
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

    try:
        writer_json, reader_json = _schema_json(writer), _schema_json(reader)
    except Exception as exc:  # unknown schema name or invalid inline schema
        return f"schema cannot be loaded: {exc}"
    if writer_json == reader_json:
        return None
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(_avro_schema(reader_json), _avro_schema(writer_json))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = sorted({i.value for i in result.incompatibilities})
    where = sorted(result.locations)
    return f"{', '.join(kinds)} at {', '.join(where)}"


def _schema_problems(topic: TopicDef, classes: dict[str, type[Streamlet]]) -> list[Problem]:
    problems: list[Problem] = []
    for producer in topic.producers:
        writer_cls = classes.get(producer.streamlet)
        outlet = writer_cls.outlets().get(producer.port) if writer_cls else None
        for consumer in topic.consumers:
            reader_cls = classes.get(consumer.streamlet)
            inlet = reader_cls.inlets().get(consumer.port) if reader_cls else None
            if outlet is None or inlet is None:
                continue
            why = schema_incompatibility(outlet.schema, inlet.schema)
            if why:
                problems.append(
                    Problem(
                        topic.where,
                        f"{consumer} ({inlet.schema_name}) cannot read what {producer} "
                        f"({outlet.schema_name}) writes: {why}",
                    )
                )
    return problems


def _plan(
    blueprint: Blueprint,
    classes: dict[str, type[Streamlet]],
    configs: dict[str, StreamletConfig],
    settings: Settings,
) -> Plan:
    plan = Plan(blueprint.name, dead_letters=blueprint.dead_letters)
    instances = {
        name: settings.instances.get(name, ref.instances) for name, ref in blueprint.streamlets.items()
    }
    for topic in blueprint.topics:
        partitions = topic.partitions or max((instances[c.streamlet] for c in topic.consumers), default=1)
        plan.topics.append(
            TopicSpec(topic.name, partitions, topic.replication, topic.retention_ms, dict(topic.config))
        )
    plan.topics.append(TopicSpec(blueprint.dead_letters, 1))
    for name, cls in classes.items():
        wiring = Wiring(
            inlet_topics={i: blueprint.topic_of_inlet(PortRef(name, i))[0].name for i in cls.inlets()},
            inlet_groups={i: plan.group(name, i) for i in cls.inlets()},
            outlet_topics={
                o: [t.name for t in blueprint.topics_of_outlet(PortRef(name, o))] for o in cls.outlets()
            },
            dead_letter_topic=blueprint.dead_letters,
        )
        plan.streamlets[name] = StreamletPlan(name, cls, instances[name], configs[name], wiring)
    return plan
