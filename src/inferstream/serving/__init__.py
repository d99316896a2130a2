"""The model-serving streamlet: SourceRequests in, ServingResults out, scored through any executor.

In a blueprint: ``class: inferstream.serving:ModelServing`` (or ``HotSwapServing``: the same plus an
``updates`` inlet of ModelDescriptor records that swaps the model, :mod:`~inferstream.serving.hot_swap`).
Its parameters are declared in
:mod:`inferstream.serving.parameters`, its port codecs in :mod:`inferstream.serving.port_codecs`,
the streamlet itself in :mod:`inferstream.serving.model_serving`. It is built on the runtime's
streamlet API and the executors' client library; neither of them knows it.
"""

from inferstream.serving.hot_swap import HotSwapServing
from inferstream.serving.model_serving import ModelServing
from inferstream.serving.parameters import PARAMETERS, executor_config
from inferstream.serving.port_codecs import (
    ScoredBatch,
    ScoredGroup,
    ScoredResultsCodec,
    ServingResultBatch,
    ServingResultsCodec,
    SourceRequestBatch,
    SourceRequestsCodec,
)

__all__ = [
    "PARAMETERS",
    "HotSwapServing",
    "ModelServing",
    "ScoredBatch",
    "ScoredGroup",
    "ScoredResultsCodec",
    "ServingResultBatch",
    "ServingResultsCodec",
    "SourceRequestBatch",
    "SourceRequestsCodec",
    "executor_config",
]
