"""HTTP concerns of the export API (source_mixpanel_aep.streams: auth, error_table, backoff, pacing, settings): errors, backoff, pacing, auth."""

import base64
import itertools
import json

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction

from source_mixpanel_aep.config import Credentials
from source_mixpanel_aep.streams.auth import authenticator
from source_mixpanel_aep.streams.backoff import ExportBackoffStrategy, backoff_strategy
from source_mixpanel_aep.streams.error_table import ExportErrorHandler
from source_mixpanel_aep.streams.pacing import PacingBudget
from source_mixpanel_aep.streams.settings import CHECK_SETTINGS, HttpSettings

PROJECT_ID = 2195193


def response(status, body=b"", headers=None):
    built = requests.Response()
    built.status_code = status
    built._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    built.headers.update(headers or {})
    built.encoding = "utf-8"
    built.url = "https://data.mixpanel.com/api/2.0/export?from_date=2024-05-01&to_date=2024-05-30"
    return built


def handler():
    return ExportErrorHandler(project_id=PROJECT_ID)


def test_200_is_success():
    assert handler().interpret_response(response(200, b'{"event":"a"}\n')).response_action == ResponseAction.SUCCESS


def test_429_is_rate_limited_and_transient():
    resolution = handler().interpret_response(response(429, b"Too Many Requests", {"Retry-After": "30"}))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RATE_LIMITED, FailureType.transient_error)


@pytest.mark.parametrize("status", [500, 502, 503, 504], ids=["500", "502", "503", "504"])
def test_5xx_is_retried_as_transient(status):
    resolution = handler().interpret_response(response(status, b"<html>Bad Gateway</html>"))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RETRY, FailureType.transient_error)
    assert str(status) in resolution.error_message


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), requests.ReadTimeout("read timed out"), requests.ConnectTimeout("connect"), requests.exceptions.ChunkedEncodingError("cut")],
    ids=["connection-error", "read-timeout", "connect-timeout", "chunked-encoding"],
)
def test_network_exceptions_are_retried_as_transient(error):
    resolution = handler().interpret_response(error)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RETRY, FailureType.transient_error)
    assert type(error).__name__ in resolution.error_message


def test_no_response_is_retried():
    assert handler().interpret_response(None).response_action == ResponseAction.RETRY


@pytest.mark.parametrize(
    "status, body, must_say",
    [
        (400, b"Unable to authenticate request", ["Unable to authenticate request", "credentials", "expired"]),
        (401, {"error": "Invalid username or secret"}, ["401", "Invalid username or secret", "credentials", "secret"]),
        (402, {"error": "payment required"}, ["402", "plan", "Raw Event Export"]),
        (403, {"error": "Permission denied"}, ["403", f"project {PROJECT_ID}", "project_id", "region"]),
        (404, b"Not Found", ["404", "region", "base_url"]),
        (400, {"error": "project_id is required"}, ["project_id", "Set project_id"]),
        (400, {"error": "invalid where clause"}, ["400", "invalid where clause", "events", "where"]),
    ],
    ids=["400-unable-to-authenticate", "401", "402", "403-names-project", "404", "400-project-id", "400-other"],
)
def test_client_errors_fail_as_config_errors_with_an_actionable_message(status, body, must_say):
    resolution = handler().interpret_response(response(status, body))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.config_error)
    missing = [words for words in must_say if words not in resolution.error_message]
    assert not missing, resolution.error_message


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_fails_as_a_config_error_naming_only_the_target_host(status):
    location = "https://evil.example.net/api/2.0/export?token=from-the-redirect"
    resolution = handler().interpret_response(response(status, b"", {"Location": location}))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.config_error)
    assert f"{status} to evil.example.net" in resolution.error_message and "base_url" in resolution.error_message
    assert "from-the-redirect" not in resolution.error_message


def test_a_long_error_body_is_cut_short_in_the_message():
    resolution = handler().interpret_response(response(404, b"x" * 5000))
    assert "x" * 300 in resolution.error_message and "x" * 301 not in resolution.error_message


def test_handler_bounds_retries():
    assert handler().max_retries == 6
    assert ExportErrorHandler(PROJECT_ID, HttpSettings(2, 5.0, 8.0, 4.0, 25.0, False)).max_retries == 2
    assert handler().max_time == 1800


def check_handler():
    return ExportErrorHandler(PROJECT_ID, CHECK_SETTINGS)


def test_given_a_to_date_refusal_then_the_stream_decides_midnight_or_config_error():
    resolution = handler().interpret_response(response(400, {"error": "to_date cannot be later than today"}))
    assert resolution.response_action == ResponseAction.IGNORE


@pytest.mark.parametrize("status", [408, 425], ids=["408-request-timeout", "425-too-early"])
def test_given_a_request_timeout_or_too_early_then_it_is_retried_as_transient(status):
    resolution = handler().interpret_response(response(status, b"try later"))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.RETRY, FailureType.transient_error)
    assert f"HTTP {status}" in resolution.error_message


def test_given_a_tls_certificate_failure_then_it_is_not_retried_and_says_what_to_check():
    error = requests.exceptions.SSLError("HTTPSConnectionPool(host='x'): [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    resolution = handler().interpret_response(error)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.config_error)
    assert "TLS" in resolution.error_message and "certificate verify failed" in resolution.error_message
    assert "REQUESTS_CA_BUNDLE" in resolution.error_message


def test_given_a_refused_connection_then_the_message_says_so():
    error = requests.ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded ([Errno 111] Connection refused)")
    assert "connection refused" in handler().interpret_response(error).error_message


def test_given_check_when_rate_limited_then_it_fails_at_once_saying_when_to_try_again():
    resolution = check_handler().interpret_response(response(429, b"Too Many Requests", {"Retry-After": "3600"}))
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.transient_error)
    assert "try again in 3600 s" in resolution.error_message.lower()


def test_given_check_when_the_server_asks_for_a_long_wait_then_the_pause_is_capped_at_a_few_seconds():
    strategy = backoff_strategy(CHECK_SETTINGS)
    assert strategy.backoff_time(response(503, headers={"Retry-After": "3600"}), attempt_count=1) == CHECK_SETTINGS.backoff_cap_seconds
    assert strategy.backoff_time(requests.ReadTimeout("slow"), attempt_count=1) <= CHECK_SETTINGS.backoff_cap_seconds


def test_check_settings_fit_in_the_30_second_budget():
    from source_mixpanel_aep.streams.settings import CHECK_BUDGET_SECONDS

    tries = CHECK_SETTINGS.max_retries + 1
    worst = tries * (CHECK_SETTINGS.connect_timeout + CHECK_SETTINGS.read_timeout) + CHECK_SETTINGS.max_retries * CHECK_SETTINGS.backoff_cap_seconds
    assert worst <= CHECK_BUDGET_SECONDS


@pytest.mark.parametrize(
    "retry_after, expected",
    [("120", 120.0), ("0", 0.0), ("7.5", 7.5), ("-3", 0.0), ("86400", 1800.0)],
    ids=["seconds", "zero", "fractional", "negative-clamped-to-0", "capped-at-30-min"],
)
def test_retry_after_seconds_are_honoured(retry_after, expected):
    strategy = ExportBackoffStrategy()
    assert strategy.backoff_time(response(429, headers={"Retry-After": retry_after}), attempt_count=3) == expected


@pytest.mark.parametrize(
    "subject",
    [
        response(429),
        response(429, headers={"Retry-After": ""}),
        response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        response(503, headers={"Retry-After": "soon"}),
        requests.ReadTimeout("slow"),
        None,
    ],
    ids=["missing", "empty", "http-date", "junk", "exception", "none"],
)
def test_without_usable_retry_after_backoff_is_exponential_and_capped(subject):
    strategy = ExportBackoffStrategy()
    assert [strategy.backoff_time(subject, attempt) for attempt in range(1, 9)] == [5, 10, 20, 40, 60, 60, 60, 60]


def test_backoff_base_and_cap_are_configurable():
    strategy = ExportBackoffStrategy(base_seconds=1, cap_seconds=10)
    assert [strategy.delay(attempt) for attempt in range(0, 7)] == [1, 1, 2, 4, 8, 10, 10]


def send(budget, clock, gaps):
    """Acquires one call per gap (the gap is the work/think time after the call); returns send times."""
    sent = []
    for gap in gaps:
        budget.acquire_call(None)
        sent.append(clock.monotonic())
        clock.advance(gap)
    return sent


def assert_within_limits(sent):
    assert all(later - earlier >= 3600 for earlier, later in zip(sent, sent[60:], strict=False)), "61 calls in a rolling hour"
    assert all(later - earlier >= 1 for earlier, later in zip(sent, sent[3:], strict=False)), "4 calls in a rolling second"


@pytest.mark.parametrize(
    "gaps",
    [[0.0] * 200, [0.25] * 200, list(itertools.islice(itertools.cycle([0.0, 0.5, 30.0, 0.25, 120.0]), 200))],
    ids=["back-to-back", "quarter-second-work", "mixed-bursts-and-pauses"],
)
def test_pacing_keeps_200_calls_within_60_per_hour_and_3_per_second_and_waits_no_longer_than_needed(gaps, clock):
    waits = []
    budget = PacingBudget(clock=clock.monotonic, sleep=clock.sleep, on_wait=waits.append)
    sent = send(budget, clock, gaps)
    assert_within_limits(sent)
    arrival = sent[0]
    for i, at in enumerate(sent):
        earliest = max([arrival] + ([sent[i - 60] + 3600] if i >= 60 else []) + ([sent[i - 3] + 1] if i >= 3 else []))
        assert at == earliest, f"call {i} sent at {at}, could have gone at {earliest}"
        arrival = at + gaps[i]
    assert waits == clock.sleeps and budget.total_wait_seconds == sum(clock.sleeps) > 0
    assert sent[-1] - sent[0] >= 3 * 3600


def test_pacing_never_sleeps_when_calls_are_61_seconds_apart(clock):
    waits = []
    budget = PacingBudget(clock=clock.monotonic, sleep=clock.sleep, on_wait=waits.append)
    assert_within_limits(send(budget, clock, [61.0] * 200))
    assert clock.sleeps == [] and waits == [] and budget.total_wait_seconds == 0


def test_pacing_lets_a_burst_of_3_through_and_holds_the_4th_for_one_second(clock):
    budget = PacingBudget(clock=clock.monotonic, sleep=clock.sleep)
    assert send(budget, clock, [0.0] * 4) == [1000.0, 1000.0, 1000.0, 1001.0]
    assert clock.sleeps == [1.0]


def test_pacing_budget_has_no_policy_and_ignores_responses(clock):
    budget = PacingBudget(clock=clock.monotonic, sleep=clock.sleep)
    assert budget.get_matching_policy(None) is None
    assert budget.update_from_response(None, response(200)) is None


def authorization(credentials):
    prepared = requests.Request("GET", "https://data.mixpanel.com/api/2.0/export", auth=authenticator(credentials)).prepare()
    return prepared.headers.get("Authorization")


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "credentials, header",
    [
        (Credentials("service_account", username="sa.1.mp-service-account", secret="s3cr3t"), basic("sa.1.mp-service-account", "s3cr3t")),
        (Credentials("project_secret", api_secret="projsecret"), basic("projsecret", "")),
        (Credentials("oauth_token", access_token="tok123"), "Bearer tok123"),
        (Credentials("service_account", username="ünï", secret="p:w"), basic("ünï", "p:w")),
    ],
    ids=["service-account-basic", "project-secret-basic-empty-password", "oauth-bearer", "service-account-non-ascii-and-colon"],
)
def test_authenticator_builds_the_authorization_header(credentials, header):
    assert authorization(credentials) == header


def test_given_a_refused_connection_before_any_answer_then_it_fails_at_once_naming_the_host():
    fresh = ExportErrorHandler(PROJECT_ID, host="proxy.example.com")
    refused = requests.ConnectionError("HTTPSConnectionPool(host='proxy.example.com', port=443): ([Errno 111] Connection refused)")
    resolution = fresh.interpret_response(refused)
    assert (resolution.response_action, resolution.failure_type) == (ResponseAction.FAIL, FailureType.transient_error)
    assert "Could not connect to proxy.example.com (connection refused)" in resolution.error_message and "base_url" in resolution.error_message


def test_given_a_host_that_answered_before_when_a_connection_is_refused_then_it_is_retried():
    answered = ExportErrorHandler(PROJECT_ID, host="data.mixpanel.com")
    answered.interpret_response(response(200, b""))
    refused = requests.ConnectionError("([Errno 111] Connection refused)")
    assert answered.interpret_response(refused).response_action == ResponseAction.RETRY
