"""Installing the local Kafka broker: its jars from Maven Central, once, into a cache folder.

``install_kafka`` runs Maven on ``scripts/kafka/pom.xml`` (``scripts/kafka/install.sh`` calls it)
and marks the folder complete with the pom's digest, so a changed Kafka version re-installs and
an interrupted install never looks installed. Development tooling: nothing of inferstream's
runtime uses it; the tests, benchmarks and ``inferstream kafka`` do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

_REPO = Path(__file__).resolve().parents[3]

#: Folder for the jars and the state of a detached broker; default ``<repo>/.cache/kafka``.
KAFKA_HOME_ENV = "INFERSTREAM_KAFKA_HOME"
#: A folder of Kafka jars to use as is (e.g. the ``libs/`` of an Apache Kafka download).
KAFKA_LIBS_ENV = "INFERSTREAM_KAFKA_LIBS"
#: The pom whose dependencies are the broker; default ``<repo>/scripts/kafka/pom.xml``.
KAFKA_POM_ENV = "INFERSTREAM_KAFKA_POM"

_COMPLETE = ".complete"



class KafkaBrokerError(RuntimeError):
    """The local broker could not be installed, started or stopped; the message says what to do."""


def kafka_home() -> Path:
    return Path(os.environ.get(KAFKA_HOME_ENV, _REPO / ".cache" / "kafka"))


def _pom_path() -> Path:
    return Path(os.environ.get(KAFKA_POM_ENV, _REPO / "scripts" / "kafka" / "pom.xml"))


def kafka_libs_dir() -> Path:
    """Where the broker's jars are (or will be after ``install_kafka``)."""
    if KAFKA_LIBS_ENV in os.environ:
        return Path(os.environ[KAFKA_LIBS_ENV])
    return kafka_home() / "libs"


def is_installed() -> bool:
    libs = kafka_libs_dir()
    if KAFKA_LIBS_ENV in os.environ:
        return any(libs.glob("kafka_2.13-*.jar"))
    stamp = libs / _COMPLETE
    return stamp.is_file() and stamp.read_text() == _pom_digest()


def _pom_digest() -> str:
    pom = _pom_path()
    return hashlib.sha256(pom.read_bytes()).hexdigest() if pom.is_file() else ""


def install_kafka(*, force: bool = False) -> Path:
    """Copy the broker's jars from Maven Central into ``kafka_libs_dir()``; a no-op when present.

    The stamp file holds the pom's digest, so a changed Kafka version in the pom re-installs.
    """
    libs = kafka_libs_dir()
    if is_installed() and not force:
        return libs
    if KAFKA_LIBS_ENV in os.environ:
        raise KafkaBrokerError(f"{KAFKA_LIBS_ENV}={libs} lacks kafka_2.13-*.jar (use Kafka's libs/)")
    pom = _pom_path()
    if not pom.is_file():
        raise KafkaBrokerError(
            f"no pom at {pom}: run from a checkout of inferstream, or set {KAFKA_POM_ENV} "
            f"to a pom listing the Kafka broker, or {KAFKA_LIBS_ENV} to a folder of Kafka jars"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaBrokerError("mvn is not on PATH: install Maven 3.8+ and Java 17+ (apt-get install maven)")
    staging = libs.with_name(libs.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KafkaBrokerError(f"mvn failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    # Swap in the complete folder only at the end so an interrupted install never looks installed.
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (libs / _COMPLETE).write_text(_pom_digest())
    return libs
