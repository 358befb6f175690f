"""profiles, cohorts and cohort_members over real HTTP against the fake Mixpanel: exact records, incremental, catalogs, auth.

Faults are in test_people_faults.py. Expected records are built from the fake's own data
(`expected_profiles`, its cohorts) through the pure mapping, never written out by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from airbyte_cdk.models import FailureType, SyncMode

from integration_tests.builders import (
    WRONG_CREDENTIALS,
    config,
    days_back,
    error_messages,
    expected_ids,
    ids,
    run_read,
    states,
    stream_records,
    stream_states,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.fake_mixpanel.people import last_seen_of
from source_mixpanel_aep.records.people import to_profile
from source_mixpanel_aep.streams.profiles import CURSOR_OVERLAP

COHORTS = [
    {"id": 11, "name": "Buyers", "description": "bought twice", "members": ["user-000001", "900003", "user-000004", "ghost-1"]},
    {"id": 12, "name": "Empty", "members": [], "is_visible": 0},
    {"id": 13, "name": "Big", "members": [f"user-{i:06d}" for i in range(0, 40, 2)]},
]


def people_fake(**options) -> FakeMixpanel:
    return FakeMixpanel(**{"profiles": 47, "page_size": 10, "cohorts": COHORTS, **options})


def engage_requests(fake):
    return [request for request in fake.requests if request.path == "/api/query/engage"]


def changed(index: int, when: dt.datetime, **extra) -> dict:
    """Profile `index` of the fake, last seen at `when`, with `extra` properties."""
    from integration_tests.fake_mixpanel.people import generated_profile

    profile = generated_profile(index)
    return {**profile, "$properties": {**profile["$properties"], "$last_seen": when.isoformat(), **extra}}


# --- full reads: the exact set ----------------------------------------------------------------


def test_given_47_profiles_in_pages_of_10_when_profiles_read_then_each_profile_once_exactly_as_mapped_and_one_state_at_the_end():
    with people_fake() as fake:
        output = run_read(config(fake.url), streams=["profiles"])
        expected = [to_profile(result) for result in fake.expected_profiles()]
        pages = [(request.form.get("page"), bool(request.form.get("session_id"))) for request in engage_requests(fake)]

    assert not output.errors
    assert stream_records(output, "profiles") == expected
    assert len(expected) == 47 and len({record["distinct_id"] for record in expected}) == 47
    assert pages == [(None, False), ("1", True), ("2", True), ("3", True), ("4", True)]  # 10+10+10+10+7: the short page ends it
    assert stream_states(output, "profiles") == [{"last_seen": last_seen_of(46).isoformat() + "Z"}]


def test_given_numeric_distinct_ids_when_profiles_read_then_they_are_text_and_the_custom_properties_keep_their_json_values():
    with people_fake() as fake:
        records = stream_records(run_read(config(fake.url), streams=["profiles"]), "profiles")
    by_id = {record["distinct_id"]: record for record in records}
    assert by_id["900003"]["properties"]["tags"] == ["a", "b"]  # profile 3's id is the number 900003
    assert by_id["user-000005"]["phone"] == "33100000005" and by_id["user-000005"]["properties"]["$phone"] == 33100000005


def test_given_three_cohorts_when_cohorts_and_cohort_members_read_then_exact_cohorts_and_every_member_once():
    with people_fake() as fake:
        output = run_read(config(fake.url), streams=["cohorts", "cohort_members"])
        filters = [json.loads(request.form["filter_by_cohort"])["id"] for request in engage_requests(fake) if not request.form.get("session_id")]

    assert not output.errors
    cohorts = stream_records(output, "cohorts")
    assert [(c["id"], c["name"], c["count"], c["is_visible"]) for c in cohorts] == [(11, "Buyers", 4, True), (12, "Empty", 0, False), (13, "Big", 20, True)]
    assert all(c["created"] == "2024-01-02T03:04:05Z" and c["project_id"] == 4242 for c in cohorts)
    members = stream_records(output, "cohort_members")
    expected = [(cohort["id"], member) for cohort in COHORTS for member in cohort["members"]]
    assert [(m["cohort_id"], m["distinct_id"]) for m in members] == expected  # incl. a member without a profile
    assert filters == [11, 12, 13]


def test_given_only_cohorts_selected_when_read_then_one_request_and_no_engage_query():
    with people_fake() as fake:
        output = run_read(config(fake.url), streams=["cohorts"])
        paths = [request.path for request in fake.requests]
    assert len(stream_records(output, "cohorts")) == 3 and not output.errors
    assert paths == ["/api/query/cohorts/list"]


# --- incremental profiles ----------------------------------------------------------------------


def test_given_a_saved_cursor_when_profiles_read_again_then_the_server_is_asked_only_for_changed_profiles_and_the_cursor_moves():
    later = dt.datetime(2024, 3, 1, 12, 0, 0)
    with people_fake() as fake:
        first = run_read(config(fake.url), streams=["profiles"])
        [first_state] = stream_states(first, "profiles")
        fake.set_profiles([changed(5, later, plan="team"), changed(9, later + dt.timedelta(minutes=1)),
                           {"$distinct_id": "new-1", "$properties": {"$last_seen": (later + dt.timedelta(minutes=2)).isoformat()}}])
        second = run_read(config(fake.url), streams=["profiles"], raw_state=states(profiles=first_state))
        [second_state] = stream_states(second, "profiles")
        fake.set_profiles([changed(20, later + dt.timedelta(hours=5))])
        third = run_read(config(fake.url), streams=["profiles"], raw_state=states(profiles=second_state))
        wheres = [request.form.get("where") for request in engage_requests(fake) if not request.form.get("session_id")]

    assert first_state == {"last_seen": "2024-01-01T00:46:00Z"}  # the newest profile: long before the sync started
    assert [r["distinct_id"] for r in stream_records(second, "profiles")] == ["user-000005", "user-000009", "new-1"]
    assert stream_records(second, "profiles")[0]["properties"]["plan"] == "team"
    assert second_state == {"last_seen": "2024-03-01T12:02:00Z"}
    assert [r["distinct_id"] for r in stream_records(third, "profiles")] == ["user-000020"]
    assert stream_states(third, "profiles") == [{"last_seen": "2024-03-01T17:00:00Z"}]
    assert wheres == [None, 'properties["$last_seen"] > "2024-01-01T00:46:00"', 'properties["$last_seen"] > "2024-03-01T12:02:00"']
    assert not [m for m in second.logs if m.log.level.name == "WARN"]  # a state file for profiles alone is not a problem


def test_given_profiles_seen_within_the_overlap_before_the_sync_when_read_then_the_cursor_stays_an_overlap_behind_the_start(monkeypatch):
    """A profile may show up in the query after its $last_seen: the cursor never claims the last CURSOR_OVERLAP."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    with people_fake(profiles=0) as fake:
        fake.set_profiles([changed(1, now - dt.timedelta(hours=3)), changed(2, now - dt.timedelta(minutes=10))])
        first = run_read(config(fake.url), streams=["profiles"])
        [state] = stream_states(first, "profiles")
        fake.set_profiles([changed(3, now - dt.timedelta(minutes=20))])  # late: last seen before the newest profile read
        second = run_read(config(fake.url), streams=["profiles"], raw_state=states(profiles=state))
    cursor = dt.datetime.fromisoformat(state["last_seen"].rstrip("Z"))
    assert now - CURSOR_OVERLAP - dt.timedelta(minutes=1) <= cursor <= now - CURSOR_OVERLAP + dt.timedelta(minutes=1)
    assert sorted(r["distinct_id"] for r in stream_records(second, "profiles")) == ["900003", "user-000002"]  # the late one, and the re-read


def test_given_a_full_refresh_catalog_when_profiles_read_with_a_saved_cursor_then_every_profile_is_read():
    with people_fake() as fake:
        output = run_read(config(fake.url), streams=["profiles"], sync_mode=SyncMode.full_refresh,
                          raw_state=states(profiles={"last_seen": "2030-01-01T00:00:00Z"}))
        wheres = [request.form.get("where") for request in engage_requests(fake)]
    assert len(stream_records(output, "profiles")) == 47
    assert not any(wheres)


def test_given_a_profiles_state_that_is_not_a_cursor_when_read_then_config_error_showing_the_expected_form():
    with people_fake() as fake:
        output = run_read(config(fake.url), streams=["profiles"], raw_state=states(profiles={"last_seen": "last tuesday"}))
        requests_made = len(fake.requests)
    [message] = error_messages(output)[:1]
    assert "profiles" in message and '{"last_seen": "2024-05-01T00:00:00Z"}' in message
    assert output.errors[0].trace.error.failure_type == FailureType.config_error
    assert requests_made == 0


# --- mixed catalogs: each stream its own records and state --------------------------------------


def test_given_events_and_profiles_in_one_catalog_when_read_then_each_has_its_records_and_its_own_state():
    days = days_back(2)
    with people_fake(events_per_day=5, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0])), streams=["events", "profiles"])
        expected_events = expected_ids(fake.expected_events(days[0], days[1]))
        hosts = {request.path for request in fake.requests}

    assert not output.errors
    assert ids(stream_records(output, "events")) == expected_events
    assert [m.record.stream for m in output.records][:10] == ["events"] * 10  # in catalog order
    assert len(stream_records(output, "profiles")) == 47
    [events_state] = stream_states(output, "events")
    assert events_state["timestamp"].startswith(str(days[1]))
    assert stream_states(output, "profiles") == [{"last_seen": last_seen_of(46).isoformat() + "Z"}]
    assert hosts == {"/api/2.0/export", "/api/query/engage"}  # base_url serves both when query_base_url is unset


def test_given_all_four_streams_when_read_then_every_stream_completes_with_its_exact_count():
    days = days_back(1)
    with people_fake(events_per_day=3, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0])), streams=["events", "profiles", "cohorts", "cohort_members"])
    counts = Counter(message.record.stream for message in output.records)
    assert counts == {"events": 3, "profiles": 47, "cohorts": 3, "cohort_members": 24}
    assert not output.errors


def test_given_query_base_url_when_read_then_query_streams_go_there_and_events_to_base_url():
    days = days_back(1)
    with FakeMixpanel(events_per_day=2, days=days) as export_fake, people_fake() as query_fake:
        output = run_read(config(export_fake.url, start_date=str(days[0]), query_base_url=query_fake.url), streams=["events", "profiles"])
        export_paths = {request.path for request in export_fake.requests}
        query_paths = {request.path for request in query_fake.requests}
    assert not output.errors
    assert export_paths == {"/api/2.0/export"} and query_paths == {"/api/query/engage"}


# --- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["service_account", "project_secret", "oauth_token"])
def test_given_each_auth_form_when_profiles_read_then_the_fake_accepts_it(auth):
    with people_fake() as fake:
        output = run_read(config(fake.url, auth=auth), streams=["profiles", "cohorts"])
        project_ids = {request.params.get("project_id") for request in fake.requests}
    assert not output.errors and len(stream_records(output, "profiles")) == 47
    assert project_ids == ({"4242"} if auth == "service_account" else {None})


@pytest.mark.parametrize("auth", ["service_account", "project_secret", "oauth_token"])
@pytest.mark.parametrize("stream", ["profiles", "cohorts", "cohort_members"])
def test_given_wrong_credentials_when_a_query_stream_is_read_then_config_error_about_credentials_and_no_retry(auth, stream):
    with people_fake() as fake:
        cfg = config(fake.url, auth=auth)
        cfg["credentials"] = dict(WRONG_CREDENTIALS[auth])
        output = run_read(cfg, streams=[stream])
        attempts = len(fake.requests)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert "did not accept" in error.message and "401" in error.message
    assert ("not OAuth tokens" in error.message) == (auth == "oauth_token")  # the Query API documents no OAuth
    assert attempts == 1
    assert not output.records


def test_given_a_project_the_service_account_cannot_see_when_profiles_read_then_config_error_naming_the_project():
    with people_fake() as fake:
        output = run_read(config(fake.url, project_id=999), streams=["profiles"])
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error and "project 999" in error.message


@pytest.mark.parametrize(
    "settings, status, words",
    [
        ({"payment_required": True}, "402", "does not include the Query API"),
        ({}, "404", "query_base_url"),
    ],
    ids=["402", "404"],
)
def test_given_no_query_api_when_profiles_read_then_config_error_saying_what_to_fix(settings, status, words):
    with people_fake(**settings) as fake:
        cfg = config(fake.url, query_base_url=fake.url + "/not-the-query-api") if status == "404" else config(fake.url)
        output = run_read(cfg, streams=["profiles"])
        attempts = len(fake.requests)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error
    assert status in error.message and words in error.message
    assert attempts == 1


def test_given_many_pages_when_profiles_read_then_progress_is_logged_every_10_pages_with_the_total():
    with people_fake(page_size=2) as fake:
        output = run_read(config(fake.url), streams=["profiles"])
    progress = [message.log.message for message in output.logs if "so far of" in message.log.message]
    assert progress == ["Stream 'profiles': 20 profiles so far of 47 (10 pages)", "Stream 'profiles': 40 profiles so far of 47 (20 pages)"]
