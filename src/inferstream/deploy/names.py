"""Kubernetes names and labels of a deployed pipeline; errors that say what a bad name would become."""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # DNS-1035: Services and most names we make
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253

APP_LABEL = "inferstream.dev/app"
STREAMLET_LABEL = "inferstream.dev/streamlet"
COMPONENT_LABEL = "app.kubernetes.io/component"
CONSUMERS_ANNOTATION = "inferstream.dev/consumers"  # on KafkaTopics: streamlets reading the topic
TOPIC_ANNOTATION = "inferstream.dev/topic"


class DeployError(ValueError):
    """Input that cannot become manifests; the message says what is wrong and what to do."""


def suggest_label(text: str) -> str:
    """What ``text`` would become as a DNS-1035 label (lowercase, '-' for the rest, letter first, ≤ 63)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if not name or not name[0].isalpha():
        name = f"x-{name}".rstrip("-")
    return name[:LABEL_MAX].rstrip("-")


def suggest_subdomain(text: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", text.lower())
    parts = [p.strip("-") for p in name.split(".")]
    name = ".".join(p for p in parts if p) or "x"
    return name[:SUBDOMAIN_MAX].rstrip("-.")


def label_name(text: str, what: str) -> str:
    """``text`` if it is a valid DNS-1035 label, else a DeployError naming ``what`` and the fix."""
    if len(text) <= LABEL_MAX and DNS_LABEL.match(text):
        return text
    why = (
        f"longer than {LABEL_MAX} characters"
        if len(text) > LABEL_MAX
        else (
            "not lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"
        )
    )
    raise DeployError(
        f"{what} {text!r} is not a valid Kubernetes name ({why}); it would become "
        f"{suggest_label(text)!r}: rename it so"
    )


def topic_resource_name(topic: str) -> str:
    """KafkaTopic resource name of a Kafka topic name (which may hold '_' or capitals; spec.topicName
    keeps the real one)."""
    if len(topic) <= SUBDOMAIN_MAX and DNS_SUBDOMAIN.match(topic):
        return topic
    return suggest_subdomain(topic)
