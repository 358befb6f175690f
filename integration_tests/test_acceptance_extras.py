"""What the retired Connector Acceptance Tests checked and the CDK's standard suite no longer does.

CAT compared the records read with sample_config.json against expected records
(`expect_records`), and read incrementally from a saved state and from a state in the future
(`incremental` / `future_state`). The standard suite rejects those keys, so these tests do the
same checks here, with the same files, through the connector's real command line (`read --config
--catalog [--state]`), against the fake Mixpanel of the `acceptance` fixture.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, Optional

from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command

from integration_tests.acceptance import (
    ABNORMAL_STATE,
    ACCEPTANCE_DAYS,
    BASE_URL_PLACEHOLDER,
    CONFIG_FILES,
    CONFIGURED_CATALOG,
    EVENTS_PER_DAY,
    INVALID_CONFIG,
    REPO_ROOT,
    SAMPLE_CONFIG,
    SAMPLE_STATE,
    acceptance_test_config,
    incremental_tests,
    load_json,
)
from integration_tests.builders import cursors, expected_ids, ids, record_data
from integration_tests.fake_mixpanel import (
    FAKE_OAUTH_TOKEN,
    FAKE_PROJECT_ID,
    FAKE_PROJECT_SECRET,
    FAKE_SA_SECRET,
    FAKE_SA_USERNAME,
)
from source_mixpanel_aep import SourceMixpanelAep

FAKE_CREDENTIAL_VALUES = {FAKE_SA_USERNAME, FAKE_SA_SECRET, FAKE_PROJECT_SECRET, FAKE_OAUTH_TOKEN}


def read(root: Path, config: str = SAMPLE_CONFIG, state: Optional[str] = None) -> EntrypointOutput:
    args = ["read", "--config", str(root / config), "--catalog", str(root / CONFIGURED_CATALOG)]
    if state:
        args += ["--state", str(root / state)]
    return _run_command(SourceMixpanelAep(), args)


def cursor_of(state_file: str) -> dt.datetime:
    [message] = load_json(state_file)
    return dt.datetime.fromisoformat(message["stream"]["stream_state"]["timestamp"].replace("Z", "+00:00"))


def warnings_of(output: EntrypointOutput) -> List[str]:
    return [message.log.message for message in output.logs if message.log.level.name == "WARN"]


# --- the committed files -----------------------------------------------------------------------


def test_committed_configs_hold_only_fake_credentials_and_the_base_url_placeholder():
    for relative in CONFIG_FILES:
        config = load_json(relative)
        assert config["base_url"] == BASE_URL_PLACEHOLDER, relative
        assert config["project_id"] == FAKE_PROJECT_ID, relative
        credentials = {key: value for key, value in config["credentials"].items() if key != "auth_type"}
        for key, value in credentials.items():
            assert value in FAKE_CREDENTIAL_VALUES or value.startswith("fake-"), f"{relative}: credentials.{key}"
    assert load_json(INVALID_CONFIG)["credentials"]["secret"] not in FAKE_CREDENTIAL_VALUES  # it must fail to authenticate


def test_every_file_the_acceptance_config_names_exists_and_each_config_is_rewritten_at_run_time():
    sections = acceptance_test_config()["acceptance_tests"]
    named = set()
    for section in sections.values():
        for entry in section["tests"]:
            named.update(value for key, value in entry.items() if key.endswith("_path"))
            named.update(value for key, value in entry.get("future_state", {}).items() if key.endswith("_path"))
    assert named, "acceptance-test-config.yml names no files"
    for relative in named:
        assert (REPO_ROOT / relative).is_file(), relative
    configs = {entry["config_path"] for section in sections.values() for entry in section["tests"] if "config_path" in entry}
    assert configs <= set(CONFIG_FILES), "a config the conftest would not point at the fake"


def test_runtime_configs_point_at_the_fake_and_differ_from_the_committed_ones_only_there(acceptance):
    for relative in CONFIG_FILES:
        runtime = load_json(relative, acceptance.root)
        assert runtime["base_url"] == acceptance.fake.url
        assert {**runtime, "base_url": BASE_URL_PLACEHOLDER} == load_json(relative)


# --- expected records (CAT's expect_records) ---------------------------------------------------


def test_sample_config_reads_exactly_the_fake_days_events_with_one_state_per_window(acceptance):
    config = load_json(SAMPLE_CONFIG)
    start, end = dt.date.fromisoformat(config["start_date"]), dt.date.fromisoformat(config["end_date"])
    assert (start, end) == (ACCEPTANCE_DAYS[0], ACCEPTANCE_DAYS[-1])

    output = read(acceptance.root)

    assert not output.errors, output.get_formatted_error_message()
    records = record_data(output)  # each one validated against the stream's schema
    expected = acceptance.fake.expected_events(start, end)
    assert len(expected) == EVENTS_PER_DAY * len(ACCEPTANCE_DAYS)
    assert ids(records) == expected_ids(expected)
    assert len(records) == len(expected)  # no duplicates on a clean read
    assert {record["event_name"] for record in records} == {event["event"] for event in expected}
    assert config["date_window_days"] == 3  # so three windows, each checkpointed at the end of its last day
    assert cursors(output) == ["2024-05-03T23:59:59.999Z", "2024-05-06T23:59:59.999Z", "2024-05-07T23:59:59.999Z"]


# --- incremental (CAT's incremental and future_state) ------------------------------------------


def test_incremental_from_sample_state_reads_what_arrived_since_the_cursor_then_safety_sweeps_the_days_still_owed(acceptance):
    config = load_json(SAMPLE_CONFIG)
    cursor = cursor_of(SAMPLE_STATE)  # an old-format state: {"timestamp": ...} only
    lookback = dt.timedelta(days=config["lookback_window_days"])
    end = dt.date.fromisoformat(config["end_date"])
    where = f'number(properties["mp_processing_time_ms"]) >= {int((cursor - dt.timedelta(minutes=5)).timestamp() * 1000)}'
    requests_before = len(acceptance.fake.requests)

    output = read(acceptance.root, state=SAMPLE_STATE)

    assert not output.errors, output.get_formatted_error_message()
    *arrivals, sweep = [request.params for request in acceptance.fake.requests[requests_before:]]
    # The old plan had read the cursor's day and the lookback before it whole at the cursor: what arrived since (minus the
    # overlap), of those days on; then each is swept once more for events without an arrival time (its sweep day is long past).
    first = cursor.date() - lookback
    assert [(arrival["from_date"], arrival["to_date"], arrival["where"]) for arrival in arrivals] == [
        (str(first), str(first + dt.timedelta(days=2)), where), (str(first + dt.timedelta(days=3)), str(end), where)]  # date_window_days 3
    assert (sweep["from_date"], sweep["to_date"], sweep["where"]) == (str(first), str(cursor.date()), 'not defined(properties["mp_processing_time_ms"])')
    records = record_data(output)
    assert set(ids(records)) == set(expected_ids(acceptance.fake.expected_events(first, end, where=where)))
    assert min(record["timestamp"] for record in records) >= f"{first.isoformat()}T00:00:00"
    assert cursors(output)[-1] == f"{end.isoformat()}T23:59:59.999Z"


def test_incremental_from_the_future_state_emits_no_records_warns_and_keeps_the_state(acceptance):
    [entry] = incremental_tests()
    future_state = entry["future_state"]["future_state_path"]
    assert future_state == ABNORMAL_STATE
    cursor = cursor_of(future_state)
    assert cursor > dt.datetime.now(dt.timezone.utc)
    requests_before = len(acceptance.fake.requests)

    output = read(acceptance.root, state=future_state)

    assert not output.errors, output.get_formatted_error_message()
    assert output.records == []
    assert len(acceptance.fake.requests) == requests_before  # nothing to ask Mixpanel for
    assert output.state_messages, "a sync from a future state must still emit a STATE"
    assert set(cursors(output)) == {load_json(future_state)[0]["stream"]["stream_state"]["timestamp"]}
    assert any("in the future" in message for message in warnings_of(output))
