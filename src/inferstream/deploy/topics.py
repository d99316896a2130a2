"""Topics as Strimzi ``KafkaTopic`` resources (bounded retention, never -1) and KEDA ``ScaledObject`` s
that scale a consumer on its group's lag, at most one replica per partition."""

from __future__ import annotations

from typing import Any

from inferstream.deploy.names import CONSUMERS_ANNOTATION, TOPIC_ANNOTATION, DeployError, topic_resource_name
from inferstream.deploy.options import DEFAULT_RETENTION_MS, DeployOptions
from inferstream.deploy.streamlets import Manifest, labels, meta, resource_name


def kafka_topic(
    app: str,
    name: str,
    partitions: int,
    replication: int,
    retention_ms: int | None,
    config: dict[str, str],
    consumers: list[str],
    opts: DeployOptions,
) -> Manifest:
    explicit = config.get("retention.ms")  # a topic's own Kafka config may set it too
    try:
        retention = int(explicit) if explicit is not None else (retention_ms or DEFAULT_RETENTION_MS)
    except ValueError:
        raise DeployError(
            f"topic {name!r}: retention.ms {explicit!r} is not a number of milliseconds"
        ) from None
    if retention < 0:
        raise DeployError(
            f"topic {name!r}: retention {retention} ms keeps records forever and fills the disks; "
            f"give a bound, e.g. retention: 7 days"
        )
    settings: dict[str, Any] = {**config, "retention.ms": retention}
    lab = {**labels(app, component="topic"), "strimzi.io/cluster": opts.kafka_cluster}
    annotations = {TOPIC_ANNOTATION: name, CONSUMERS_ANNOTATION: ",".join(consumers)}
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": meta(topic_resource_name(name), opts.namespace, lab, annotations=annotations),
        "spec": {"topicName": name, "partitions": partitions, "replicas": replication, "config": settings},
    }


def scaled_object(
    app: str, streamlet: str, group: str, topic: str, replicas: int, partitions: int, opts: DeployOptions
) -> Manifest:
    """Scale ``streamlet`` between its replicas and the partition count (more would sit idle) on the
    lag of its consumer group."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(resource_name(app, streamlet), opts.namespace, labels(app, streamlet)),
        "spec": {
            "scaleTargetRef": {"name": resource_name(app, streamlet)},
            "minReplicaCount": 1,
            "maxReplicaCount": partitions,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": opts.kafka_bootstrap,
                        "consumerGroup": group,
                        "topic": topic,
                        "lagThreshold": str(opts.keda_lag_threshold),
                        "allowIdleConsumers": "false",
                    },
                }
            ],
        },
    }
