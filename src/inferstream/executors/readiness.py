"""Is the model there? The pre-flight check of an executor configuration, before any record.

``await check_ready(config)`` asks the server(s) of ``config`` for the model's metadata (TF
Serving GetModelMetadata, V2 model metadata, Seldon's metadata endpoint) with a short deadline,
or looks for the embedded model's file. It raises :class:`NotReady` with one line saying what is
missing and returns warnings for what is odd but not fatal (an answer it cannot read)::

    try:
        warnings = await check_ready(config)
    except NotReady as exc:
        print(exc)   # "no model server answered at 127.0.0.1:8500 (unavailable: ...)"
"""

from __future__ import annotations

from pathlib import Path

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor

#: Deadline of one metadata attempt during the check (calls may be slower; this only asks).
CHECK_ATTEMPT_SECONDS = 5.0


class NotReady(Exception):
    """What the configuration needs is not there; the message says what."""


async def check_ready(config: ExecutorConfig) -> list[str]:
    """Warnings (possibly none); :class:`NotReady` when the server or the model is missing."""
    if config.protocol == "embedded":
        local = not isinstance(config.model_path, str)  # a URI is checked when it is fetched
        if config.model_path is None or (local and not Path(config.model_path).exists()):
            raise NotReady(f"the embedded model {config.model_path} does not exist")
        return []
    quick = config.model_copy(update={"retries": 1, "timeout": min(config.timeout, CHECK_ATTEMPT_SECONDS)})
    try:
        executor = await open_executor(quick)
    except ExecutorError as exc:
        raise NotReady(str(exc.args[0])) from None
    try:
        await executor.metadata()
    except ExecutorError as exc:
        verdict = _verdict(config, exc)
        if isinstance(verdict, NotReady):
            raise verdict from None
        return [verdict]
    finally:
        await executor.close()
    return []


def _verdict(config: ExecutorConfig, error: ExecutorError) -> NotReady | str:
    """A missing server or model (NotReady), or a warning: the server answered, oddly."""
    where = config.target
    if error.kind in (ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT):
        return NotReady(f"no model server answered at {where} ({error})")
    if error.kind is ErrorKind.REJECTED:
        return NotReady(f"{where} does not serve model {config.model!r} ({error})")
    if error.kind is ErrorKind.CONFIG:
        return NotReady(str(error))
    return f"{where} answered the metadata request oddly ({error}); going on"
