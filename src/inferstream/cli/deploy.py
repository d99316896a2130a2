"""``inferstream deploy BLUEPRINT``: render Kubernetes manifests (``--out DIR``), send them to the current
kubeconfig's cluster (``--apply``, server-side, optionally ``--dry-run``), or check a folder of them
offline (``--check DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from inferstream.cli.main import app, console
from inferstream.deploy import MODEL_SERVER_KINDS, DeployError, DeployOptions, render
from inferstream.deploy.options import DEFAULT_KAFKA_CLUSTER, LoadBalancing, ModelServerKind

KubeconfigOption = Annotated[
    str | None, typer.Option(help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
]
ContextOption = Annotated[str | None, typer.Option(help="Kubeconfig context (default: the current one).")]
NamespaceOption = Annotated[str, typer.Option("--namespace", "-n", help="Kubernetes namespace.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error[/red]: {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _check(folder: Path) -> None:
    from inferstream.deploy.check import check_dir

    if not folder.is_dir():
        raise fail(f"--check {folder}: not a folder of manifests")
    count, findings = check_dir(folder)
    for finding in findings:
        console.print(
            f"[red]{finding.severity}[/red] [bold]{escape(finding.where)}[/bold]: {escape(finding.message)}",
            soft_wrap=True,
        )
    if findings:
        raise typer.Exit(1)
    console.print(
        f"[green]ok[/green]: {count} manifests in {folder} are valid (Kubernetes 1.37 schemas, CRDs)"
    )


@app.command("deploy")
def deploy(
    blueprint: Annotated[
        str | None, typer.Argument(help="Blueprint file (YAML or HOCON) or packaged blueprint name.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write one YAML file per manifest here.")] = None,
    check: Annotated[
        Path | None, typer.Option("--check", help="Validate the manifests in this folder offline, then exit.")
    ] = None,
    namespace: NamespaceOption = "default",
    image: Annotated[str | None, typer.Option(help="inferstream container image (see Dockerfile).")] = None,
    kafka_bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: Strimzi's <cluster>-kafka-bootstrap:9092)."),
    ] = None,
    kafka_secret: Annotated[
        str | None,
        typer.Option(help="Secret with kafka.yaml (SASL/SSL client settings), mounted in every pod."),
    ] = None,
    kafka_cluster: Annotated[
        str, typer.Option(help="Strimzi Kafka cluster the KafkaTopics belong to.")
    ] = DEFAULT_KAFKA_CLUSTER,
    topics: Annotated[
        bool,
        typer.Option(
            help="Render Strimzi KafkaTopics (--no-topics: a managed Kafka; the runtime creates them)."
        ),
    ] = True,
    scale: Annotated[list[str] | None, typer.Option(help="<streamlet>=<replicas> (repeatable).")] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(help="<streamlet>.<parameter>=<value> or topics.<t>.retention=... (repeatable)."),
    ] = None,
    model_server: Annotated[
        str, typer.Option(help=f"Model server to run: {' | '.join(MODEL_SERVER_KINDS)}.")
    ] = "inferstream",
    model_uri: Annotated[
        str | None, typer.Option(help="Model location for the server (default s3://models/<model>).")
    ] = None,
    model_secret: Annotated[
        str, typer.Option(help="Secret with S3 accessKey/secretKey for the model server.")
    ] = ("s3-credentials"),
    model_format: Annotated[
        str | None, typer.Option(help="seldon2 / kserve model format (default onnx).")
    ] = None,
    model_pvc: Annotated[
        str,
        typer.Option(help="inferstream model server: PersistentVolumeClaim with <model>/<version>/ folders."),
    ] = "inferstream-models",
    load_balancing: Annotated[
        str, typer.Option(help="auto | service | client (kubernetes:/// endpoint watch, with its Role).")
    ] = "auto",
    keda: Annotated[
        bool, typer.Option(help="KEDA ScaledObject: scale model-serving on its consumer lag.")
    ] = False,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(help="OpenTelemetry collector (e.g. Jaeger) for traces of every inferstream pod."),
    ] = None,
    ingress_domain: Annotated[str, typer.Option(help="Ingress hosts: <streamlet>.<app>.<domain>.")] = (
        "inferstream.local"
    ),
    ingress_class: Annotated[
        str | None, typer.Option(help="IngressClass of the statistics Ingresses.")
    ] = None,
    apply: Annotated[bool, typer.Option(help="Server-side apply to the kubeconfig's cluster.")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="With --apply: the server validates and admits, stores nothing.")
    ] = (False),
    kubeconfig: KubeconfigOption = None,
    context: ContextOption = None,
) -> None:
    """Render a blueprint as Kubernetes manifests: Deployments, Services, KafkaTopics, the model server."""
    if check is not None:
        _check(check)
        return
    if blueprint is None:
        raise fail("give a BLUEPRINT to render (or --check DIR to validate manifests)")
    if model_server not in MODEL_SERVER_KINDS:
        raise fail(f"--model-server {model_server}: choose one of {', '.join(MODEL_SERVER_KINDS)}")
    if load_balancing not in ("auto", "service", "client"):
        raise fail(f"--load-balancing {load_balancing}: choose auto, service or client")
    if dry_run and not apply:
        raise fail("--dry-run goes with --apply (a server-side dry run)")
    defaults = DeployOptions()
    opts = DeployOptions(
        namespace=namespace,
        image=image or defaults.image,
        kafka_bootstrap=kafka_bootstrap or f"{kafka_cluster}-kafka-bootstrap:9092",
        kafka_secret=kafka_secret,
        kafka_cluster=kafka_cluster,
        topics=topics,
        scale=tuple(scale or ()),
        conf=tuple(conf or ()),
        model_server=_kind(model_server),
        model_uri=model_uri,
        model_secret=model_secret,
        model_format=model_format,
        model_pvc=model_pvc,
        load_balancing=_balancing(load_balancing),
        keda=keda,
        otlp_endpoint=otlp_endpoint,
        ingress_domain=ingress_domain,
        ingress_class=ingress_class,
    )
    try:
        rendered = render(blueprint, opts)
    except DeployError as exc:
        raise fail(str(exc)) from None
    if out is not None:
        written = rendered.write(out)
        console.print(
            f"[green]wrote[/green] {len(written)} manifests of {rendered.app} to {out}", soft_wrap=True
        )
    if apply:
        _apply(rendered.manifests, dry_run, kubeconfig, context)
    if out is None and not apply:
        typer.echo(yaml.safe_dump_all(rendered.manifests, sort_keys=False), nl=False)


def _kind(value: str) -> ModelServerKind:
    assert value in MODEL_SERVER_KINDS
    return value  # type: ignore[return-value]


def _balancing(value: str) -> LoadBalancing:
    return value  # type: ignore[return-value]


def _apply(
    manifests: list[dict[str, object]], dry_run: bool, kubeconfig: str | None, context: str | None
) -> None:
    from inferstream.deploy.cluster import Applied, api_client
    from inferstream.deploy.cluster import apply as apply_manifests

    table = Table("kind", "name", "namespace", title="server dry run" if dry_run else "applied")

    def row(applied: Applied) -> None:
        table.add_row(applied.kind, applied.name, applied.namespace or "")

    try:
        api = api_client(kubeconfig, context)
        with api:
            apply_manifests(manifests, api, dry_run=dry_run, on_applied=row)
    except DeployError as exc:
        if table.row_count:
            console.print(table)
        raise fail(str(exc), 1) from None
    console.print(table)
    verb = "accepted (dry run: nothing stored)" if dry_run else "applied"
    console.print(f"[green]{verb}[/green]: {table.row_count} manifests")
