"""Avro schemas (.avsc) wire-compatible with the original Cloudflow + Seldon system.

Each file is named by the full name of the type it defines, so fastavro's ``load_schema``
resolves references between them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import load_schema

SCHEMA_DIR = Path(__file__).parent

__all__ = [
    "MODEL_DESCRIPTOR",
    "MODEL_RESULT_METADATA",
    "SCHEMA_DIR",
    "SERVING_OUTPUT",
    "SERVING_RESULT",
    "SOURCE_RECORD",
    "SOURCE_REQUEST",
    "TENSOR",
    "lenient_schema",
    "parsed_schema",
    "schema_names",
]

TENSOR = "tensorflow.support.avro.Tensor"
SOURCE_RECORD = "tensorflow.modelserving.avro.SourceRecord"
SERVING_OUTPUT = "tensorflow.modelserving.avro.ServingOutput"
SOURCE_REQUEST = "tensorflow.modelserving.avro.SourceRequest"
MODEL_RESULT_METADATA = "tensorflow.modelserving.avro.ModelResultMetadata"
SERVING_RESULT = "tensorflow.modelserving.avro.ServingResult"
MODEL_DESCRIPTOR = "tensorflow.modelserving.avro.ModelDescriptor"


def schema_names() -> list[str]:
    """Full names of every schema shipped with inferstream."""
    return sorted(p.name.removesuffix(".avsc") for p in SCHEMA_DIR.glob("*.avsc"))


@cache
def parsed_schema(full_name: str) -> Any:
    """The parsed (fastavro) schema for a full name such as ``tensorflow.support.avro.Tensor``."""
    path = SCHEMA_DIR / f"{full_name}.avsc"
    if not path.is_file():
        known = ", ".join(schema_names())
        raise KeyError(f"unknown Avro schema {full_name!r}; known: {known}")
    return load_schema(str(path))


@cache
def lenient_schema(full_name: str) -> Any:
    """The schema with every enum read as its plain int index: decodes records that carry an
    unknown enum symbol, so that the error can name the field and the index."""

    seen: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "enum":
            return "int"
        name = node.get("name")
        if node.get("type") in ("record", "fixed") and isinstance(name, str):
            if name in seen:
                return name
            seen.add(name)
        return {k: walk(v) for k, v in node.items() if not k.startswith("__")}

    return parse_schema(walk(parsed_schema(full_name)))
