"""Dead letters: a record that could not be decoded or processed, kept with its raw bytes and the reason.

They go to one topic per application (``<app>.dead-letters`` unless the blueprint names another),
Avro-encoded with :data:`DEAD_LETTER_SCHEMA`, so nothing is ever dropped silently.
"""

from __future__ import annotations

import time
from typing import Any

from inferstream.runtime.codecs import AvroCodec

DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "DeadLetter",
    "namespace": "inferstream.runtime",
    "doc": "A record that could not be decoded or processed, with the reason and its raw bytes.",
    "fields": [
        {"name": "streamlet", "type": "string"},
        {"name": "inlet", "type": "string"},
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "reason", "type": "string"},
        {"name": "payload", "type": "bytes"},
        {"name": "timestamp", "type": "long", "doc": "epoch millis when it was dead-lettered"},
    ],
}

DEAD_LETTER_CODEC = AvroCodec(DEAD_LETTER_SCHEMA)


def dead_letter_topic(app: str) -> str:
    return f"{app}.dead-letters"


def dead_letter(
    streamlet: str, inlet: str, topic: str, partition: int, offset: int, reason: str, payload: bytes
) -> dict[str, Any]:
    return {
        "streamlet": streamlet,
        "inlet": inlet,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "reason": reason,
        "payload": payload,
        "timestamp": int(time.time() * 1000),
    }
