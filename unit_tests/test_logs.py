"""logs.quiet_cdk_startup: the CDK's `MemoryMonitor instantiated` line is gone, nothing else is."""

import logging

import pytest
from airbyte_cdk.utils.memory_monitor import MemoryMonitor

from source_mixpanel_aep.protocol.entry import SourceEntrypoint
from source_mixpanel_aep.protocol.logs import CDK_LOGGER, quiet_cdk_startup
from source_mixpanel_aep.source import SourceMixpanelAep


@pytest.fixture
def cdk_logger():
    """The `airbyte` logger with its filters as they were before the test."""
    logger = logging.getLogger(CDK_LOGGER)
    filters = list(logger.filters)
    # A read run earlier in the same process (any in-process integration test) left its filter on: start without it
    logger.filters[:] = [existing for existing in filters if type(existing).__name__ != "_DropMemoryMonitorStartup"]
    yield logger
    logger.filters[:] = filters


def messages(caplog):
    return [record.getMessage() for record in caplog.records if record.name == CDK_LOGGER]


def test_without_it_the_cdk_says_memory_monitor_instantiated(cdk_logger, caplog):
    """The line exists today: if a CDK version drops it, this test says so and the filter can go."""
    with caplog.at_level(logging.INFO, logger=CDK_LOGGER):
        MemoryMonitor()
    assert any(message.startswith("MemoryMonitor instantiated") for message in messages(caplog))


def test_after_it_building_the_entrypoint_logs_no_memory_monitor_line_and_other_lines_still_pass(cdk_logger, caplog):
    quiet_cdk_startup()
    quiet_cdk_startup()  # idempotent: one filter
    with caplog.at_level(logging.INFO, logger=CDK_LOGGER):
        SourceEntrypoint(SourceMixpanelAep())
        MemoryMonitor()
        cdk_logger.info("a line of ours")
        cdk_logger.warning("MemoryMonitor instantiated is only dropped when the CDK's monitor says it")
    assert messages(caplog) == ["a line of ours", "MemoryMonitor instantiated is only dropped when the CDK's monitor says it"]
    assert sum(type(f).__name__ == "_DropMemoryMonitorStartup" for f in cdk_logger.filters) == 1
