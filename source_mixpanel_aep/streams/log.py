"""The logger a stream hands the CDK's HttpClient, kept beside the streams that use it.

It lived in protocol/logs.py, but the streams may not import the protocol layer (unit_tests/test_layers.py);
the logger's name is the stream's own logger's child `http`, as before, so the lines read the same.
"""

from __future__ import annotations

import logging


class _NoTracebacks(logging.Filter):
    """Keep a record's words, drop its traceback: the CDK's HttpClient logs one at ERROR when retries run out,
    while the connector's own error says what failed in words a user can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def http_logger(stream_logger: logging.Logger) -> logging.Logger:
    """The logger a stream hands the CDK's HttpClient: its retry lines, without CDK tracebacks."""
    logger = stream_logger.getChild("http")
    if not any(isinstance(existing, _NoTracebacks) for existing in logger.filters):
        logger.addFilter(_NoTracebacks())
    return logger
