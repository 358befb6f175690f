"""Never lose an event: every fault Mixpanel is known for, over real HTTP against the fake server.

Each test asserts the exact sequence (or multiset) of delivered `_id`s, not just "no crash". The
promise: every event of the requested range is delivered at least once, or the run fails with a
clear error and the STATE emitted so far lets the next run resume without a gap.

Waits are recorded, not slept (`FakeSleeps`): the CDK's HTTP backoff, the stream's pause before
re-reading a window, and the pacing budget all run on a fake clock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, FailureType

from integration_tests.builders import (
    REPO,
    catalog_json,
    config,
    connector_command,
    cursors,
    days_back,
    event_ids,
    infos,
    ordered_ids,
    protocol_lines,
    run_process,
    run_read,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.streams.export import WINDOW_ATTEMPTS
from source_mixpanel_aep.streams.settings import MAX_RETRIES


def two_days(**server_options):
    days = days_back(2)
    return days, FakeMixpanel(events_per_day=10, days=days, **server_options)


def assert_window_read_again(got, expected):
    """The first read broke off after k records, the second delivered all: `expected[:k] + expected`."""
    k = len(got) - len(expected)
    assert 0 <= k <= len(expected), (len(got), len(expected))
    assert got == expected[:k] + expected
    return k


def statuses(output):
    return output.get_stream_statuses("events")


# --- HTTP errors: retried through the CDK HttpClient ------------------------------------------


def test_given_429_with_retry_after_when_read_then_waits_that_long_and_delivers_every_event(sleeps):
    days, server = two_days()
    with server as fake:
        fake.add_fault("status", status=429, headers={"Retry-After": "7"}, times=2)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        assert [r.status for r in fake.requests] == [429, 429, 200]
    assert ordered_ids(output) == expected
    assert sleeps.http == [8.0, 8.0]  # Retry-After, plus the CDK's extra second
    assert not output.errors and sleeps.window == []
    assert [line for line in infos(output) if line.startswith("Retry ")][0].startswith("Retry 1 of 6: Mixpanel answered HTTP 429")
    assert "Retry-After 7 s; trying again in 8 s." in [line for line in infos(output) if line.startswith("Retry ")][0]


def test_given_429_without_retry_after_when_read_then_backs_off_exponentially_and_delivers_every_event(sleeps):
    days, server = two_days()
    with server as fake:
        fake.add_fault("status", status=429, times=3)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
    assert ordered_ids(output) == expected
    assert sleeps.http == [6.0, 11.0, 21.0]  # 5, 10, 20 s, plus the CDK's extra second
    assert not output.errors


@pytest.mark.parametrize("status", [500, 502, 503, 408, 425])  # 408 request timeout, 425 too early: retried too
def test_given_5xx_a_few_times_when_read_then_retried_and_every_event_delivered_once(sleeps, status):
    days, server = two_days()
    with server as fake:
        fake.add_fault("status", status=status, body="<html>upstream trouble</html>", content_type="text/html", times=3)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        assert [r.status for r in fake.requests] == [status] * 3 + [200]
    assert ordered_ids(output) == expected
    assert sleeps.http == [6.0, 11.0, 21.0]
    assert not output.errors and len(cursors(output)) == 1
    retries = [line for line in infos(output) if line.startswith("Retry ")]
    assert retries == [f"Retry {n} of 6: Mixpanel answered HTTP {status} (<html>upstream trouble</html>); trying again in {wait} s." for n, wait in ((1, 6), (2, 11), (3, 21))]
    assert not [line for line in infos(output) + warnings(output) if "Rate limit exceeded" in line]  # the CDK's line said "rate limit" for a 5xx


@pytest.mark.parametrize("status", [503, 429])
def test_given_a_server_that_never_recovers_when_read_then_transient_trace_names_the_window_and_state_resumes_without_gaps(sleeps, status):
    days = days_back(6)
    with FakeMixpanel(events_per_day=8, days=days) as fake:
        fake.add_fault("none")  # the first window is served
        fake.add_fault("status", status=status, times=1 + MAX_RETRIES)  # every attempt at the second window
        cfg = config(fake.url, start_date=str(days[0]), date_window_days=2, lookback_window_days=0)
        first = run_read(cfg)  # Mixpanel is back for the next run
        second = run_read(cfg, state_value={"timestamp": cursors(first)[-1]})
        everything = event_ids(fake.expected_events(days[0], days[-1]))
        window_one = event_ids(fake.expected_events(days[0], days[1]))
        resumed_from = fake.requests[8].params["from_date"]

    [error, *_] = first.errors
    assert error.trace.error.failure_type == FailureType.transient_error
    message = error.trace.error.message
    assert f"{days[2]}..{days[3]}" in message and f"HTTP {status}" in message and "resume" in message
    assert "Traceback" not in message
    assert AirbyteStreamStatus.INCOMPLETE in statuses(first)
    assert sleeps.http == [6.0, 11.0, 21.0, 41.0, 61.0, 61.0]  # MAX_RETRIES=6: 7 requests, then give up
    # The state names the end of the only complete window; resuming from it leaves no gap.
    assert ordered_ids(first) == window_one and cursors(first) == [f"{days[1]}T23:59:59.999Z"]
    assert resumed_from == str(days[1])  # the cursor's day (lookback 0)
    assert set(ordered_ids(first)) | set(ordered_ids(second)) == set(everything)
    assert not second.errors


def test_given_a_server_that_never_recovers_when_run_as_a_command_then_exit_code_is_not_zero_after_a_clear_trace(tmp_path):
    days = days_back(2)
    with FakeMixpanel(events_per_day=4, days=days) as fake:
        fake.add_fault("status", status=502, times=1000)
        files = write_files(tmp_path, config=config(fake.url, start_date=str(days[0])), catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]], fast_sleep=True)
    messages = protocol_lines(done.stdout)
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert done.returncode != 0
    assert errors and errors[0]["failure_type"] == "transient_error"
    assert "502" in errors[0]["message"] and f"{days[0]}..{days[1]}" in errors[0]["message"]
    assert not [m for m in messages if m["type"] == "RECORD"]
    # The sync's last word is the outage, as an outage: never the CDK's generic config_error summary.
    assert all(error["failure_type"] != "config_error" for error in errors)
    assert errors[-1]["failure_type"] == "transient_error" and "502" in errors[-1]["message"]
    assert "did not sync successfully" not in errors[-1]["message"]


def test_given_a_host_that_never_answered_when_read_as_a_command_then_it_fails_at_once_naming_the_host_and_settings(tmp_path):
    import socket
    import time

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    files = write_files(tmp_path, config=config(f"http://127.0.0.1:{port}", start_date=str(days_back(2)[0])), catalog=catalog_json())
    started = time.monotonic()
    done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]], timeout=120)
    seconds = time.monotonic() - started
    messages = protocol_lines(done.stdout)
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    assert done.returncode == 1 and errors[-1]["failure_type"] == "transient_error"
    assert "Could not connect to 127.0.0.1 (connection refused)" in errors[-1]["message"] and "base_url" in errors[-1]["message"]
    assert not [line for line in logs if line.startswith("Retry ")]  # not minutes of backoff against a host that never answered
    assert seconds < 30  # it was 3 min 22 s


# --- Broken bodies: the whole window is read again ------------------------------------------


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("gzip_enabled", [True, False], ids=["gzip", "plain"])
def test_given_connection_reset_halfway_through_the_body_when_read_then_window_read_again_as_it_was(sleeps, rst, gzip_enabled):
    days, server = two_days(gzip_enabled=gzip_enabled)
    with server as fake:
        fake.add_fault("reset", after_bytes=4000, rst=rst)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        asked = [(r.params["from_date"], r.params["to_date"]) for r in fake.requests]
    assert asked == [(str(days[0]), str(days[1]))] * 2  # one break is taken as chance: the same window again
    assert assert_window_read_again(ordered_ids(output), expected) < len(expected)
    assert sleeps.window == [1.0] and not output.errors


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
def test_given_the_same_window_reset_twice_in_a_row_when_read_then_it_is_read_in_halves_each_checkpointed(sleeps, rst):
    days, server = two_days()
    with server as fake:
        fake.add_fault("reset", after_bytes=4000, rst=rst, times=2)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        asked = [(r.params["from_date"], r.params["to_date"]) for r in fake.requests]
    assert asked == [(str(days[0]), str(days[1]))] * 2 + [(str(days[0]), str(days[0])), (str(days[1]), str(days[1]))]  # split by days
    assert set(ordered_ids(output)) == set(expected) and ordered_ids(output)[-len(expected):] == expected
    assert sleeps.window == [1.0, 1.0] and not output.errors
    assert cursors(output) == [f"{days[0]}T23:59:59.999Z", cursors(output)[-1]]  # each half checkpointed when complete


def test_given_a_stalled_body_when_read_timeout_then_window_read_again(sleeps):
    days, server = two_days()
    with server as fake:
        fake.add_fault("stall", after_bytes=3000, seconds=30)
        started = time.monotonic()
        output = run_read(config(fake.url, start_date=str(days[0]), request_timeout_seconds=1))
        elapsed = time.monotonic() - started
        expected = event_ids(fake.expected_events(days[0], days[1]))
    assert assert_window_read_again(ordered_ids(output), expected) < len(expected)
    assert sleeps.window == [1.0] and not output.errors
    assert elapsed < 10  # the 1 s read timeout fired; the 30 s stall was not waited out


@pytest.mark.parametrize("charset", [True, False], ids=["charset", "no-charset"])
def test_given_a_trailing_terminated_early_line_when_read_then_window_read_again(sleeps, charset):
    days, server = two_days()
    with server as fake:
        fake.add_fault("terminated_early", after_events=7, no_charset=not charset)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
    assert assert_window_read_again(ordered_ids(output), expected) == 7
    assert output.is_in_logs("terminated early")


@pytest.mark.parametrize(
    "kind, options",
    [
        ("split_line", {"event_index": 4}),
        ("blank_lines", {}),
        ("crlf", {}),
        ("crlf", {"blank_lines": True}),
        ("no_charset", {}),
    ],
    ids=["split-record", "blank-lines", "crlf", "crlf-and-blank-lines", "no-charset"],
)
def test_given_a_tolerable_line_shape_when_read_then_every_event_exactly_once_in_one_request(sleeps, kind, options):
    days, server = two_days()
    with server as fake:
        fake.add_fault(kind, **options)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        assert len(fake.requests) == 1
    assert ordered_ids(output) == expected
    assert not output.errors and sleeps.window == []
    if kind == "split_line":
        assert output.is_in_logs("line 5: record split across 2 lines rejoined")


def test_given_one_malformed_line_when_read_then_window_read_again_and_every_event_delivered(sleeps):
    days, server = two_days()
    with server as fake:
        fake.add_fault("malformed", event_index=2)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
    # The broken line replaced event #3 in the first read only.
    assert ordered_ids(output) == expected[:2] + expected
    assert output.is_in_logs("line 3 is not valid JSON")


def test_given_a_malformed_line_on_every_read_when_read_then_fails_naming_line_and_window_and_checkpoints_nothing(sleeps):
    days, server = two_days()
    with server as fake:
        fake.add_fault("malformed", event_index=2, times=WINDOW_ATTEMPTS)
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
        assert len(fake.requests) == WINDOW_ATTEMPTS
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.transient_error
    assert f"Window {days[0]}..{days[1]}" in error.message and "line 3" in error.message
    assert f"after {WINDOW_ATTEMPTS} attempts" in error.message
    assert ordered_ids(output) == expected[:2] * WINDOW_ATTEMPTS  # never skipped, never checkpointed
    assert cursors(output) == []
    assert sleeps.window == [5.0, 10.0, 20.0]


@pytest.mark.parametrize("after_bytes", [None, 3000], ids=["trailer-missing", "cut-mid-body"])
def test_given_a_truncated_gzip_body_when_read_then_window_read_again(sleeps, after_bytes):
    days, server = two_days()
    with server as fake:
        fake.add_fault("truncated_gzip", **({"after_bytes": after_bytes} if after_bytes else {}))
        output = run_read(config(fake.url, start_date=str(days[0])))
        expected = event_ids(fake.expected_events(days[0], days[1]))
    k = assert_window_read_again(ordered_ids(output), expected)
    assert k == (len(expected) if after_bytes is None else k) and (after_bytes is None or k < len(expected))
    assert output.is_in_logs("truncated")


# --- Crash and resume -----------------------------------------------------------------------


def _read_lines_into(stream, lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_given_a_connector_killed_right_after_its_first_state_when_resumed_with_that_state_then_no_event_is_missing(tmp_path):
    days = days_back(4)
    with FakeMixpanel(events_per_day=20, days=days) as fake:
        fake.add_fault("none")  # window 1 is served; window 2 then hangs mid-body until the kill
        fake.add_fault("stall", after_bytes=3000, seconds=60)
        cfg = config(fake.url, start_date=str(days[0]), date_window_days=1, lookback_window_days=0)
        files = write_files(tmp_path, config=cfg, catalog=catalog_json())
        process = subprocess.Popen(
            connector_command("read", "--config", files["config"], "--catalog", files["catalog"]),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"},  # stdout is a plain pipe
        )
        lines: "queue.Queue[str | None]" = queue.Queue()
        threading.Thread(target=_read_lines_into, args=(process.stdout, lines), daemon=True).start()
        first_run, first_state = [], None
        deadline = time.monotonic() + 30
        try:
            while first_state is None:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, "the connector ended before its first STATE"
                message = json.loads(line) if line.startswith("{") else {}
                if message.get("type") == "RECORD":
                    first_run.append(message["record"]["data"]["_id"])
                elif message.get("type") == "STATE":
                    first_state = message["state"]
                    process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(10)
        while (line := lines.get(timeout=10)) is not None:  # whatever was already written
            if line.startswith('{"type":"RECORD"'):
                first_run.append(json.loads(line)["record"]["data"]["_id"])
        assert process.returncode == -signal.SIGKILL
        fake.clear_faults()  # the stall, if the kill came before the second request

        state_file = write_files(tmp_path, state=[first_state])["state"]
        second = run_process(["read", "--config", files["config"], "--catalog", files["catalog"], "--state", state_file])
        everything = event_ids(fake.expected_events(days[0], days[-1]))
        resumed = next(r.params for r in fake.requests[1:] if r.fault is None)
        since_overlap = event_ids(fake.expected_events(days[0], days[-1], where=resumed["where"]))

    second_run = [m["record"]["data"]["_id"] for m in protocol_lines(second.stdout) if m["type"] == "RECORD"]
    assert first_state["stream"]["stream_state"]["timestamp"] == f"{days[0]}T23:59:59.999Z"
    assert set(first_run) < set(everything)  # the kill came mid-sync
    assert second.returncode == 0 and resumed["from_date"] == str(days[0])
    bound_ms = int(dt.datetime.combine(days[0], dt.time(23, 54, 59, 999000), dt.timezone.utc).timestamp() * 1000)
    assert resumed["where"] == f'number(properties["mp_processing_time_ms"]) >= {bound_ms}'  # what arrived since the cursor minus the overlap
    assert set(first_run) | set(second_run) == set(everything)
    assert Counter(second_run) == Counter(since_overlap)  # the resumed run alone reads what arrived since the cursor minus the overlap
