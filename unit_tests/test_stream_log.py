"""streams/log.http_logger: the HttpClient's logger keeps its name and words and loses CDK tracebacks."""

import logging

from source_mixpanel_aep.streams.log import http_logger


def test_the_http_logger_is_the_streams_child_and_drops_tracebacks_once():
    stream_logger = logging.getLogger("airbyte.test_stream_log")
    logger = http_logger(stream_logger)
    assert logger.name == "airbyte.test_stream_log.http"
    assert http_logger(stream_logger) is logger and len(logger.filters) == 1
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "gave up", (), sys.exc_info())
    assert logger.filter(record) and record.exc_info is None and record.exc_text is None
    assert record.getMessage() == "gave up"
