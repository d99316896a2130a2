"""Fixtures of the deploy tests: a real control plane (see kube_cluster.py), a client, the CRDs installed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_cluster import KEDA_CRDS, REPO, KubeCluster, ensure_installed


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    ensure_installed()
    workdir = Path(tempfile.mkdtemp(prefix="inferstream-kube-"))
    cluster = KubeCluster(workdir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_api(kube_cluster: KubeCluster) -> Iterator[object]:
    """A kubernetes ApiClient for the test cluster."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(kube_cluster.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="session")
def crds_installed(kube_cluster: KubeCluster) -> KubeCluster:
    """The custom kinds deploy renders: ours (src/inferstream/deploy/crds) and KEDA's real ones."""
    crds = REPO / "src" / "inferstream" / "deploy" / "crds"
    files = [*sorted(crds.glob("*.yaml")), *sorted(KEDA_CRDS.glob("*.yaml"))]
    args = [a for f in files for a in ("-f", str(f))]
    kube_cluster.kubectl("apply", "--server-side", *args)
    kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args)
    return kube_cluster
