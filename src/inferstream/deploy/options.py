"""What ``inferstream deploy`` renders, as one value: namespace, image, Kafka, scales, model server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from inferstream import __version__

ModelServerKind = Literal["inferstream", "seldon-rest", "seldon-grpc", "seldon2", "kserve", "none"]
MODEL_SERVER_KINDS: tuple[str, ...] = get_args(ModelServerKind)
LoadBalancing = Literal["auto", "service", "client"]

#: Strimzi names a cluster's bootstrap Service ``<cluster>-kafka-bootstrap`` (plain listener 9092).
DEFAULT_KAFKA_CLUSTER = "kafka"
#: A topic keeps a week unless the blueprint or ``--conf topics.<t>.retention=...`` says otherwise;
#: never forever (the original's Kafka kept ``log.retention.hours: -1`` and filled its disks).
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = "default"
    image: str = f"inferstream:{__version__}"
    kafka_bootstrap: str = f"{DEFAULT_KAFKA_CLUSTER}-kafka-bootstrap:9092"
    #: Secret holding ``kafka.yaml`` (librdkafka SASL/SSL settings): mounted as a file, never in env.
    kafka_secret: str | None = None
    #: Strimzi cluster the KafkaTopics belong to (label ``strimzi.io/cluster``); topics=False: none rendered.
    kafka_cluster: str = DEFAULT_KAFKA_CLUSTER
    topics: bool = True
    scale: tuple[str, ...] = ()
    conf: tuple[str, ...] = ()
    model_server: ModelServerKind = "inferstream"
    #: Where model servers load the model from (default s3://models/<model>), credentials Secret.
    model_uri: str | None = None
    model_secret: str = "s3-credentials"
    model_format: str | None = None
    #: inferstream serve: a PersistentVolumeClaim holding <model>/<version>/ folders.
    model_pvc: str = "inferstream-models"
    load_balancing: LoadBalancing = "auto"
    keda: bool = False
    keda_lag_threshold: int = 1000
    #: OpenTelemetry traces (Jaeger v2 takes OTLP): OTEL_EXPORTER_OTLP_ENDPOINT of every inferstream pod.
    otlp_endpoint: str | None = None
    ingress_domain: str = "inferstream.local"
    ingress_class: str | None = None
