"""The streaming runtime: streamlets, config parameters, blueprints, verify and the runner.

Write streamlets against :mod:`inferstream.runtime.streamlet` (re-exported here).
"""

from inferstream.runtime.codecs import AvroCodec, Codec, DecodeFailure, RawCodec
from inferstream.runtime.config import (
    BoolParameter,
    ConfigError,
    ConfigParameter,
    DurationParameter,
    FloatParameter,
    IntParameter,
    MemorySizeParameter,
    RegexParameter,
    StreamletConfig,
    StringParameter,
    parse_duration,
    parse_memory_size,
)
from inferstream.runtime.streamlet import (
    Egress,
    InBatch,
    Ingress,
    Inlet,
    MapProcessor,
    Outlet,
    Output,
    Processor,
    ServerStreamlet,
    Streamlet,
    StreamletContext,
    key_by_field,
)

__all__ = [
    "AvroCodec",
    "BoolParameter",
    "Codec",
    "ConfigError",
    "ConfigParameter",
    "DecodeFailure",
    "DurationParameter",
    "Egress",
    "FloatParameter",
    "InBatch",
    "Ingress",
    "Inlet",
    "IntParameter",
    "MapProcessor",
    "MemorySizeParameter",
    "Outlet",
    "Output",
    "Processor",
    "RawCodec",
    "RegexParameter",
    "ServerStreamlet",
    "Streamlet",
    "StreamletConfig",
    "StreamletContext",
    "StringParameter",
    "key_by_field",
    "parse_duration",
    "parse_memory_size",
]
