"""Secrets never reach stdout or stderr, and requests go only to the configured host, over verified TLS.

Every auth form, in spec/check/discover/read and on the error paths the fault tests cover, runs
with `--debug` (and once with the platform's LOG_LEVEL=debug); everything printed is searched for
each secret and for the forms a secret travels in (the base64 of HTTP Basic credentials, which a
debug log of request headers shows). The whole matrix runs in-process, with the file descriptors
captured; a subset runs as real processes (`python -m source_mixpanel_aep.run`), a few at a time.
"""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import orjson
import pytest
import requests_mock
from airbyte_cdk.models import AirbyteMessageSerializer, FailureType, Status

from integration_tests.builders import (
    CREDENTIALS,
    FakeSleeps,
    catalog_json,
    config,
    days_back,
    protocol_lines,
    record_data,
    run_check,
    run_entrypoint,
    run_process,
    run_read,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.streams.export import WINDOW_ATTEMPTS

AUTH_FORMS = sorted(CREDENTIALS)
DAYS = days_back(2)


def secrets_of(credentials: Dict[str, str]) -> List[str]:
    """Each secret, and each form it is sent in: Basic auth is base64 of `user:password`."""
    if credentials["auth_type"] == "service_account":
        basic = f"{credentials['username']}:{credentials['secret']}"
        return [credentials["secret"], base64.b64encode(basic.encode()).decode()]
    if credentials["auth_type"] == "project_secret":
        return [credentials["api_secret"], base64.b64encode(f"{credentials['api_secret']}:".encode()).decode()]
    return [credentials["access_token"]]


@dataclass
class Scenario:
    command: str  # spec, check, discover, read
    server: Dict[str, Any] = field(default_factory=dict)  # FakeMixpanel options
    faults: List[tuple] = field(default_factory=list)  # (kind, options) queued in order
    config: Dict[str, Any] = field(default_factory=dict)  # overrides
    state: Optional[Any] = None  # --state file content
    env: Dict[str, str] = field(default_factory=dict)
    fast_sleep: bool = False  # for retries that would otherwise wait minutes
    debug: bool = True
    expect: str = "ok"  # what the run must show, so that the path was really taken: ok / failed-check / error


SCENARIOS = {
    "check": Scenario("check"),
    "check-rejected-credentials": Scenario("check", server={"credentials_valid": False}, expect="failed-check"),
    "check-unreachable-retry": Scenario("check", faults=[("status", {"status": 503})]),
    "discover": Scenario("discover"),
    "read-with-retries-and-a-reread-window": Scenario(
        "read", faults=[("status", {"status": 429, "headers": {"Retry-After": "0"}}), ("reset", {"after_bytes": 2000})], fast_sleep=True
    ),
    "read-platform-debug-logging": Scenario("read", env={"LOG_LEVEL": "debug"}, debug=False),
    "read-server-never-recovers": Scenario("read", faults=[("status", {"status": 503, "times": 50})], fast_sleep=True, expect="error"),
    "read-malformed-on-every-attempt": Scenario("read", faults=[("malformed", {"times": WINDOW_ATTEMPTS})], fast_sleep=True, expect="error"),
    "read-rejected-credentials": Scenario("read", server={"credentials_valid": False}, expect="error"),
    "read-bad-config": Scenario("read", config={"region": "APAC", "date_window_days": 0}, expect="error"),
    "read-bad-state": Scenario("read", state=[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "events"}, "stream_state": {"x": 1}}}], expect="error"),
}


@dataclass
class Run:
    secrets: List[str]
    returncode: Optional[int]  # None in-process
    stdout: str
    stderr: str


@contextmanager
def prepared(directory: Path, auth: str, scenario: Scenario) -> Iterator[List[str]]:
    """A fake Mixpanel set up for the scenario, and the command-line arguments to run against it."""
    with FakeMixpanel(events_per_day=6, days=DAYS, **scenario.server) as fake:
        for kind, options in scenario.faults:
            options = dict(options)
            fake.add_fault(kind, times=options.pop("times", 1), **options)
        files = write_files(
            directory, config={**config(fake.url, auth=auth, start_date=str(DAYS[0])), **scenario.config}, catalog=catalog_json(),
            **({"state": scenario.state} if scenario.state is not None else {}),
        )
        args = [scenario.command] + (["--debug"] if scenario.debug else [])
        if scenario.command != "spec":
            args += ["--config", files["config"]]
        if scenario.command == "read":
            args += ["--catalog", files["catalog"]] + (["--state", files["state"]] if "state" in files else [])
        yield args


def leaks(run: Run) -> List[str]:
    return [secret for secret in run.secrets if secret in run.stdout or secret in run.stderr]


def shown(stdout: str) -> Dict[str, Any]:
    messages = protocol_lines(stdout)
    return {
        "errors": [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"],
        "statuses": [m["connectionStatus"]["status"] for m in messages if m["type"] == "CONNECTION_STATUS"],
        "records": [m for m in messages if m["type"] == "RECORD"],
    }


def assert_took_its_path(name: str, run: Run) -> None:
    """The scenario really went where it meant to (an error path that did not error proves nothing)."""
    what, expect = shown(run.stdout), SCENARIOS[name].expect
    if expect == "ok":
        assert not what["errors"] and run.returncode in (0, None), run.stdout[-3000:]
    elif expect == "failed-check":
        assert what["statuses"] == ["FAILED"]
    else:
        assert what["errors"] and not any("Traceback" in error["message"] for error in what["errors"])
        assert run.returncode != 0
    if SCENARIOS[name].command == "read" and expect == "ok":
        assert what["records"] and "Making outbound API request" in run.stdout  # the debug log of each request was on


# In-process: the whole matrix, fast. The logs go where they go in production (the CDK's handler
# writes to the process's stdout), so capfd sees them; the protocol messages are added to stdout.


@pytest.mark.parametrize("auth", AUTH_FORMS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_given_any_auth_form_and_path_when_run_with_debug_logs_then_no_secret_in_what_it_prints(tmp_path, monkeypatch, capfd, auth, name):
    FakeSleeps().install(monkeypatch)
    scenario = SCENARIOS[name]
    for variable, value in scenario.env.items():
        monkeypatch.setenv(variable, value)
    with prepared(tmp_path, auth, scenario) as args:
        output = run_entrypoint(args)
    printed = capfd.readouterr()
    messages = "\n".join(orjson.dumps(AirbyteMessageSerializer.dump(m)).decode() for m in output.get_message_iterator())
    run = Run(secrets_of(CREDENTIALS[auth]), None if not output.errors else 1, printed.out + "\n" + messages, printed.err)
    assert not leaks(run), f"{name}: {leaks(run)} printed"
    assert_took_its_path(name, run)


# As real processes: each auth form's debug read with retries, its never-recovering server and its
# rejected check, four processes at a time; and spec.

PROCESS_SCENARIOS = ["read-with-retries-and-a-reread-window", "read-platform-debug-logging", "read-server-never-recovers", "check-rejected-credentials"]


def _run_process(directory: Path, auth: str, scenario: Scenario) -> Run:
    with prepared(directory, auth, scenario) as args:
        done = run_process(args, fast_sleep=scenario.fast_sleep, env=scenario.env, timeout=120)
    return Run(secrets_of(CREDENTIALS[auth]), done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def processes(tmp_path_factory) -> Dict[str, Run]:
    jobs = {f"{auth}/{name}": (auth, SCENARIOS[name]) for auth in AUTH_FORMS for name in PROCESS_SCENARIOS}
    jobs["spec"] = (AUTH_FORMS[0], Scenario("spec"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(_run_process, tmp_path_factory.mktemp(key.replace("/", "-")), *job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("auth", AUTH_FORMS)
@pytest.mark.parametrize("name", PROCESS_SCENARIOS)
def test_given_any_auth_form_when_the_command_runs_with_debug_logs_then_no_secret_in_stdout_or_stderr(processes, auth, name):
    run = processes[f"{auth}/{name}"]
    assert not leaks(run), f"{name}: {leaks(run)} in the output"
    assert_took_its_path(name, run)


def test_spec_output_has_no_secret(processes):
    run = processes["spec"]
    assert run.returncode == 0 and '"SPEC"' in run.stdout
    every_secret = [secret for credentials in CREDENTIALS.values() for secret in secrets_of(credentials)]
    assert not [secret for secret in every_secret if secret in run.stdout + run.stderr]


@pytest.mark.parametrize("auth", AUTH_FORMS)
def test_given_a_secret_also_typed_into_base_url_when_check_then_neither_is_echoed(fake, capfd, auth, tmp_path):
    secret = secrets_of(CREDENTIALS[auth])[0]
    cfg = {**config(fake.url, auth=auth), "base_url": f"https://someone:{secret}@mixpanel-proxy.example.com"}
    output = run_entrypoint(["check", "--debug", "--config", write_files(tmp_path, config=cfg)["config"]])
    printed = capfd.readouterr()
    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED and "'base_url'" in status.connectionStatus.message
    assert secret not in printed.out + printed.err + status.connectionStatus.message
    assert fake.requests == []


# --- Only the configured host, over verified TLS ---------------------------------------------


EXPORT_LINE = b'{"event":"e","properties":{"time":1700000000000,"$insert_id":"only-one"}}\n'


@pytest.mark.parametrize(
    "overrides, base",
    [
        ({}, "https://data.mixpanel.com"),
        ({"region": "EU"}, "https://data-eu.mixpanel.com"),
        ({"region": "IN"}, "https://data-in.mixpanel.com"),
        ({"region": "EU", "base_url": "https://mixpanel-proxy.example.com/mp/"}, "https://mixpanel-proxy.example.com/mp"),
    ],
    ids=["us", "eu", "in", "base-url-override"],
)
@pytest.mark.parametrize("ca_bundle_env", [None, ""], ids=["no-ca-env", "empty-curl-ca-bundle"])
def test_given_a_region_or_base_url_when_check_and_read_then_every_request_goes_there_over_verified_tls(monkeypatch, overrides, base, ca_bundle_env):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    if ca_bundle_env is not None:
        monkeypatch.setenv("CURL_CA_BUNDLE", ca_bundle_env)  # once a way to turn verification off in requests
    cfg = {"credentials": CREDENTIALS["project_secret"], "start_date": str(DAYS[0]), **overrides}
    with requests_mock.Mocker() as mock:
        mock.get(re.compile(".*"), content=EXPORT_LINE)
        check, read = run_check(cfg), run_read(cfg)
        sent = list(mock.request_history)
    assert check.connection_status_messages[0].connectionStatus.status == Status.SUCCEEDED
    assert [record.get("insert_id") for record in record_data(read)] == ["only-one"]
    assert len(sent) == 2
    for request in sent:
        assert request.url.startswith(f"{base}/api/2.0/export?"), request.url
        assert request.verify is True, request.verify


def test_given_a_redirect_to_another_host_when_read_then_it_is_not_followed_and_the_error_names_it():
    with FakeMixpanel(events_per_day=3, days=DAYS) as fake, FakeMixpanel(events_per_day=3, days=DAYS, host="127.0.0.2") as elsewhere:
        fake.add_fault("status", status=302, headers={"Location": f"{elsewhere.url}/api/2.0/export?from_date={DAYS[0]}&to_date={DAYS[1]}"}, body="")
        output = run_read(config(fake.url, start_date=str(DAYS[0])))
        assert elsewhere.requests == [] and len(fake.requests) == 1
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert "redirect (302 to 127.0.0.2)" in error.message and "base_url" in error.message
    assert not output.records


# --- Secrets pasted with whitespace around them (issue 9, item 1) ------------------------------

PASTED = {
    "trailing newline": lambda secret: secret + "\n",
    "surrounding spaces": lambda secret: "  " + secret + "  ",
    "crlf and a tab": lambda secret: "\t" + secret + "\r\n",
}
SECRET_KEYS = {"service_account": "secret", "project_secret": "api_secret", "oauth_token": "access_token"}


def every_form(secret: str) -> List[str]:
    """The secret as is, JSON- and repr-escaped (a header error quotes it so), with the whitespace it was pasted with."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], orjson.dumps(secret).decode()[1:-1]}
    return sorted(form for form in forms if form.strip())


@pytest.mark.parametrize("auth", AUTH_FORMS)
@pytest.mark.parametrize("paste", list(PASTED))
def test_given_a_secret_pasted_with_whitespace_when_check_and_read_as_commands_then_it_works_and_is_never_printed(tmp_path, auth, paste):
    key = SECRET_KEYS[auth]
    with FakeMixpanel(events_per_day=3, days=DAYS) as fake:
        cfg = config(fake.url, auth=auth, start_date=str(DAYS[0]))
        cfg["credentials"][key] = PASTED[paste](cfg["credentials"][key])
        files = write_files(tmp_path, config=cfg, catalog=catalog_json())
        check = run_process(["check", "--config", files["config"], "--debug"])
        read = run_process(["read", "--config", files["config"], "--catalog", files["catalog"], "--debug"])
    statuses = [m["connectionStatus"]["status"] for m in protocol_lines(check.stdout) if m["type"] == "CONNECTION_STATUS"]
    assert check.returncode == 0 and statuses == ["SUCCEEDED"], check.stdout[-2000:]
    assert read.returncode == 0 and sum(m["type"] == "RECORD" for m in protocol_lines(read.stdout)) == 6, read.stdout[-2000:]
    basic = {"service_account": lambda c: f"{c['username']}:{c['secret'].strip()}", "project_secret": lambda c: f"{c['api_secret'].strip()}:"}
    forms = every_form(cfg["credentials"][key]) + ([base64.b64encode(basic[auth](cfg["credentials"]).encode()).decode()] if auth in basic else [])
    printed = check.stdout + check.stderr + read.stdout + read.stderr
    assert [form for form in forms if form in printed] == []


@pytest.mark.parametrize("auth", AUTH_FORMS)
def test_given_a_secret_with_a_line_break_inside_when_check_then_a_config_error_names_the_field_and_never_quotes_it(tmp_path, auth):
    key = SECRET_KEYS[auth]
    with FakeMixpanel(events_per_day=1, days=DAYS) as fake:
        cfg = config(fake.url, auth=auth)
        secret = cfg["credentials"][key]
        cfg["credentials"][key] = secret[:5] + "\n" + secret[5:]
        files = write_files(tmp_path, config=cfg)
        check = run_process(["check", "--config", files["config"]])
        assert fake.requests == []  # refused before any request
    [status] = [m["connectionStatus"] for m in protocol_lines(check.stdout) if m["type"] == "CONNECTION_STATUS"]
    assert status["status"] == "FAILED" and f"credentials.{key}" in status["message"] and "line break" in status["message"]
    assert check.returncode == 0 and "Traceback" not in check.stdout + check.stderr
    assert [form for form in every_form(secret) + [secret[5:]] if form in check.stdout + check.stderr] == []
