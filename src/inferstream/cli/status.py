"""``inferstream status APP``: the streamlets, model servers and topics of an app deployed on a cluster."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.table import Table

from inferstream.cli.deploy import ContextOption, KubeconfigOption, NamespaceOption, fail
from inferstream.cli.main import app, console
from inferstream.deploy import DeployError


@app.command("status")
def status(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="The app: its blueprint's name.")],
    namespace: NamespaceOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
) -> None:
    """List an app's streamlets (replicas wanted / ready), model servers and topics from the cluster."""
    from inferstream.deploy.cluster import api_client
    from inferstream.deploy.cluster import status as read_status

    try:
        with api_client(kubeconfig, context) as api:
            found = read_status(app_name, api, namespace)
    except DeployError as exc:
        raise fail(str(exc), 1) from None
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(found), indent=2))
        return
    streamlets = Table("streamlet", "kind", "replicas", "ready", title=f"{found.app} in {found.namespace}")
    for row in found.streamlets:
        streamlets.add_row(row["name"], row["kind"], str(row["replicas"]), str(row["ready"]))
    console.print(streamlets)
    if found.model_servers:
        servers = Table("model server", "replicas", "ready")
        for row in found.model_servers:
            servers.add_row(row["deployment"], str(row["replicas"]), str(row["ready"]))
        console.print(servers)
    if found.topics is None:
        console.print("topics: this cluster has no KafkaTopic kind (Strimzi): the runtime creates them")
        return
    topics = Table("topic", "partitions", "replicas", "retention.ms", "consumers")
    for row in found.topics:
        topics.add_row(
            row["topic"],
            str(row["partitions"]),
            str(row["replicas"]),
            str(row["retention.ms"]),
            row["consumers"],
        )
    console.print(topics)
