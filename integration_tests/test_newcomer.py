"""A newcomer's first hour (issue 13): the messages a first mistake meets, through the protocol.

- an unknown or misspelt top-level config key: a WARN naming it and the closest field in check,
  discover and read; check still SUCCEEDS, with the warning in its status message;
- a config file that is not JSON: a config_error TRACE saying so, with line and column;
- a --state file holding STATE lines as a read printed them (one, or several as JSONL): accepted.
"""

from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import AirbyteMessageSerializer, FailureType, Status

from integration_tests.builders import (
    catalog_json,
    config,
    days_back,
    event_ids,
    infos,
    ordered_ids,
    protocol_lines,
    run_check,
    run_discover,
    run_process,
    run_read,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel

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


def test_given_credential_for_credentials_when_check_then_failed_naming_the_field_and_the_key_meant(fake):
    cfg = config(fake.url)
    cfg["credential"] = cfg.pop("credentials")
    [status] = run_check(cfg).connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert "'credentials': is missing" in status.connectionStatus.message
    assert "'credential'" in status.connectionStatus.message and "Did you mean 'credentials'?" in status.connectionStatus.message
    assert fake.requests == []


def test_given_only_known_keys_when_check_then_no_warning_and_no_status_message(fake):
    check = run_check(config(fake.url, start_date=str(days_back(1)[0])))
    [status] = check.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED and not status.connectionStatus.message
    assert not [w for w in warnings(check) if "Config key" in w]


# --- 9. A config file that is not JSON --------------------------------------------------------

CONFIG_FILES = {
    # name: (file content, words of the message)
    "trailing-comma": ('{\n  "project_id": 4242,\n  "start_date": "2024-01-01",\n}\n', "is not valid JSON: Expecting property name enclosed in double quotes at line 4, column 1"),
    "single-quotes": ("{'project_id': 4242}", "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    "cut-short": ('{"credentials": {"auth_type": "oauth_token", "access_token": "fake-oauth-token-0000"', "is not valid JSON"),
    "a-list": ("[]", "holds a JSON list, not an object"),
}


@pytest.mark.parametrize("verb", ["check", "discover", "read"])
@pytest.mark.parametrize("name", list(CONFIG_FILES))
def test_given_a_config_file_that_is_not_a_json_object_when_run_then_a_config_error_with_line_and_column(tmp_path, verb, name):
    content, words = CONFIG_FILES[name]
    files = write_files(tmp_path, config=content, catalog=catalog_json())
    args = [verb, "--config", files["config"]] + (["--catalog", files["catalog"]] if verb == "read" else [])
    done = run_process(args)
    [error] = [m["trace"]["error"] for m in protocol_lines(done.stdout) if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert error["failure_type"] == FailureType.config_error.value
    assert words in error["message"] and files["config"] in error["message"], error["message"]
    assert "Something went wrong" not in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert "fake-oauth-token-0000" not in done.stdout + done.stderr  # the file's content is never quoted
    assert done.returncode != 0


# --- 9. A --state file of STATE lines as a read printed them ----------------------------------


def state_line(cursor: str, records: float = 3.0) -> dict:
    return {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"timestamp": cursor}},
                                       "sourceStats": {"recordCount": records}}}


def test_given_the_state_lines_a_read_printed_when_read_with_them_as_state_then_it_resumes_from_the_last_one(sleeps):
    days = days_back(6)
    with FakeMixpanel(events_per_day=2, days=days) as fake:
        cfg = config(fake.url, start_date=str(days[0]), end_date=str(days[-1]), date_window_days=1, lookback_window_days=0)
        first = run_read(cfg)
        printed = [json.dumps(AirbyteMessageSerializer.dump(message)) for message in first.state_messages]
        assert len(printed) == len(days) and all('"sourceStats"' in line for line in printed)
        lines = printed[:3]  # up to the third window's checkpoint, as if the sync had stopped there
        # the cursor is the end of days[2]; the next read starts on that day, 10 minutes before the cursor
        for raw_state in ("\n".join(lines) + "\n", json.loads("[" + ",".join(lines) + "]"), json.loads(lines[-1])):
            fake.requests.clear()
            output = run_read(cfg, raw_state=raw_state)
            assert not output.errors, output.errors
            assert fake.requests[0].params["from_date"] == str(days[2])
            assert ordered_ids(output) == event_ids(fake.expected_events(days[2], days[-1], where=fake.requests[0].params["where"]))
            assert any("STATE message(s) as a read prints them" in m.log.message for m in output.logs)


def test_given_state_lines_mixed_with_records_when_read_then_a_config_error_says_to_keep_only_the_state_lines(fake):
    record = {"type": "RECORD", "record": {"stream": "events", "data": {}, "emitted_at": 1}}
    content = json.dumps(record) + "\n" + json.dumps(state_line("2024-05-01T23:59:59.999Z")) + "\n"
    output = run_read(config(fake.url, start_date=str(days_back(1)[0])), raw_state=content)
    [error] = output.errors
    assert error.trace.error.failure_type == FailureType.config_error
    assert "not all STATE messages (also: RECORD)" in error.trace.error.message and "grep" in error.trace.error.message
    assert fake.requests == []


# --- 10. Only real pacing waits are logged --------------------------------------------------------


def test_given_many_quick_windows_when_read_then_only_real_pacing_waits_are_logged():
    days = days_back(12)
    with FakeMixpanel(events_per_day=1, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0]), date_window_days=1))
    assert output.exit_code == 0 and len(ordered_ids(output)) == 12
    pacing = [line for line in infos(output) if line.startswith("Pacing: waiting")]
    assert pacing, "12 requests in well under 4 s must be paced at 3/second"
    assert all(float(line.split()[2]) >= 0.1 for line in pacing), pacing  # was 'Pacing: waiting 0.0 s' for waits too short to notice
