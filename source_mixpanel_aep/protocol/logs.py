"""Logging set-up from our side, with the standard `logging` API only (the CDK's lines are told apart in cdk/log_lines.py).

`quiet_cdk_startup()` drops the one INFO line every command used to start with, the CDK's
`MemoryMonitor instantiated with critical threshold: 95%, ...` (airbyte_cdk.utils.memory_monitor,
logged on the `airbyte` logger when AirbyteEntrypoint is built). It says nothing a user can act
on. Only that line goes: the monitor's own warnings under memory pressure, and every other line of
the `airbyte` logger, are kept. Call it before the entrypoint is built (run.py, before
`SourceEntrypoint(...)`); calling it again changes nothing.
"""

from __future__ import annotations

import logging
from typing import Iterable

from ..cdk.log_lines import is_http_client_gave_up, is_memory_monitor_startup, is_rate_limit_retry_line

CDK_LOGGER = "airbyte"


class _DropMemoryMonitorStartup(logging.Filter):
    """Also drops the CDK's retry line, `UserDefinedBackoffException: Rate limit exceeded (HTTP 500). Retrying in 6 s`, which
    says "rate limit" for every retry, a refused connection or a 500 alike: the connector logs its own line for each retry,
    saying what happened (streams/backoff.py, ExportBackoffStrategy.backoff_time)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if is_rate_limit_retry_line(record):
            return False
        return not is_memory_monitor_startup(record)


def quiet_cdk_startup() -> None:
    """Silence the CDK's `MemoryMonitor instantiated ...` INFO line and its misleading retry line; idempotent."""
    logger = logging.getLogger(CDK_LOGGER)
    if not any(isinstance(existing, _DropMemoryMonitorStartup) for existing in logger.filters):
        logger.addFilter(_DropMemoryMonitorStartup())


class _GaveUpAsDebug(logging.Filter):
    """The HttpClient's ERROR line on giving up (the URL, the response's body and headers) becomes a DEBUG line,
    shown only in a debug run: the stream's error (its log line and TRACE) says what failed in words a user can act
    on, and the TRACE keeps these words as its internal_message. Without this a rejected secret gave two ERROR lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_http_client_gave_up(record):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_request_failures(handlers: Iterable[logging.Handler]) -> None:
    """On the handlers that write the command's log lines (every logger's records reach them); idempotent."""
    for handler in handlers:
        if not any(isinstance(existing, _GaveUpAsDebug) for existing in handler.filters):
            handler.addFilter(_GaveUpAsDebug())
