"""spec, check, discover, read and incremental read, through the Airbyte entrypoint, over real HTTP."""

import datetime as dt

import pytest
from airbyte_cdk.models import Status, SyncMode

from integration_tests.builders import (
    CREDENTIALS,
    SECRETS,
    WRONG_CREDENTIALS,
    all_text,
    by_insert_id,
    config,
    cursors,
    days_back,
    expected_ids,
    ids,
    record_data,
    run_check,
    run_discover,
    run_read,
    run_spec,
)
from integration_tests.fake_mixpanel import FakeMixpanel, generate_events

AUTH_FORMS = sorted(CREDENTIALS)


def test_spec_declares_every_config_field_with_title_description_and_example():
    spec = run_spec().spec_messages[0].spec
    properties = spec.connectionSpecification["properties"]
    assert {"credentials", "project_id", "region", "base_url", "project_timezone", "legacy_local_time", "start_date", "end_date",
            "date_window_days", "lookback_window_days", "events", "where"} <= set(properties)
    for name, field in properties.items():
        assert field.get("title") and field.get("description") and field.get("examples"), name
    auth_types = {option["properties"]["auth_type"]["const"] for option in properties["credentials"]["oneOf"]}
    assert auth_types == set(AUTH_FORMS)
    secrets = [key for option in properties["credentials"]["oneOf"] for key, field in option["properties"].items() if field.get("airbyte_secret")]
    assert sorted(secrets) == ["access_token", "api_secret", "secret"]
    assert spec.documentationUrl


@pytest.mark.parametrize("auth", AUTH_FORMS)
def test_given_valid_credentials_when_check_then_succeeded_after_one_small_request(fake, tmp_path, auth):
    output = run_check(config(fake.url, auth=auth), tmp_path)
    assert output.connection_status_messages[0].connectionStatus.status == Status.SUCCEEDED
    [request] = fake.requests
    assert request.params["limit"] == "1" and request.params["from_date"] == request.params["to_date"]


@pytest.mark.parametrize("auth", AUTH_FORMS)
def test_given_wrong_credentials_when_check_then_failed_with_actionable_message(fake, tmp_path, auth):
    cfg = config(fake.url, auth=auth)
    cfg["credentials"] = WRONG_CREDENTIALS[auth]
    output = run_check(cfg, tmp_path)
    status = output.connection_status_messages[0].connectionStatus
    assert status.status == Status.FAILED
    assert "credentials" in status.message and "401" in status.message
    assert "Traceback" not in status.message
    assert WRONG_CREDENTIALS[auth][next(k for k in WRONG_CREDENTIALS[auth] if k not in ("auth_type", "username"))] not in all_text(output)


@pytest.mark.parametrize(
    "server_options, expected_words",
    [
        pytest.param({"expired_credentials": True}, ["credentials", "expired"], id="expired-400-unable-to-authenticate"),
        pytest.param({"payment_required": True}, ["plan", "Export API"], id="402-plan"),
    ],
)
def test_given_account_problem_when_check_then_failed_with_explanation(tmp_path, server_options, expected_words):
    with FakeMixpanel(**server_options) as server:
        status = run_check(config(server.url), tmp_path).connection_status_messages[0].connectionStatus
    assert status.status == Status.FAILED
    for word in expected_words:
        assert word in status.message


def test_given_unknown_project_when_check_then_failed_naming_the_project(fake, tmp_path):
    status = run_check(config(fake.url, project_id=999), tmp_path).connection_status_messages[0].connectionStatus
    assert status.status == Status.FAILED
    assert "403" in status.message and "999" in status.message


def test_given_unreachable_host_when_check_then_failed_quickly_without_traceback(tmp_path):
    with FakeMixpanel() as server:
        url = server.url  # the port is free again once the server is gone
    status = run_check(config(url), tmp_path).connection_status_messages[0].connectionStatus
    assert status.status == Status.FAILED
    assert "reach" in status.message.lower() and "Traceback" not in status.message


def test_discover_declares_an_incremental_events_stream_with_cursor_and_primary_key_first(fake):
    stream, *_ = run_discover(config(fake.url)).catalog.catalog.streams
    assert stream.name == "events"
    assert {mode.value for mode in stream.supported_sync_modes} == {"full_refresh", "incremental"}
    assert stream.source_defined_cursor and stream.default_cursor_field == ["timestamp"]
    assert stream.source_defined_primary_key == [["_id"]]
    assert {"_id", "timestamp", "time", "event_name", "distinct_id", "insert_id", "properties"} <= set(stream.json_schema["properties"])


@pytest.mark.parametrize(
    "name, modes, cursor, primary_key, columns",
    [
        ("profiles", {"full_refresh", "incremental"}, ["last_seen"], [["distinct_id"]], {"distinct_id", "last_seen", "created", "email", "properties"}),
        ("cohorts", {"full_refresh"}, [], [["id"]], {"id", "name", "description", "count", "is_visible", "created", "project_id"}),
        ("cohort_members", {"full_refresh"}, [], [["cohort_id"], ["distinct_id"]], {"cohort_id", "distinct_id"}),
        ("annotations", {"full_refresh", "incremental"}, ["date"], [["id"]], {"id", "date", "description", "user", "tags", "project_id"}),
        ("funnels", {"full_refresh", "incremental"}, ["date"], [["funnel_id"], ["date"]], {"funnel_id", "funnel_name", "date", "steps", "analysis"}),
        ("group_profiles", {"full_refresh", "incremental"}, ["last_seen"], [["group_key"], ["group_id"]], {"group_key", "group_id", "last_seen", "name", "properties"}),
    ],
)
def test_discover_declares_the_query_api_streams(fake, name, modes, cursor, primary_key, columns):
    streams = {stream.name: stream for stream in run_discover(config(fake.url)).catalog.catalog.streams}
    assert list(streams) == ["events", "profiles", "cohorts", "cohort_members", "annotations", "funnels", "group_profiles"]
    stream = streams[name]
    assert {mode.value for mode in stream.supported_sync_modes} == modes
    assert (stream.default_cursor_field or []) == cursor and stream.source_defined_primary_key == primary_key
    assert columns <= set(stream.json_schema["properties"])
    assert fake.requests == []  # discover asks nothing


@pytest.mark.parametrize("auth", AUTH_FORMS)
@pytest.mark.parametrize("gzip_enabled", [True, False], ids=["gzip", "plain"])
def test_given_three_days_of_events_when_full_read_then_exactly_those_events_are_emitted(auth, gzip_enabled):
    days = days_back(3)
    with FakeMixpanel(events_per_day=120, days=days, gzip_enabled=gzip_enabled) as server:
        output = run_read(config(server.url, auth=auth, start_date=str(days[0]), date_window_days=2), sync_mode=SyncMode.full_refresh)
        expected = server.expected_events(days[0], days[-1])
    records = record_data(output)
    assert ids(records) == expected_ids(expected) and len(records) == 360
    assert not output.errors
    assert not any(secret in all_text(output) for secret in SECRETS)


def test_read_sends_the_documented_parameters_and_headers():
    days = days_back(2)
    with FakeMixpanel(events_per_day=5, days=days) as server:
        run_read(config(server.url, start_date=str(days[0]), events=["Sign up", "Items purchased"], where='properties["$os"] == "Linux"'))
        [request] = server.requests
    assert request.params["from_date"] == str(days[0]) and request.params["to_date"] == str(days[1])
    assert request.params["project_id"] == "4242" and request.params["time_in_ms"] == "true"
    assert request.params["event"] == '["Sign up", "Items purchased"]'
    assert request.params["where"] == 'properties["$os"] == "Linux"'
    assert "gzip" in request.headers.get("Accept-Encoding", "")


def test_given_windows_when_read_then_state_after_each_window_and_cursor_never_passes_request_time():
    days = days_back(5)
    with FakeMixpanel(events_per_day=10, days=days) as server:
        before = dt.datetime.now(dt.timezone.utc)
        output = run_read(config(server.url, start_date=str(days[0]), date_window_days=2))
    states = cursors(output)
    assert states[:2] == [f"{days[1]}T23:59:59.999Z", f"{days[3]}T23:59:59.999Z"]
    last = dt.datetime.fromisoformat(states[2].replace("Z", "+00:00"))
    assert before <= last <= dt.datetime.now(dt.timezone.utc)
    assert len(record_data(output)) == 50


def test_given_state_when_incremental_read_then_what_arrived_since_the_cursor_then_the_days_owed_a_safety_sweep():
    days = days_back(10)
    with FakeMixpanel(events_per_day=10, days=days) as server:
        cursor = f"{days[6]}T23:59:59.999Z"
        output = run_read(config(server.url, start_date=str(days[0]), lookback_window_days=2), state_value={"timestamp": cursor})
        arrival, sweep = server.requests
        bound = int(dt.datetime.combine(days[6], dt.time(23, 54, 59, 999000), dt.timezone.utc).timestamp() * 1000)
        where = f'number(properties["mp_processing_time_ms"]) >= {bound}'
        new = server.expected_events(days[4], days[-1], where=where)
    # an old-format state: days[4..6] count as read whole at the cursor, so what arrived since it (minus the overlap), of those days on
    assert (arrival.params["from_date"], arrival.params["to_date"], arrival.params["where"]) == (str(days[4]), str(days[-1]), where)
    # each owed its sweep the day after its lookback: a safety sweep for events without an arrival time
    assert (sweep.params["from_date"], sweep.params["to_date"], sweep.params["where"]) == (str(days[4]), str(days[6]), 'not defined(properties["mp_processing_time_ms"])')
    assert ids(record_data(output)) == expected_ids(new)
    assert cursors(output)[-1] > cursor


def test_given_end_date_in_the_future_when_read_then_to_date_is_capped_at_today():
    today = days_back(1)[0]
    with FakeMixpanel(events_per_day=3, days=[today]) as server:
        output = run_read(config(server.url, start_date=str(today), end_date=str(today + dt.timedelta(days=30))))
        [request] = server.requests
    assert request.params["to_date"] == str(today)
    assert not output.errors


def test_given_legacy_project_when_read_then_local_times_become_utc_and_days_are_local():
    zone = "America/Los_Angeles"
    local_now = dt.datetime.now(dt.timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo(zone))
    day = local_now.date() - dt.timedelta(days=1)
    events = list(generate_events(day, 20))
    with FakeMixpanel(events=events, project_timezone=zone) as server:
        output = run_read(config(server.url, start_date=str(day), end_date=str(day), project_timezone="Pacific Standard Time", legacy_local_time=True))
    records = by_insert_id(record_data(output))
    assert len(records) == 20
    for event in events:
        local = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=event["properties"]["time"])
        true_instant = local.replace(tzinfo=__import__("zoneinfo").ZoneInfo(zone)).astimezone(dt.timezone.utc)
        assert records[event["properties"]["$insert_id"]]["time"] == int(true_instant.timestamp())


def test_given_several_windows_when_read_then_an_estimate_follows_each_window():
    days = days_back(4)
    with FakeMixpanel(events_per_day=10, days=days) as server:
        output = run_read(config(server.url, start_date=str(days[0]), date_window_days=2))
    estimates = [m.trace.estimate for m in output.trace_messages if m.trace.estimate is not None]
    assert [e.row_estimate for e in estimates] == [40, 40]
    assert all(e.name == "events" for e in estimates)


def test_given_the_same_events_when_read_by_two_processes_then_the_record_lines_are_byte_identical_but_for_emitted_at(tmp_path):
    """Column order must not follow Python's per-process string hashing: outputs of two runs diff cleanly."""
    import re

    from integration_tests.builders import catalog_json, run_process, write_files

    day = days_back(1)[0]
    with FakeMixpanel(events_per_day=50, days=[day]) as server:
        paths = write_files(tmp_path, config=config(server.url, start_date=str(day)), catalog=catalog_json())
        runs = [run_process(["read", "--config", paths["config"], "--catalog", paths["catalog"]], env={"PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    assert [done.returncode for done in runs] == [0, 0]
    records = [[re.sub(r'"emitted_at":\d+', '"emitted_at":0', line) for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"')] for done in runs]
    assert len(records[0]) == 50 and records[0] == records[1]
