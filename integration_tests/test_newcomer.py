"""A newcomer's first hour (issue 13): the messages a first mistake meets, through the protocol.

- an unknown or misspelt top-level config key: a WARN naming it and the closest field in check,
  discover and read; check still SUCCEEDS, with the warning in its status message;
- a config file that is not JSON: a config_error TRACE saying so, with line and column;
- a --state file holding STATE lines as a read printed them (one, or several as JSONL): accepted.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from airbyte_cdk.models import FailureType, Level, Status

from integration_tests.builders import (
    FakeSleeps,
    catalog_json,
    config,
    days_back,
    event_ids,
    ordered_ids,
    protocol_lines,
    run_check,
    run_discover,
    run_process,
    run_read,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)


def warnings(output):
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


# --- 1. Unknown config keys -------------------------------------------------------------------


def test_given_a_misspelt_start_date_when_check_discover_and_read_then_each_warns_and_check_still_succeeds(sleeps):
    days = days_back(3)
    with FakeMixpanel(events_per_day=2, days=days) as fake:
        cfg = config(fake.url, startDate=str(days[0]), end_date=str(days[-1]))
        check, discover, read = run_check(cfg), run_discover(cfg), run_read(cfg)
    for output in (check, discover, read):
        assert [w for w in warnings(output) if "'startDate'" in w and "Did you mean 'start_date'?" in w], warnings(output)
        assert not output.errors
    [status] = check.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED
    assert "'startDate'" in status.connectionStatus.message and "start_date" in status.connectionStatus.message
    assert read.records  # the read still runs, from the default start


def test_given_only_known_keys_when_check_then_no_warning_and_no_status_message(fake):
    check = run_check(config(fake.url, start_date=str(days_back(1)[0])))
    [status] = check.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED and not status.connectionStatus.message
    assert not [w for w in warnings(check) if "Config key" in w]
