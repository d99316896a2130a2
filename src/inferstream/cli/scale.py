"""``inferstream scale APP STREAMLET N``: the Cloudflow verb. By default it scales a local
``inferstream run --control-port`` (``--control URL``; on Kafka instance processes start and stop
live); ``--kubernetes`` patches the streamlet Deployment's scale subresource on the kubeconfig's
cluster (and grows the KafkaTopics it reads to N partitions)."""

from __future__ import annotations

from typing import Annotated

import typer

from inferstream.cli.deploy import ContextOption, KubeconfigOption, NamespaceOption, fail
from inferstream.cli.main import app, console
from inferstream.cli.scale_local import CONTROL_URL_ENV, ScaleError, scale_local
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
    control: Annotated[
        str | None,
        typer.Option(
            envvar=CONTROL_URL_ENV,
            help="Local target: the control URL `inferstream run --control-port` printed "
            "(http://127.0.0.1:PORT); token from INFERSTREAM_CONTROL_TOKEN.",
        ),
    ] = None,
) -> None:
    """Change how many instances of a streamlet run."""
    if not kubernetes:
        _scale_local(control, app_name, streamlet, replicas)
        return
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


def _scale_local(control: str | None, app_name: str, streamlet: str, replicas: int) -> None:
    if control is None:
        raise fail(
            "give --control http://127.0.0.1:PORT (the URL `inferstream run ... --control-port PORT` "
            f"prints; or set {CONTROL_URL_ENV}), or --kubernetes to scale an app deployed on a cluster"
        )
    try:
        before, live = scale_local(control, app_name, streamlet, replicas)
    except ScaleError as exc:
        raise fail(str(exc), 1) from None
    console.print(
        f"[green]scaled[/green] {app_name}/{streamlet}: {before} → {replicas} instances "
        f"(running: {', '.join(live) or 'none'})",
        soft_wrap=True,
    )
