"""``inferstream scale APP STREAMLET N``: the Cloudflow verb. ``--kubernetes`` patches the streamlet
Deployment's scale subresource on the kubeconfig's cluster (and grows the KafkaTopics it reads to N
partitions)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferstream.cli.deploy import ContextOption, KubeconfigOption, NamespaceOption, fail
from inferstream.cli.main import app, console
from inferstream.deploy import DeployError


@app.command("scale")
def scale(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="The app: its blueprint's name.")],
    streamlet: Annotated[str, typer.Argument(help="Streamlet name, as in the blueprint.")],
    replicas: Annotated[int, typer.Argument(metavar="N", help="Instances wanted.")],
    kubernetes: Annotated[
        bool, typer.Option("--kubernetes", help="Scale the app deployed on the kubeconfig's cluster.")
    ] = False,
    namespace: NamespaceOption = "default",
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
) -> None:
    """Change how many instances of a streamlet run."""
    if not kubernetes:
        # The local target (a running `inferstream run --control-port`) is the other way to scale; until
        # it is here, say what works.
        raise fail(
            "give --kubernetes to scale an app deployed on a cluster; a local run scales through its "
            "control endpoint: curl -X POST 'http://127.0.0.1:PORT/scale?streamlet=S&instances=N'"
        )
    from inferstream.deploy.cluster import api_client
    from inferstream.deploy.cluster import scale as scale_deployment

    try:
        with api_client(kubeconfig, context) as api:
            done = scale_deployment(app_name, streamlet, replicas, api, namespace)
    except DeployError as exc:
        raise fail(str(exc), 1) from None
    for topic, partitions in done.topics_grown.items():
        console.print(f"topic {topic}: grown to {partitions} partitions")
    console.print(
        f"[green]scaled[/green] {namespace}/{done.deployment}: {done.previous} → {done.replicas} replicas"
    )
