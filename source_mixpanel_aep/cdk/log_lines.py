"""The CDK's own log lines that protocol/logs.py drops or lowers, told by the CDK module that logs them and their words.

Neither is a public API: each matcher names the upstream function whose line it recognises, and
cdk/upstream.py registers those functions, so a CDK upgrade that changes one fails
unit_tests/test_cdk_drift.py (a changed line would otherwise just come back, unnoticed).
"""

from __future__ import annotations

import logging

# The HttpClient's ERROR lines when it gives up: "'GET' request to '<url>' failed with ..." (HttpClient._handle_error_resolution)
# and "Retries exhausted with backoff exception." (HttpClient._send_with_retry).
HTTP_CLIENT_GAVE_UP = ("Retries exhausted with backoff exception", "'GET' request to '", "'POST' request to '")
# rate_limiting.user_defined_backoff_handler's line for every retry, whatever the failure was.
RATE_LIMIT_RETRY = "UserDefinedBackoffException: Rate limit exceeded"


def is_memory_monitor_startup(record: logging.LogRecord) -> bool:
    """MemoryMonitor.__init__'s INFO line "MemoryMonitor instantiated with critical threshold: ..."."""
    return record.module == "memory_monitor" and record.funcName == "__init__" and record.levelno <= logging.INFO


def is_rate_limit_retry_line(record: logging.LogRecord) -> bool:
    """user_defined_backoff_handler's "Rate limit exceeded (HTTP 500). Retrying in 6 s", said for a refused connection or a 500 alike."""
    return record.module == "rate_limiting" and str(record.msg).startswith(RATE_LIMIT_RETRY)


def is_http_client_gave_up(record: logging.LogRecord) -> bool:
    """The HttpClient's ERROR line on giving up: the URL, the response's body and headers."""
    return record.levelno >= logging.ERROR and record.module == "http_client" and str(record.msg).startswith(HTTP_CLIENT_GAVE_UP)
