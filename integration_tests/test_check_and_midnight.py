"""`check` answers within 30 seconds whatever the server does, and says what it saw; the newest day
refused at midnight is "not yet", not a config error (issue 9, items 3 and 5). Through the command."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from integration_tests.builders import (
    catalog_json,
    config,
    cursors,
    days_back,
    error_messages,
    event_ids,
    ordered_ids,
    protocol_lines,
    run_process,
    run_read,
    utc_today,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.streams.settings import CHECK_BUDGET_SECONDS  # the product's budget, not a copy that could drift from it


def check_as_a_command(tmp_path, cfg):
    files = write_files(tmp_path, config=cfg)
    started = time.monotonic()
    done = run_process(["check", "--config", files["config"]], timeout=CHECK_BUDGET_SECONDS + 15)
    seconds = time.monotonic() - started
    [status] = [m["connectionStatus"] for m in protocol_lines(done.stdout) if m["type"] == "CONNECTION_STATUS"]
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout[-2000:]
    return status, seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_given_a_429_with_a_one_hour_retry_after_when_check_then_it_answers_at_once_with_when_to_try_again(tmp_path):
    with FakeMixpanel(events_per_day=1, days=days_back(1)) as fake:
        fake.add_fault("status", status=429, headers={"Retry-After": "3600"}, body={"error": "rate limited"}, times=10)
        status, seconds = check_as_a_command(tmp_path, config(fake.url))
    assert status["status"] == "FAILED" and "rate-limiting" in status["message"] and "try again in 3600 s" in status["message"].lower()
    assert seconds < CHECK_BUDGET_SECONDS


def test_given_a_503_asking_for_an_hour_then_a_stalled_body_when_check_then_it_retries_within_seconds_and_succeeds(tmp_path):
    with FakeMixpanel(events_per_day=1, days=days_back(1)) as fake:
        fake.add_fault("status", status=503, headers={"Retry-After": "3600"}, times=1)  # a long Retry-After is not waited out
        fake.add_fault("stall", after_bytes=0, seconds=120, times=5)  # the answer's headers are enough for check
        status, seconds = check_as_a_command(tmp_path, config(fake.url))
        fake.stop()
    assert status["status"] == "SUCCEEDED", status
    assert seconds < CHECK_BUDGET_SECONDS


def test_given_a_server_that_accepts_but_never_answers_when_check_then_it_answers_within_30_seconds_saying_so(tmp_path):
    with socket.socket() as silent:  # the kernel accepts the connection; nobody ever reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        status, seconds = check_as_a_command(tmp_path, config(f"http://127.0.0.1:{silent.getsockname()[1]}"))
    assert status["status"] == "FAILED" and "did not answer in time" in status["message"], status
    assert seconds < CHECK_BUDGET_SECONDS


def test_given_a_host_that_refuses_connections_when_check_then_it_fails_fast_saying_so(tmp_path):
    status, seconds = check_as_a_command(tmp_path, config(f"http://127.0.0.1:{free_port()}"))
    assert status["status"] == "FAILED" and "connection refused" in status["message"], status
    assert seconds < CHECK_BUDGET_SECONDS


def test_given_a_tls_failure_when_check_then_it_is_not_retried_and_says_tls(tmp_path):
    with FakeMixpanel(events_per_day=1, days=days_back(1)) as fake:  # plain HTTP: an https client gets no TLS handshake
        status, seconds = check_as_a_command(tmp_path, config(fake.url.replace("http://127.0.0.1", "https://localhost")))
    assert status["status"] == "FAILED" and "TLS" in status["message"], status
    assert seconds < CHECK_BUDGET_SECONDS


@pytest.mark.parametrize("status_code", [401, 403])
def test_given_bad_credentials_when_check_then_it_says_so(tmp_path, status_code):
    with FakeMixpanel(events_per_day=1, days=days_back(1)) as fake:
        fake.add_fault("status", status=status_code, body={"error": "Invalid credentials"}, times=2)
        status, _ = check_as_a_command(tmp_path, config(fake.url))
    assert status["status"] == "FAILED" and str(status_code) in status["message"] and "credentials" in status["message"].lower()


# --- Midnight: the worker's clock a little ahead of Mixpanel's ---------------------------------


def test_given_mixpanel_is_still_on_yesterday_when_read_then_it_reads_up_to_yesterday_warns_once_and_keeps_the_cursor_honest(sleeps):
    yesterday = utc_today() - dt.timedelta(days=1)
    days = days_back(3, end=yesterday)
    with FakeMixpanel(events_per_day=4, days=days, today=yesterday) as fake:  # Mixpanel's today is our yesterday
        output = run_read(config(fake.url, start_date=str(days[0]), date_window_days=2))
        expected = event_ids(fake.expected_events(days[0], days[-1]))
    assert output.exit_code == 0 and not output.errors, error_messages(output)
    assert ordered_ids(output) == expected
    midnight = [w for w in warnings(output) if "does not accept" in w]
    assert len(midnight) == 1 and str(utc_today()) in midnight[0]
    assert cursors(output)[-1] == f"{yesterday}T23:59:59.999Z"  # the cursor stops before the day Mixpanel refused


def test_given_only_the_newest_day_to_read_when_mixpanel_refuses_it_then_nothing_is_read_and_the_cursor_stays(sleeps):
    yesterday = utc_today() - dt.timedelta(days=1)
    cursor = f"{yesterday}T23:59:59.999Z"
    with FakeMixpanel(events_per_day=4, days=[yesterday], today=yesterday) as fake:
        output = run_read(config(fake.url, start_date=str(utc_today()), lookback_window_days=0), state_value={"timestamp": cursor})
    assert output.exit_code == 0 and not output.errors and ordered_ids(output) == []
    assert cursors(output) == [cursor]
    assert any("does not accept" in w for w in warnings(output))


def test_given_an_older_day_refused_when_read_then_it_is_a_config_error_about_the_timezone(sleeps):
    days = days_back(4)
    with FakeMixpanel(events_per_day=1, days=days, today=days[0]) as fake:  # Mixpanel's today two days before ours: no clock skew
        output = run_read(config(fake.url, start_date=str(days[0]), date_window_days=1))
    assert output.exit_code == 1
    last = output.errors[-1].trace.error
    assert last.failure_type.value == "config_error" and "legacy_local_time" in last.message


def test_given_mixpanel_on_yesterday_when_check_then_it_succeeds(tmp_path):
    yesterday = utc_today() - dt.timedelta(days=1)
    with FakeMixpanel(events_per_day=1, days=[yesterday], today=yesterday) as fake:
        status, _ = check_as_a_command(tmp_path, config(fake.url))
    assert status["status"] == "SUCCEEDED", status


def test_given_a_failed_read_as_a_command_then_the_last_trace_is_the_streams_own_error(tmp_path):
    days = days_back(1)
    with FakeMixpanel(events_per_day=1, days=days) as fake:
        fake.add_fault("status", status=403, body={"error": "Permission denied"}, times=5)
        files = write_files(tmp_path, config=config(fake.url, start_date=str(days[0])), catalog=catalog_json())
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]])
    errors = [m["trace"]["error"] for m in protocol_lines(done.stdout) if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert done.returncode == 1
    assert errors[-1]["failure_type"] == "config_error" and "403" in errors[-1]["message"] and "project_id" in errors[-1]["message"]
    assert "did not sync successfully" not in errors[-1]["message"]


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy-los-angeles", "utc"])
def test_given_a_start_date_time_without_an_offset_when_read_then_that_day_is_asked_for_as_written(sleeps, legacy):


    day = utc_today() - dt.timedelta(days=3)
    with FakeMixpanel(events_per_day=1, days=[day], project_timezone="America/Los_Angeles" if legacy else "UTC") as fake:
        cfg = config(fake.url, start_date=f"{day}T00:00:00", end_date=str(day), legacy_local_time=legacy, project_timezone="America/Los_Angeles")
        output = run_read(cfg)
        asked = [(request.params.get("from_date"), request.params.get("to_date")) for request in fake.requests if request.path.endswith("/export")]
    assert output.exit_code == 0, error_messages(output)
    assert asked == [(str(day), str(day))]  # was the day before in legacy mode: the time was taken as UTC, then moved to Los Angeles
