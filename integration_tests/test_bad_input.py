"""Bad input through the Airbyte protocol: wrong configs, hostile export lines, corrupt or foreign state.

- A bad config is a config_error TRACE (read, discover) or CONNECTION_STATUS FAILED (check) whose
  message names the field, with no traceback and no request sent.
- A hostile line never crashes the sync: it is delivered (repaired where needed, with a WARN
  saying how), or, when it cannot become a record, skipped with a WARN naming it and counted.
- A --state file that is not understood is a config_error; a legacy or foreign form is read with a
  log line saying how; a cursor in the future reads nothing and keeps the state.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from airbyte_cdk.models import FailureType, Level, Status

from integration_tests.builders import (
    by_insert_id,
    catalog_json,
    config,
    cursors,
    days_back,
    error_messages,
    event_ids,
    ordered_ids,
    record_data,
    run_check,
    run_discover,
    run_process,
    run_read,
    utc_today,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.records.jsonl import MAX_DEPTH

DROP = object()
TODAY = utc_today()



def infos(output):
    return [message.log.message for message in output.logs if message.log.level == Level.INFO]


# --- Bad configs ------------------------------------------------------------------------------


def bad(url, field, *, auth="service_account", secrets=None, **overrides):
    """`secrets` changes keys inside credentials; `overrides` top-level fields (DROP removes one)."""
    cfg = config(url, auth=auth, start_date=str(TODAY - dt.timedelta(days=3)))
    if secrets is not None:
        cfg["credentials"] = {key: value for key, value in {**cfg["credentials"], **secrets}.items() if value is not DROP}
    for key, value in overrides.items():
        if value is DROP:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return field, cfg


def bad_configs(url):
    future = str(TODAY + dt.timedelta(days=3))
    return [
        bad(url, "credentials", credentials=DROP),
        bad(url, "credentials", credentials="just-a-string"),
        bad(url, "credentials.auth_type", secrets={"auth_type": "password"}),
        bad(url, "credentials.username", secrets={"username": DROP}),
        bad(url, "credentials.secret", secrets={"secret": ""}),
        bad(url, "credentials.api_secret", auth="project_secret", secrets={"api_secret": DROP}),
        bad(url, "credentials.access_token", auth="oauth_token", secrets={"access_token": "  "}),
        bad(url, "project_id", project_id=DROP),  # service account without project_id
        bad(url, "project_id", project_id="forty-two"),
        bad(url, "project_id", project_id=-4242),
        bad(url, "region", region="APAC"),
        bad(url, "project_timezone", project_timezone="Mars/Olympus_Mons"),
        bad(url, "project_timezone", project_timezone="Pacific Standard Tme"),
        bad(url, "legacy_local_time", legacy_local_time="yes"),
        bad(url, "start_date", start_date=future),
        bad(url, "start_date", start_date="2024-13-45"),
        bad(url, "start_date", start_date="yesterday"),
        bad(url, "start_date", start_date=20240101),
        bad(url, "end_date", start_date="2024-03-01", end_date="2024-02-29"),
        bad(url, "end_date", end_date="31/12/2024"),
        bad(url, "date_window_days", date_window_days=0),
        bad(url, "date_window_days", date_window_days=-30),
        bad(url, "date_window_days", date_window_days="a week"),
        bad(url, "lookback_window_days", lookback_window_days=-1),
        bad(url, "request_timeout_seconds", request_timeout_seconds=0),
        bad(url, "base_url", base_url="http://data.mixpanel.com"),  # plain http to a non-loopback host
        bad(url, "base_url", base_url="ftp://127.0.0.1/export"),
        bad(url, "base_url", base_url="data.mixpanel.com"),
        bad(url, "events", events="Sign up"),
        bad(url, "where", where=42),
        bad(url, "start_date", start_date="2024-01-01T00:00:00+99:00"),
        bad(url, "end_date", end_date="9999-12-31T23:00:00-05:00"),
        bad(url, "request_timeout_seconds", request_timeout_seconds="300"),
    ]


BAD_IDS = [
    "no-credentials", "credentials-a-string", "unknown-auth-type", "no-username", "empty-secret", "no-api-secret",
    "blank-access-token", "service-account-without-project-id", "project-id-text", "project-id-negative",
    "unknown-region", "unknown-timezone", "misspelt-windows-timezone", "legacy-not-boolean", "start-in-the-future",
    "start-month-13", "start-a-word", "start-a-number", "end-before-start", "end-in-another-format", "zero-window",
    "negative-window", "window-in-words", "negative-lookback", "zero-timeout", "http-to-remote-host",
    "ftp-scheme", "no-scheme", "events-not-a-list", "where-not-text", "start-offset-99-hours", "end-year-9999-past-utc",
    "timeout-as-text",
]
assert len(BAD_IDS) == len(bad_configs("http://127.0.0.1:1"))


@pytest.mark.parametrize("case", range(len(BAD_IDS)), ids=BAD_IDS)
def test_given_a_bad_config_when_read_check_or_discover_then_the_message_names_the_field_and_no_request_is_sent(fake, case):
    field, cfg = bad_configs(fake.url)[case]
    read_output, discover_output, check_output = run_read(cfg), run_discover(cfg), run_check(cfg)

    for output in (read_output, discover_output):
        [error] = output.errors
        assert error.trace.error.failure_type == FailureType.config_error
        assert f"'{field}'" in error.trace.error.message, error.trace.error.message
        assert "Traceback" not in error.trace.error.message
        assert not output.records and not output.state_messages
    [status] = check_output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert f"'{field}'" in status.connectionStatus.message and "Traceback" not in status.connectionStatus.message
    assert fake.requests == []


# --- Hostile data -----------------------------------------------------------------------------


def props(day: dt.date, insert_id: str, **extra) -> str:
    time_ms = int(dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.timezone.utc).timestamp() * 1000)
    return json.dumps({"time": time_ms, "distinct_id": "hostile@example.com", "$insert_id": insert_id, **extra})[:-1]


def nested(depth: int) -> str:
    """A property value that makes the event `depth` levels deep in all (event and properties objects included)."""
    return "[" * (depth - 2) + "1" + "]" * (depth - 2)


# name -> (raw line for `day`, delivered?, what the WARN says or None, check on the delivered record)
HOSTILE = {
    "10-mb-line": (
        lambda d: '{"event":"big","properties":' + props(d, "h-big") + ',"blob":"' + "x" * 10_000_000 + '"}}',
        True, None, lambda record: len(record["properties"]["blob"]) == 10_000_000,
    ),
    "nested-300-levels": (
        lambda d: '{"event":"deep","properties":' + props(d, "h-deep-300") + ',"n":' + nested(300) + "}}",
        True, None, lambda record: json.dumps(record["properties"]["n"]) == nested(300).replace(",", ", "),
    ),
    f"nested-{MAX_DEPTH + 100}-levels": (
        lambda d: '{"event":"deep","properties":' + props(d, "h-deep-600") + ',"n":' + nested(MAX_DEPTH + 100) + "}}",
        False, f"more than {MAX_DEPTH} levels", None,
    ),
    "nested-20000-levels": (
        lambda d: '{"event":"deep","properties":' + props(d, "h-deep-20000") + ',"n":' + nested(20_000) + "}}",
        False, f"more than {MAX_DEPTH} levels", None,
    ),
    "non-utf-8-bytes": (
        lambda d: b'{"event":"bytes","properties":' + props(d, "h-bytes").encode() + b',"city":"M\xfcnchen \xff"}}',
        True, "invalid UTF-8 bytes replaced by U+FFFD", lambda record: record["properties"]["city"] == "M\ufffdnchen \ufffd",
    ),
    "nan-and-infinity": (
        lambda d: '{"event":"nan","properties":' + props(d, "h-nan") + ',"score":NaN,"ratio":-Infinity}}',
        True, "NaN replaced by null", lambda record: record["properties"]["score"] is None and record["properties"]["ratio"] is None,
    ),
    "integers-beyond-2-63": (
        lambda d: '{"event":"big ints","properties":' + props(d, "h-ints") + ',"n":123456789012345678901234567890,"m":-18446744073709551617}}',
        # exact digits: see the command test below (the in-process harness parses messages into floats)
        True, None, lambda record: {"n", "m"} <= set(record["properties"]),
    ),
    "integer-just-below-i64-min": (  # 19 digits only, and still beyond what orjson keeps as an integer
        lambda d: '{"event":"big ints","properties":' + props(d, "h-i64") + ',"k":-9223372036854775809}}',
        True, None, lambda record: "k" in record["properties"],
    ),
    "duplicate-keys": (
        lambda d: '{"event":"dup","properties":' + props(d, "h-dup") + ',"plan":"free","plan":"pro"}}',
        True, None, lambda record: record["properties"]["plan"] == "pro",  # the last one wins, as in every JSON parser
    ),
    "no-properties": (lambda d: '{"event":"bare"}', False, "the event has no 'properties' object", None),
    "properties-not-an-object": (lambda d: '{"event":"odd","properties":[1,2]}', False, "the event has no 'properties' object", None),
    "no-time": (
        lambda d: '{"event":"timeless","properties":{"distinct_id":"u","$insert_id":"h-timeless"}}',
        False, "properties.time is missing", None,
    ),
    "time-not-a-number": (
        lambda d: '{"event":"when","properties":{"time":"yesterday","$insert_id":"h-when"}}',
        False, "properties.time is a str, not a number", None,
    ),
    "time-beyond-year-9999": (
        lambda d: '{"event":"far","properties":{"time":100000000000000000000,"$insert_id":"h-far"}}',
        False, "outside the years 1-9999", None,
    ),
    "no-event-name": (lambda d: '{"properties":' + props(d, "h-nameless") + "}}", False, "the event has no name", None),
    "a-json-array": (lambda d: "[1, 2, 3]", False, "the line is a JSON list, not an object", None),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_given_a_hostile_line_when_read_then_it_is_delivered_or_the_sync_fails_loudly_after_delivering_the_rest(sleeps, name):
    make_line, delivered, warning, check = HOSTILE[name]
    day = days_back(1)[0]
    with FakeMixpanel(events_per_day=3, days=[day]) as fake:
        fake.add_raw_line(day, make_line(day))
        output = run_read(config(fake.url, start_date=str(day)))
        normal = event_ids(fake.expected_events(day, day))
        assert len(fake.requests) == 1  # never a reason to read the window again

    assert len(cursors(output)) == 1  # the window's state is saved either way
    records = by_insert_id(record_data(output))
    hostile = [record.get("insert_id") for record in record_data(output) if record["_id"] not in normal]
    assert ordered_ids(output)[:3] == normal
    if delivered:
        assert not output.errors and output.exit_code == 0
        [insert_id] = hostile
        assert insert_id.startswith("h-") and check(records[insert_id])
    else:
        assert hostile == [] and output.exit_code == 1
        assert any("line 4" in w or "event #4" in w for w in warnings(output)), warnings(output)
        last = output.errors[-1].trace.error
        assert last.failure_type == FailureType.system_error
        assert "1 exported event(s) could not become records" in last.message and f"Window {day}..{day}" in last.message
        assert "line 4" in last.message or "event #4" in last.message
    if warning:
        assert any(warning in w for w in warnings(output)), warnings(output)


def test_given_many_unmappable_lines_when_read_then_each_window_reports_its_count_and_the_rest_is_delivered(sleeps):
    days = days_back(2)
    with FakeMixpanel(events_per_day=4, days=days) as fake:
        for day, count in ((days[0], 25), (days[1], 2)):
            for _ in range(count):
                fake.add_raw_line(day, '{"event":"bare"}')
        output = run_read(config(fake.url, start_date=str(days[0]), date_window_days=1))
        expected = event_ids(fake.expected_events(days[0], days[1]))
    assert ordered_ids(output) == expected and len(cursors(output)) == 2  # every window delivered and checkpointed
    first, second = (next(w for w in warnings(output) if w.startswith(f"Window {day}..{day}: ")) for day in days)
    assert first.startswith(f"Window {days[0]}..{days[0]}: 25 event(s) could not become records")
    assert first.count("event #") == 20 and first.endswith("and 5 more")  # at most 20 positions named per window
    assert second.startswith(f"Window {days[1]}..{days[1]}: 2 event(s) could not become records")
    stream_error, final_error = output.errors  # the stream's (from the CDK), then the sync's last word (ours)
    assert {stream_error.trace.error.failure_type, final_error.trace.error.failure_type} == {FailureType.system_error} and output.exit_code == 1
    assert stream_error.trace.error.message.startswith("27 exported event(s) could not become records")
    assert final_error.trace.error.message.startswith("The sync failed (events): 27 exported event(s) could not become records")


# --- Corrupt, foreign and legacy state --------------------------------------------------------


def stream_message(stream_state, name="events"):
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": stream_state}}


BAD_STATES = {
    "not-json": ("{{{ this is not json", "is not valid JSON"),
    "a-json-string": ('"2024-05-01"', "holds a JSON str"),
    "a-json-number": ("42", "holds a JSON int"),
    "a-list-of-strings": (["events"], "entry (#1) that is not an Airbyte state message"),
    "a-bare-stream-state": ({"timestamp": "2024-05-01T00:00:00.000Z"}, "its value for 'timestamp' is not an object"),
    "stream-state-not-an-object": ([stream_message("2024-05-01")], "entry (#1) that is not an Airbyte state message"),
    "unknown-cursor-key": ([stream_message({"cursor": "2024-05-01"})], "none of the keys 'timestamp', 'time', 'date'"),
    "cursor-not-a-date": ([stream_message({"timestamp": "last tuesday"})], "does not start with a YYYY-MM-DD date"),
    "cursor-impossible-date": ([stream_message({"timestamp": "2024-02-30T00:00:00Z"})], "is not a date or timestamp"),
}


@pytest.mark.parametrize("name", list(BAD_STATES))
def test_given_a_state_that_is_not_understood_when_read_then_config_error_and_nothing_is_read(fake, name):
    raw_state, words = BAD_STATES[name]
    output = run_read(config(fake.url, start_date=str(TODAY - dt.timedelta(days=3))), raw_state=raw_state)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert words in error.message and "reset the stream" in error.message and "Traceback" not in error.message
    assert fake.requests == [] and not output.records


CURSOR = TODAY - dt.timedelta(days=3)
NOON = dt.datetime.combine(CURSOR, dt.time(12), dt.timezone.utc)
FOREIGN_STATES = {
    # name: (--state content, the cursor it stands for (None: none, read from start_date), words of the log line saying how it was read)
    "ours": ([stream_message({"timestamp": f"{CURSOR}T23:59:59.999Z"})], dt.datetime.combine(CURSOR, dt.time(23, 59, 59, 999000), dt.timezone.utc), "Resuming from cursor"),
    "legacy-date-key": ([stream_message({"date": str(CURSOR)})], dt.datetime.combine(CURSOR, dt.time(0), dt.timezone.utc), "Resuming from cursor"),
    "legacy-unix-seconds": ([stream_message({"time": int(NOON.timestamp())})], NOON, "Resuming from cursor"),
    "legacy-unix-milliseconds": ([stream_message({"time": int(NOON.timestamp()) * 1000})], NOON, "Resuming from cursor"),
    "legacy-file-form": ({"events": {"timestamp": f"{CURSOR}T12:00:00Z"}}, NOON, "legacy {stream name: state} form"),
    "legacy-message": ([{"type": "LEGACY", "data": {"events": {"date": str(CURSOR)}}}], dt.datetime.combine(CURSOR, dt.time(0), dt.timezone.utc), "is a LEGACY state"),
    "global-message": (
        [{"type": "GLOBAL", "global": {"stream_states": [{"stream_descriptor": {"name": "events"}, "stream_state": {"date": str(CURSOR)}}]}}],
        dt.datetime.combine(CURSOR, dt.time(0), dt.timezone.utc), "is a GLOBAL state",
    ),
    "another-streams-state": ([stream_message({"date": str(CURSOR)}, name="export")], None, "has no state for stream 'events' (it has: export)"),
    "empty-list": ([], None, "No saved state for stream 'events'"),
}


@pytest.mark.parametrize("name", list(FOREIGN_STATES))
def test_given_a_legacy_or_foreign_state_when_read_then_it_resumes_or_starts_over_saying_so_in_the_log(sleeps, name):
    raw_state, cursor, words = FOREIGN_STATES[name]
    days = days_back(7)
    with FakeMixpanel(events_per_day=3, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[1]), lookback_window_days=1), raw_state=raw_state)
        fresh = fake.requests[0].params
        asked = set().union(*(event_ids(fake.expected_events(dt.date.fromisoformat(r.params["from_date"]), dt.date.fromisoformat(r.params["to_date"]),
                                                             where=r.params.get("where"))) for r in fake.requests))
        arrived_since = None if cursor is None else f'number(properties["mp_processing_time_ms"]) >= {int((cursor - dt.timedelta(minutes=5)).timestamp() * 1000)}'
        since_cursor = event_ids(fake.expected_events(days[1], days[-1], where=arrived_since))
    if cursor is None:  # started over: everything from start_date, no filter
        assert (fresh["from_date"], "where" in fresh) == (str(days[1]), False)
    else:  # resumed: what reached Mixpanel since the cursor (minus the 5-minute arrival overlap), of the days from the lookback (1) before it
        since = cursor - dt.timedelta(minutes=5)
        first = max(days[1], since.date() - dt.timedelta(days=1))
        assert (fresh["from_date"], fresh["where"]) == (str(first), f'number(properties["mp_processing_time_ms"]) >= {int(since.timestamp() * 1000)}')
    assert set(ordered_ids(output)) == asked and set(since_cursor) <= asked and not output.errors
    assert any(words in line for line in infos(output) + warnings(output)), infos(output) + warnings(output)


def test_given_a_cursor_in_the_future_when_read_then_a_warning_no_request_and_the_state_is_kept(fake):
    future = "2099-12-31T23:59:59.999Z"
    output = run_read(config(fake.url, start_date=str(TODAY - dt.timedelta(days=3))), state_value={"timestamp": future})
    assert fake.requests == [] and not output.records and not output.errors
    assert any("is in the future" in w and future in w for w in warnings(output))
    assert cursors(output) == [future]
    assert error_messages(output) == []


def test_given_every_hostile_line_when_read_as_a_command_then_stdout_is_strict_json_with_exact_big_integers(tmp_path):
    day = days_back(1)[0]
    with FakeMixpanel(events_per_day=3, days=[day]) as fake:
        for make_line, *_ in HOSTILE.values():
            fake.add_raw_line(day, make_line(day))
        files = write_files(tmp_path, config=config(fake.url, start_date=str(day)), catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]])
        normal = event_ids(fake.expected_events(day, day))

    def no_constants(name):
        raise AssertionError(f"{name} in the connector's output is not JSON")

    messages = [json.loads(line, parse_constant=no_constants) for line in done.stdout.splitlines()]
    records = {m["record"]["data"].get("insert_id"): m["record"]["data"] for m in messages if m["type"] == "RECORD"}
    delivered = sorted(insert_id for insert_id, record in records.items() if record["_id"] not in normal)
    assert done.returncode == 1  # the unusable lines are reported as a failure, after everything else
    assert delivered == sorted(["h-big", "h-deep-300", "h-bytes", "h-nan", "h-ints", "h-i64", "h-dup"])
    assert records["h-ints"]["properties"]["n"] == 123456789012345678901234567890
    assert records["h-ints"]["properties"]["m"] == -18446744073709551617
    assert records["h-i64"]["properties"]["k"] == -9223372036854775809
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert any(log.startswith(f"Window {day}..{day}: 9 event(s) could not become records") for log in logs)
    assert [m["trace"]["error"]["failure_type"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"][-1] == "system_error"
