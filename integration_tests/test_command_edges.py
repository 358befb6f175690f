"""The command's edges through the shipping path (`run.launch`, or the real process): issue 21.

- A user's mistake met during `read` (a rejected secret, a state or catalog not understood) ends as
  ONE config_error TRACE without `stack_trace`, and one ERROR line in words, once per sync: rejected
  credentials stop the sync at the first stream instead of failing every stream in turn.
- No verb prints the usage (exit 2), `--version` the version; a reader closing stdout
  (`read ... | head -1`) ends the command quietly with exit 141.
- A refused connection says so, without claiming retries that were not made.
- Every wrong field of a config file is named in one config_error.
- Config that works but changes nothing (XDM settings with flat output) or stops working soon (a
  project secret) is WARNed, and `check` repeats it in its status message.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
import time_machine
from airbyte_cdk.models import FailureType, Level, Status

from integration_tests.builders import (
    REPO,
    WRONG_CREDENTIALS,
    catalog_json,
    config,
    connector_command,
    days_back,
    infos,
    run_check,
    run_discover,
    run_entrypoint,
    run_read,
    utc_today,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.run import READER_GONE_EXIT, launch

TODAY = utc_today()
SETUP_VERSION = re.search(r'^VERSION\s*=\s*"([^"]+)"', (REPO / "setup.py").read_text(encoding="utf-8"), re.M).group(1)


def errors_logged(output):
    return [message.log.message for message in output.logs if message.log.level in (Level.ERROR, Level.FATAL)]


def assert_one_config_error_without_traceback(output, *words):
    [error] = output.errors
    assert error.trace.error.failure_type == FailureType.config_error
    assert not error.trace.error.stack_trace
    for word in words:
        assert word in error.trace.error.message, error.trace.error.message
    logged = errors_logged(output)
    assert len(logged) == 1, logged
    assert "Traceback" not in logged[0]
    assert output.exit_code == 1


# --- a user's mistake during read -----------------------------------------------------------------


@pytest.mark.parametrize("auth", ["service_account", "project_secret"])
def test_given_a_wrong_secret_when_read_of_three_streams_then_one_config_error_and_one_request(fake, auth):
    cfg = config(fake.url, auth=auth, start_date=str(TODAY))
    cfg["credentials"] = dict(WRONG_CREDENTIALS[auth])

    output = run_read(cfg, streams=("events", "profiles", "cohorts"))

    assert_one_config_error_without_traceback(output, "did not accept the credentials")
    assert [request.status for request in fake.requests] == [401]  # profiles and cohorts were not tried with the same secret
    assert [message.trace.stream_status.stream_descriptor.name for message in output.trace_messages if message.trace.stream_status] == ["events", "events"]


def test_given_a_secret_revoked_after_the_events_when_read_then_the_events_and_their_state_are_kept_and_cohorts_not_tried():
    with FakeMixpanel(events_per_day=5, days=days_back(1), profiles=3) as fake:
        fake.add_fault("none")  # the events' one export request
        fake.add_fault("status", status=401, body={"error": "Invalid credentials"})  # the profiles query: revoked meanwhile

        output = run_read(config(fake.url, start_date=str(TODAY)), streams=("events", "profiles", "cohorts"))
        paths = [request.path for request in fake.requests]

    assert_one_config_error_without_traceback(output, "did not accept the credentials")
    assert len([message for message in output.records if message.record.stream == "events"]) == 5
    assert [message.state.stream.stream_descriptor.name for message in output.state_messages] == ["events"]
    assert paths == ["/api/2.0/export", "/api/query/engage"]  # cohorts, with the same secret, not tried
    assert any("Not reading cohorts" in line for line in infos(output))


def test_given_a_state_with_an_unknown_cursor_key_when_read_then_one_config_error_and_the_other_stream_is_read():
    with FakeMixpanel(events_per_day=3, days=days_back(1), profiles=3) as fake:
        cfg = config(fake.url, start_date=str(TODAY))
        raw_state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"bogus": 1}}}]

        output = run_read(cfg, raw_state=raw_state, streams=("events", "profiles"))

    assert_one_config_error_without_traceback(output, "saved state for stream 'events' is not understood")
    assert {message.record.stream for message in output.records} == {"profiles"}  # a stream's own mistake fails that stream only


@pytest.mark.parametrize(
    "content, words",
    [
        pytest.param("not json", "is not valid JSON", id="not-json"),
        pytest.param({"streams": [{"stream": {"name": "events"}}]}, "json_schema", id="stream-without-schema"),
        pytest.param({"catalog": []}, "has no list of streams", id="no-streams"),
        pytest.param(None, "could not be read", id="missing-file"),
    ],
)
def test_given_a_bad_catalog_when_read_then_a_config_error_naming_the_file_without_stack_trace(fake, tmp_path, content, words):
    paths = write_files(tmp_path, config=config(fake.url, start_date=str(TODAY)), catalog=content if content is not None else "")
    if content is None:
        Path(paths["catalog"]).unlink()

    output = run_entrypoint(["read", "--config", paths["config"], "--catalog", paths["catalog"]])

    [error] = output.errors
    assert error.trace.error.failure_type == FailureType.config_error and not error.trace.error.stack_trace
    assert "--catalog file" in error.trace.error.message and words in error.trace.error.message, error.trace.error.message
    assert output.exit_code == 1 and fake.requests == []


def test_given_a_stream_state_message_without_its_stream_when_read_then_a_config_error(fake):
    output = run_read(config(fake.url, start_date=str(TODAY)), raw_state=[{"type": "STREAM"}])

    [error] = output.errors
    assert error.trace.error.failure_type == FailureType.config_error and not error.trace.error.stack_trace
    assert "STREAM state message without its stream" in error.trace.error.message
    assert fake.requests == []


def test_given_a_port_nobody_listens_on_when_read_then_it_says_refused_and_claims_no_retries(fake):
    url = fake.url
    fake.stop()  # the port is free now: connections are refused

    output = run_read(config(url, start_date=str(TODAY)))

    [*_, last] = output.errors
    message = last.trace.error.message
    assert "connection refused" in message and "retries" not in message, message
    assert last.trace.error.failure_type == FailureType.transient_error
    assert not [line for line in errors_logged(output) if "Traceback" in line]


def test_given_a_retry_after_the_retry_budget_cannot_wait_out_when_read_then_the_error_counts_the_retries_made(monkeypatch):
    noon = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.timezone.utc)  # 35 minutes later it is still TODAY
    with FakeMixpanel(events_per_day=2, days=days_back(1)) as fake, time_machine.travel(noon, tick=True) as clock:
        monkeypatch.setattr(time, "sleep", lambda seconds: clock.shift(seconds))  # the backoff's 30-minute budget sees the waits
        fake.add_fault("status", status=503, headers={"Retry-After": "1000"}, times=10)

        output = run_read(config(fake.url, start_date=str(TODAY)))
        answered = [request.status for request in fake.requests]

    message = output.errors[-1].trace.error.message
    assert answered == [503, 503, 503]  # waits of 1001 s: the third answer comes after 2002 s, past the 1800 s budget
    assert "kept failing after 2 retries" in message and "6 retries" not in message, message


def test_given_a_server_that_never_recovers_when_read_then_six_retries_are_announced_and_counted(sleeps):
    with FakeMixpanel(events_per_day=2, days=days_back(1)) as fake:
        fake.add_fault("status", status=503, times=20)

        output = run_read(config(fake.url, start_date=str(TODAY)))
        tries = len(fake.requests)

    announced = [line.split(":")[0] for line in infos(output) if line.startswith("Retry ")]
    assert tries == 7 and announced == [f"Retry {n} of 6" for n in range(1, 7)]  # no "Retry 7 of 6" for the try after the last
    assert "kept failing after 6 retries" in output.errors[-1].trace.error.message


# --- the command's edges ----------------------------------------------------------------------


def test_given_no_verb_when_run_then_usage_on_stderr_exit_2_and_nothing_on_stdout(capsys):
    stdout = io.BytesIO()

    code = launch([], stdout=stdout)

    assert code == 2 and stdout.getvalue() == b""
    said = capsys.readouterr().err
    assert "a verb is needed" in said and "usage: source-mixpanel-aep" in said and "read" in said and "--version" in said
    assert "Traceback" not in said


def test_given_version_when_run_then_it_prints_the_setup_py_version():
    stdout = io.BytesIO()

    assert launch(["--version"], stdout=stdout) == 0
    assert stdout.getvalue().decode() == f"source-mixpanel-aep {SETUP_VERSION}\n"
    assert SETUP_VERSION.split(".")[0] >= "1"


class ClosesAfter(io.BytesIO):
    """A stdout whose reader goes away after `writes` writes, as `| head -1` does."""

    def __init__(self, writes: int):
        super().__init__()
        self.left = writes

    def write(self, data):  # type: ignore[override]
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(data)


def read_writing_to(stdout, tmp_path, fake):
    paths = write_files(tmp_path, config=config(fake.url, start_date=str(TODAY - dt.timedelta(days=1))), catalog=catalog_json())
    return launch(["read", "--config", paths["config"], "--catalog", paths["catalog"]], stdout=stdout)


@pytest.mark.parametrize("close_at", ["first", "second", "last", *[f"random-{seed}" for seed in range(4)]])
def test_given_a_reader_that_closes_stdout_at_any_write_when_read_then_exit_141_and_nothing_on_stderr(capsys, tmp_path, close_at):
    with FakeMixpanel(events_per_day=500, days=days_back(2)) as fake:
        everything = ClosesAfter(writes=10_000)
        assert read_writing_to(everything, tmp_path, fake) == 0
        writes = 10_000 - everything.left  # record batches of 100, log lines, states, statuses
        named = {"first": 0, "second": 1, "last": writes - 1}
        fails_at = named[close_at] if close_at in named else random.Random(close_at).randrange(2, writes - 1)
        capsys.readouterr()

        code = read_writing_to(ClosesAfter(writes=fails_at), tmp_path, fake)

    assert code == READER_GONE_EXIT, (fails_at, writes)
    assert capsys.readouterr().err == ""  # no "--- Logging error ---" block, no traceback


def test_given_read_piped_into_head_when_head_exits_then_the_process_ends_quietly_with_141(tmp_path):
    with FakeMixpanel(events_per_day=4000, days=days_back(1)) as fake:  # far more than the 1 MB pipe buffer holds
        paths = write_files(tmp_path, config=config(fake.url, start_date=str(TODAY)), catalog=catalog_json())
        process = subprocess.Popen(
            connector_command("read", "--config", paths["config"], "--catalog", paths["catalog"]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        )
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=60)

    assert json.loads(first)["type"] == "LOG"
    assert code == READER_GONE_EXIT
    assert stderr == "", stderr[-2000:]


def test_given_three_wrong_fields_when_check_then_one_message_names_all_three(fake):
    cfg = config(fake.url, region="APAC", start_date="yesterday", date_window_days=0)

    output = run_check(cfg)

    [status] = output.connection_status_messages
    message = status.connectionStatus.message
    assert status.connectionStatus.status == Status.FAILED
    assert message.startswith("3 config fields need fixing:"), message
    assert all(f"'{field}'" in message for field in ("region", "start_date", "date_window_days"))
    assert fake.requests == []


# --- warnings for a config that works -------------------------------------------------------------


def test_given_xdm_settings_without_output_format_xdm_when_check_then_succeeded_with_the_warning_in_status_and_log():
    with FakeMixpanel(events_per_day=1, days=days_back(2)) as fake:
        output = run_check(config(fake.url, xdm_tenant_id="_acme", xdm_fields={"plan": "string"}))

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED
    assert "xdm_tenant_id, xdm_fields" in status.connectionStatus.message and 'output_format to "xdm"' in status.connectionStatus.message
    assert [line for line in warnings(output) if "output_format" in line] == [status.connectionStatus.message.removeprefix("Connected, but: ")]


def test_given_xdm_settings_with_output_format_xdm_when_check_then_no_warning():
    with FakeMixpanel(events_per_day=1, days=days_back(2)) as fake:
        output = run_check(config(fake.url, output_format="xdm", xdm_tenant_id="_acme"))

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED and status.connectionStatus.message is None
    assert warnings(output) == []


@pytest.mark.parametrize("auth, warned", [("project_secret", True), ("service_account", False), ("oauth_token", False)])
def test_given_an_auth_type_when_discover_then_only_a_project_secret_is_warned_once_with_its_retirement_day(fake, auth, warned):
    output = run_discover(config(fake.url, auth=auth))

    retirement = [line for line in warnings(output) if "2027-03-03" in line]
    assert len(retirement) == (1 if warned else 0), warnings(output)
    if warned:
        assert "service account" in retirement[0]


def test_given_a_project_secret_when_read_then_one_warning_for_the_whole_sync():
    with FakeMixpanel(events_per_day=2, days=days_back(1)) as fake:
        output = run_read(config(fake.url, auth="project_secret", start_date=str(TODAY)), streams=("events", "cohorts"))

    assert len([line for line in warnings(output) if "2027-03-03" in line]) == 1
    assert output.records and not output.errors
