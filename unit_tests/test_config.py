"""parse_config: defaults, regions, timezones, and one config_error naming the field for each mistake."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_mixpanel_aep.config import SPEC, parse_config, unknown_keys

NOW = dt.datetime(2024, 6, 15, 3, 0, tzinfo=dt.timezone.utc)  # still 2024-06-14 in Los Angeles
SA_USER, SA_SECRET, API_SECRET, TOKEN, URL_PASSWORD = "sa-user.1.mp", "sa-secret-9f8e7d", "proj-secret-1a2b3c", "oauth-tok-4d5e6f", "url-pw-7g8h"
UTC_NAMES = ("UTC", "Etc/UTC")  # tzlocal's CLDR table maps "UTC" to Etc/UTC; both are UTC
SECRETS = (SA_SECRET, API_SECRET, TOKEN, URL_PASSWORD)


def service_account(**overrides):
    return {"auth_type": "service_account", "username": SA_USER, "secret": SA_SECRET, **overrides}


def config(**overrides):
    raw = {"credentials": service_account(), "project_id": 2195193}
    raw.update(overrides)
    return {key: value for key, value in raw.items() if value is not DROP}


DROP = object()


def parse(raw):
    return parse_config(raw, now=lambda: NOW)


def test_given_only_credentials_then_defaults_apply():
    parsed = parse(config())
    assert parsed.region == "US"
    assert parsed.base_url == "https://data.mixpanel.com"
    assert parsed.project_timezone in UTC_NAMES
    assert parsed.legacy_local_time is False
    assert parsed.date_window_days == 30
    assert parsed.lookback_window_days == 5
    assert (parsed.fresh_overlap_minutes, parsed.late_event_sweeps, parsed.window_target_events) == (10, 1, 2_000_000)
    assert parsed.start_date == dt.date(2024, 5, 16)
    assert parsed.end_date is None
    assert parsed.events == ()
    assert parsed.where is None
    assert parsed.project_id == 2195193


@pytest.mark.parametrize(
    "region, host",
    [("US", "https://data.mixpanel.com"), ("EU", "https://data-eu.mixpanel.com"), ("IN", "https://data-in.mixpanel.com")],
    ids=["us", "eu", "in"],
)
def test_each_region_has_its_host(region, host):
    assert parse(config(region=region)).base_url == host


@pytest.mark.parametrize(
    "base_url, expected",
    [
        ("https://proxy.example.com/mixpanel/", "https://proxy.example.com/mixpanel"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
    ids=["https-any-host", "http-ipv4-loopback", "http-localhost", "http-ipv6-loopback"],
)
def test_base_url_overrides_the_region_host(base_url, expected):
    assert parse(config(region="EU", base_url=base_url)).base_url == expected


@pytest.mark.parametrize(
    "given, iana",
    [
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("Europe/Paris", "Europe/Paris"),
        (" Asia/Kolkata ", "Asia/Kolkata"),
        ("UTC", UTC_NAMES),
    ],
    ids=["windows-pacific", "windows-w-europe", "iana-la", "iana-paris", "iana-padded", "utc"],
)
def test_timezone_names_resolve_to_iana(given, iana):
    resolved = parse(config(project_timezone=given)).project_timezone
    assert resolved in iana if isinstance(iana, tuple) else resolved == iana


def test_given_not_legacy_then_days_are_read_in_utc_and_times_are_utc():
    parsed = parse(config(project_timezone="Pacific Standard Time"))
    assert parsed.read_timezone == ZoneInfo("UTC")
    assert parsed.source_timezone is None
    assert parsed.today(NOW) == dt.date(2024, 6, 15)


def test_given_legacy_local_time_then_days_and_times_are_in_the_project_timezone():
    parsed = parse(config(project_timezone="Pacific Standard Time", legacy_local_time=True))
    assert parsed.read_timezone == ZoneInfo("America/Los_Angeles")
    assert parsed.source_timezone == ZoneInfo("America/Los_Angeles")
    assert parsed.today(NOW) == dt.date(2024, 6, 14)
    assert parsed.start_date == dt.date(2024, 5, 15)


@pytest.mark.parametrize(
    "legacy, value, day",
    [
        (False, "2024-01-31", dt.date(2024, 1, 31)),
        (True, "2024-01-31", dt.date(2024, 1, 31)),
        (False, "2024-01-31T23:30:00-08:00", dt.date(2024, 2, 1)),
        (True, "2024-01-31T23:30:00-08:00", dt.date(2024, 1, 31)),
        (True, "2024-02-01T05:00:00Z", dt.date(2024, 1, 31)),
        (True, "2024-01-01T00:00:00", dt.date(2024, 1, 1)),
        (False, "2024-01-01T00:00:00", dt.date(2024, 1, 1)),
        (True, "2024-01-01 23:59", dt.date(2024, 1, 1)),
    ],
    ids=["date-utc", "date-legacy", "instant-read-in-utc", "instant-read-in-la", "utc-instant-read-in-la",
         "no-offset-legacy-is-the-day-written", "no-offset-utc-is-the-day-written", "space-no-offset-legacy"],
)
def test_start_date_forms(legacy, value, day):
    parsed = parse(config(start_date=value, legacy_local_time=legacy, project_timezone="America/Los_Angeles"))
    assert parsed.start_date == day


def test_explicit_fields_are_kept():
    parsed = parse(
        config(start_date="2024-01-01", end_date="2024-03-31", date_window_days=7, lookback_window_days=0, events=["Sign up", "Items purchased"], where='properties["$os"] == "iOS"')
    )
    assert (parsed.start_date, parsed.end_date) == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert (parsed.date_window_days, parsed.lookback_window_days) == (7, 0)
    assert parsed.events == ("Sign up", "Items purchased")
    assert parsed.where == 'properties["$os"] == "iOS"'


@pytest.mark.parametrize(
    "credentials, project_id",
    [
        (service_account(), 1),
        ({"auth_type": "project_secret", "api_secret": API_SECRET}, DROP),
        ({"auth_type": "oauth_token", "access_token": TOKEN}, DROP),
    ],
    ids=["service-account", "project-secret-without-project-id", "oauth-token-without-project-id"],
)
def test_each_auth_form_is_accepted_and_its_repr_hides_the_secret(credentials, project_id):
    parsed = parse(config(credentials=credentials, project_id=project_id))
    assert parsed.credentials.auth_type == credentials["auth_type"]
    assert not any(secret in repr(parsed.credentials) for secret in SECRETS)


BAD_CONFIGS = [
    ("credentials", config(credentials=DROP)),
    ("credentials", config(credentials="sa-secret-9f8e7d")),
    ("credentials.auth_type", config(credentials=service_account(auth_type="password"))),
    ("credentials.username", config(credentials=service_account(username=DROP))),
    ("credentials.secret", config(credentials=service_account(secret=DROP))),
    ("credentials.secret", config(credentials=service_account(secret="   "))),
    ("credentials.api_secret", config(credentials={"auth_type": "project_secret"})),
    ("credentials.access_token", config(credentials={"auth_type": "oauth_token", "access_token": ""})),
    ("project_id", config(project_id=DROP)),
    ("project_id", config(project_id="two")),
    ("project_id", config(project_id=0)),
    ("region", config(region="APAC")),
    ("project_timezone", config(project_timezone="Mars/Olympus_Mons")),
    ("project_timezone", config(project_timezone="Pacific Standard Tme")),
    ("end_date", config(start_date="2024-03-01", end_date="2024-02-29")),
    ("start_date", config(start_date="2024-06-16")),
    ("start_date", config(start_date="2024-06-15", legacy_local_time=True, project_timezone="America/Los_Angeles")),
    ("start_date", config(start_date="2024-13-01")),
    ("start_date", config(start_date="2024-02-30")),
    ("start_date", config(start_date="yesterday")),
    ("start_date", config(start_date=20240101)),
    ("end_date", config(end_date="not-a-date")),
    ("date_window_days", config(date_window_days=0)),
    ("date_window_days", config(date_window_days=-7)),
    ("date_window_days", config(date_window_days=1.5)),
    ("lookback_window_days", config(lookback_window_days=-1)),
    ("fresh_overlap_minutes", config(fresh_overlap_minutes=-1)),
    ("fresh_overlap_minutes", config(fresh_overlap_minutes=1441)),
    ("late_event_sweeps", config(late_event_sweeps=0)),
    ("late_event_sweeps", config(late_event_sweeps=31)),
    ("window_target_events", config(window_target_events=999)),
    ("base_url", config(base_url="http://data.mixpanel.com")),
    ("base_url", config(base_url="http://10.0.0.5:8080")),
    ("base_url", config(base_url=f"https://user:{URL_PASSWORD}@data.mixpanel.com")),
    ("base_url", config(base_url="https://data.mixpanel.com/?project_id=1")),
    ("base_url", config(base_url="data.mixpanel.com")),
    ("base_url", config(base_url="")),
    ("events", config(events="Sign up")),
    ("events", config(events=["Sign up", ""])),
    ("where", config(where=["a"])),
    ("legacy_local_time", config(legacy_local_time="yes")),
]
BAD_IDS = [
    "missing-credentials", "credentials-not-object", "unknown-auth-type", "missing-username", "missing-secret",
    "blank-secret", "missing-api-secret", "empty-access-token", "service-account-without-project-id",
    "project-id-not-number", "project-id-zero", "unknown-region", "unknown-iana-timezone", "misspelt-windows-timezone",
    "end-before-start", "start-in-future-utc", "start-in-future-la", "malformed-month", "malformed-day",
    "malformed-word", "date-not-string", "malformed-end", "zero-window", "negative-window", "fractional-window",
    "negative-lookback", "negative-overlap", "overlap-over-a-day", "no-sweep", "sweeps-over-30", "target-under-1000", "http-to-remote-host", "http-to-private-ip", "base-url-with-user-pass",
    "base-url-with-query", "base-url-without-scheme", "base-url-empty", "events-not-list", "events-empty-name",
    "where-not-string", "legacy-not-bool",
]


def assert_config_error_naming(field, raw):
    with pytest.raises(AirbyteTracedException) as raised:
        parse(raw)
    error = raised.value
    assert error.failure_type == FailureType.config_error
    assert f"'{field}'" in error.message, error.message
    assert "Traceback" not in error.message
    leaked = [secret for secret in SECRETS if secret in error.message or secret in (error.internal_message or "")]
    assert not leaked, error.message


@pytest.mark.parametrize("field, raw", BAD_CONFIGS, ids=BAD_IDS)
def test_bad_config_raises_a_config_error_naming_the_field_without_secrets(field, raw):
    assert_config_error_naming(field, raw)


def test_given_a_non_object_config_then_config_error():
    assert_config_error_naming("config", ["credentials"])


@pytest.mark.parametrize(
    "base_url",
    [f"ftp://user:{URL_PASSWORD}@data.mixpanel.com", f"https://user:{URL_PASSWORD}@/export"],
    ids=["non-http-scheme", "no-host"],
)
def test_given_base_url_with_password_and_another_mistake_then_the_password_is_not_echoed(base_url):
    assert_config_error_naming("base_url", config(base_url=base_url))


def test_given_a_doubly_negative_string_window_then_config_error():
    assert_config_error_naming("date_window_days", config(date_window_days="--5"))


# --- Unknown keys and a missing auth_type (issue 13) -----------------------------------------

@pytest.mark.parametrize(
    "key, suggestion",
    [("startDate", "start_date"), ("start-date", "start_date"), ("strat_date", "start_date"), ("endDate", "end_date"),
     ("projectId", "project_id"), ("timezone", "project_timezone"), ("date_window_size", "date_window_days"),
     ("lookback_days", "lookback_window_days")],
)
def test_given_a_misspelt_key_then_one_warning_names_it_and_the_closest_field(key, suggestion):
    [warning] = unknown_keys(config(**{key: "2024-01-01"}))
    assert f"'{key}'" in warning and f"Did you mean '{suggestion}'?" in warning and "ignored" in warning


def test_given_a_credentials_key_at_the_top_level_then_the_warning_says_it_belongs_inside_credentials():
    [warning] = unknown_keys(config(api_secret=API_SECRET))
    assert "'api_secret'" in warning and "inside 'credentials'" in warning and "project_secret" in warning
    assert API_SECRET not in warning  # the key is named, never its value


def test_given_a_key_like_no_field_then_the_warning_lists_the_known_fields():
    [warning] = unknown_keys(config(attribution_window=5))
    assert "'attribution_window'" in warning and "Did you mean" not in warning and "start_date" in warning


def test_given_only_known_fields_or_the_cdks_own_keys_then_no_warning():
    every_field = {name: None for name in SPEC["connectionSpecification"]["properties"]}
    cdk_keys = {"_limit": 1, "_page_size": 1, "__injected_declarative_manifest": {}, "__injected_components_py": ""}
    assert unknown_keys({**every_field, **cdk_keys}) == []
    assert unknown_keys("not a mapping") == []


def test_given_several_unknown_keys_then_one_warning_each_in_config_order():
    assert [w.split("'")[1] for w in unknown_keys(config(foo=1, startDate="2024-01-01", bar=2))] == ["foo", "startDate", "bar"]


def test_given_no_auth_type_then_the_error_says_it_is_missing_and_lists_the_three():
    raw = config(credentials={"username": SA_USER, "secret": SA_SECRET})
    with pytest.raises(AirbyteTracedException) as raised:
        parse(raw)
    message = raised.value.message
    assert raised.value.failure_type == FailureType.config_error
    assert "'credentials.auth_type'" in message and "is missing" in message and "None" not in message
    assert all(auth_type in message for auth_type in ("service_account", "project_secret", "oauth_token"))


def test_given_a_misspelt_required_field_then_the_error_names_the_field_and_the_key_that_was_meant():
    raw = config(credentials=DROP, credential=service_account())
    with pytest.raises(AirbyteTracedException) as raised:
        parse(raw)
    message = raised.value.message
    assert message.startswith("Config field 'credentials': is missing.")
    assert "Config key 'credential' is not a field of this connector and is ignored. Did you mean 'credentials'?" in message
    assert SA_SECRET not in message


@pytest.mark.parametrize(
    "field, value",
    [
        ("start_date", "2024-01-01T00:00:00+99:00"),
        ("start_date", "2024-01-01T00:00:00-25:00"),
        ("end_date", "9999-12-31T23:00:00-05:00"),
        ("start_date", "2024-02-30"),
        ("start_date", "2024-13-01T00:00:00Z"),
    ],
    ids=["offset-plus-99h", "offset-minus-25h", "year-9999-behind-utc", "february-30", "month-13"],
)
def test_given_an_impossible_date_then_the_config_error_names_that_field(field, value):
    extra = {"start_date": "2024-01-01"} if field == "end_date" else {}
    with pytest.raises(AirbyteTracedException) as raised:
        parse(config(**{**extra, field: value}))
    assert raised.value.failure_type == FailureType.config_error
    assert raised.value.message.startswith(f"Config field '{field}':"), raised.value.message


@pytest.mark.parametrize("field", ["date_window_days", "lookback_window_days", "request_timeout_seconds", "project_id", "fresh_overlap_minutes", "late_event_sweeps", "window_target_events"])
def test_given_a_number_written_as_text_then_the_field_is_named_and_not_coerced(field):
    with pytest.raises(AirbyteTracedException) as raised:
        parse(config(**{field: "7"}))
    assert raised.value.message.startswith(f"Config field '{field}':"), raised.value.message


# --- every wrong field at once (issue 21) -------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, fields",
    [
        pytest.param({"region": "APAC", "start_date": "yesterday", "date_window_days": 0}, ["region", "start_date", "date_window_days"], id="three-independent-fields"),
        pytest.param({"project_id": "forty-two", "project_timezone": "Mars/Olympus_Mons"}, ["project_id", "project_timezone"], id="a-wrong-project-id-is-not-also-missing"),
        pytest.param({"credentials": service_account(secret=""), "base_url": "ftp://x", "where": 5}, ["credentials.secret", "base_url", "where"], id="credentials-host-and-where"),
        pytest.param({"start_date": "2024-13-01", "end_date": "2024-01-01"}, ["start_date"], id="end-date-not-compared-with-a-start-that-failed"),
        pytest.param({"output_format": "xml", "lookback_window_days": -1}, ["lookback_window_days", "output_format"], id="xdm-checks-too"),
    ],
)
def test_given_several_wrong_fields_then_one_config_error_names_each_once_in_order(overrides, fields):
    with pytest.raises(AirbyteTracedException) as raised:
        parse(config(**overrides))
    message = raised.value.message
    assert raised.value.failure_type == FailureType.config_error
    named = [field for field in re.findall(r"Config field '([^']+)'", message)]
    assert named == fields, message
    if len(fields) > 1:
        assert message.startswith(f"{len(fields)} config fields need fixing: (1) Config field '{fields[0]}'"), message
    assert not [secret for secret in SECRETS if secret in message]


def test_given_one_wrong_field_then_its_message_is_as_before():
    with pytest.raises(AirbyteTracedException) as raised:
        parse(config(region="APAC"))
    assert raised.value.message == "Config field 'region': 'APAC' is not a Mixpanel region. Use US, EU or IN."
