"""A blueprint → the manifests of a pipeline on Kubernetes (``inferstream deploy``).

The blueprint is verified with the same settings its pods will read (a blueprint that does not verify is
refused with every problem), then rendered: a ConfigMap (blueprint + conf), per streamlet a Deployment
(and Service, Ingress, PodDisruptionBudget where they apply), KafkaTopics, the model servers, and KEDA
ScaledObjects on request. Nothing here talks to a cluster (see :mod:`inferstream.deploy.cluster`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstream.deploy import model_servers, streamlets, topics
from inferstream.deploy.names import LABEL_MAX, DeployError, label_name, suggest_label
from inferstream.deploy.options import DeployOptions
from inferstream.deploy.streamlets import HTTP_PORT, Manifest, StreamletSpec, labels, meta
from inferstream.runtime.checks import check
from inferstream.runtime.lookup import BlueprintNotFound, find_blueprint
from inferstream.runtime.plan import Plan
from inferstream.runtime.streamlet import ServerStreamlet, Streamlet

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ORDER = (
    "Namespace",
    "KafkaTopic",
    "ConfigMap",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "PersistentVolumeClaim",
    "SeldonDeployment",
    "Model",
    "InferenceService",
    "Deployment",
    "Service",
    "Ingress",
    "PodDisruptionBudget",
    "ScaledObject",
)


@dataclass
class Rendered:
    app: str
    namespace: str
    manifests: list[Manifest] = field(default_factory=list)

    def write(self, out: Path) -> list[Path]:
        """One file per manifest, numbered in apply order (CRs after their namespace, pods after config);
        files of an earlier render in ``out`` are replaced."""
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("[0-9][0-9][0-9]-*.yaml"):
            old.unlink()
        written = []
        for index, manifest in enumerate(self.manifests):
            kind, name = manifest["kind"].lower(), manifest["metadata"]["name"]
            path = out / f"{index:03d}-{kind}-{name}.yaml"
            path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
            written.append(path)
        return written


def is_model_serving(cls: type[Streamlet]) -> bool:
    keys = {p.key for p in cls.declared_parameters()}
    return {"protocol", "target", "model"} <= keys


def _scales(values: tuple[str, ...], plan: Plan) -> dict[str, int]:
    """--scale s=n, each checked against the blueprint with a clear message."""
    found: dict[str, int] = {}
    known = ", ".join(plan.streamlets)
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise DeployError(f"--scale {value}: write <streamlet>=<replicas>, at least 1")
        name = name.strip()
        if name not in plan.streamlets:
            raise DeployError(f"--scale {value}: {plan.app} has no streamlet {name!r} (streamlets: {known})")
        if plan.streamlets[name].cls.kind == "ingress" and int(count) > 1:
            raise DeployError(
                f"--scale {value}: {name} is an ingress and runs as one replica (two would emit every "
                f"record twice); scale the streamlets that consume its topic instead"
            )
        found[name] = int(count)
    return found


def _verify(blueprint: str | Path, conf: list[str], scale: tuple[str, ...]) -> Plan:
    checked = check(blueprint, (), conf, scale)
    if checked.errors or checked.plan is None:
        lines = "\n".join(f"  {p.where}: {p.message}" for p in checked.errors)
        raise DeployError(
            f"blueprint {str(blueprint)!r} does not verify (`inferstream verify` says the same):\n{lines}"
        )
    return checked.plan


def _conf_pairs(conf: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeployError(f"--conf {item}: write <streamlet>.<parameter>=<value>")
        pairs.append((key.strip(), value))
    return pairs


def _check_names(app: str, plan: Plan, opts: DeployOptions) -> None:
    if not NAMESPACE.match(opts.namespace) or len(opts.namespace) > LABEL_MAX:
        raise DeployError(
            f"namespace {opts.namespace!r} is not a valid Kubernetes name; it would become "
            f"{suggest_label(opts.namespace)!r}"
        )
    label_name(app, "app name")
    for name, sp in plan.streamlets.items():
        suffix = "-server" if is_model_serving(sp.cls) and opts.model_server in ("inferstream",) else ""
        label_name(f"{app}-{name}{suffix}", f"resource name of streamlet {name!r}")


def render(blueprint: str | Path, opts: DeployOptions | None = None) -> Rendered:
    """Verify ``blueprint`` with ``opts`` and render every manifest (DeployError on bad input)."""
    opts = opts or DeployOptions()
    user_conf = _conf_pairs(opts.conf)
    first = _verify(blueprint, [f"{k}={v}" for k, v in user_conf], ())
    replicas = {name: sp.instances for name, sp in first.streamlets.items()} | _scales(opts.scale, first)
    app = first.app
    _check_names(app, first, opts)

    specs: dict[str, StreamletSpec] = {}
    server_manifests: list[Manifest] = []
    conf: dict[str, Any] = {}
    for name, sp in first.streamlets.items():
        spec = StreamletSpec(
            name, sp.cls.kind, replicas[name], issubclass(sp.cls, ServerStreamlet), is_model_serving(sp.cls)
        )
        if spec.serves_http:
            conf[f"{name}.http-port"] = HTTP_PORT
        if spec.model_serving:
            wiring = model_servers.wire(app, name, sp.config.as_dict(), opts)
            server_manifests += wiring.manifests
            spec.service_account = wiring.client_side
            conf.update({f"{name}.{k}": v for k, v in wiring.conf.items()})
        conf[f"streamlets.{name}.instances"] = spec.replicas
        specs[name] = spec
    conf.update(dict(user_conf))  # the user's --conf beats what the renderer chose
    # Verify again with exactly what the pods will read.
    plan = _verify(blueprint, [f"{k}={v}" for k, v in conf.items()], ())

    path = find_blueprint(blueprint)
    blueprint_file = f"blueprint{path.suffix}"
    config_name = f"{app}-config"
    data = {
        blueprint_file: path.read_text(encoding="utf-8"),
        "conf.yaml": yaml.safe_dump(conf, sort_keys=True),
        "kafka.bootstrap": opts.kafka_bootstrap,
    }
    config_hash = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:16]
    manifests: list[Manifest] = []
    if opts.namespace != "default":
        manifests.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": opts.namespace}})
    manifests.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(config_name, opts.namespace, labels(app, component="config")),
            "data": data,
        }
    )
    if opts.topics:
        manifests += _topics(app, plan, opts)
    manifests += server_manifests
    for spec in specs.values():
        manifests.append(streamlets.deployment(app, blueprint_file, spec, config_name, config_hash, opts))
        if spec.serves_http:
            manifests += [streamlets.service(app, spec, opts), streamlets.ingress(app, spec, opts)]
        if spec.service_account:
            manifests += streamlets.endpoint_watch_access(app, spec, opts)
        if spec.replicas > 1 and spec.kind != "ingress":
            manifests.append(streamlets.disruption_budget(app, spec, opts))
        if opts.keda and spec.model_serving:
            manifests += _scaled_objects(app, plan, spec, opts)
    manifests.sort(key=lambda m: ORDER.index(m["kind"]) if m["kind"] in ORDER else len(ORDER))
    return Rendered(app, opts.namespace, manifests)


def _topics(app: str, plan: Plan, opts: DeployOptions) -> list[Manifest]:
    consumers: dict[str, list[str]] = {}
    for name, sp in plan.streamlets.items():
        for topic in sp.wiring.inlet_topics.values():
            consumers.setdefault(topic, []).append(name)
    return [
        topics.kafka_topic(
            app,
            t.name,
            t.partitions,
            t.replication,
            t.retention_ms,
            dict(t.config),
            consumers.get(t.name, []),
            opts,
        )
        for t in plan.topics
    ]


def _scaled_objects(app: str, plan: Plan, spec: StreamletSpec, opts: DeployOptions) -> list[Manifest]:
    sp = plan.streamlets[spec.name]
    partitions = {t.name: t.partitions for t in plan.topics}
    return [
        topics.scaled_object(
            app, spec.name, sp.wiring.inlet_groups[inlet], topic, spec.replicas, partitions[topic], opts
        )
        for inlet, topic in sp.wiring.inlet_topics.items()
    ][:1]  # one ScaledObject per Deployment


def blueprint_exists(blueprint: str | Path) -> None:
    try:
        find_blueprint(blueprint)
    except BlueprintNotFound as exc:
        raise DeployError(str(exc)) from None
