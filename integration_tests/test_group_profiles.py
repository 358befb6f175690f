"""`group_profiles` over real HTTP against the fake Mixpanel: exact records per group key, incremental per key, faults,
the config it needs; and what the three new streams are in xdm mode.

Expected records come from the fake's own group profiles through the pure mappings (people.to_profile, groups.to_group_profile).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests_mock
from airbyte_cdk.models import FailureType

from integration_tests.builders import (
    CREDENTIALS,
    FakeSleeps,
    config,
    error_messages,
    run_discover,
    run_read,
    states,
    stream_records,
    stream_states,
    warnings,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.records.groups import to_group_profile
from source_mixpanel_aep.records.people import to_profile

EPOCH = dt.datetime(2024, 1, 1)
GROUP_KEYS = [{"group_key": "company_id", "data_group_id": 1}, {"group_key": "team_id", "data_group_id": 2}]


def group(distinct_id, minutes, **properties):
    return {"$distinct_id": distinct_id, "$properties": {"$last_seen": (EPOCH + dt.timedelta(minutes=minutes)).isoformat(), **properties}}


COMPANIES = [group(f"co-{number:02d}", number, **{"$name": f"Company {number}", "seats": number}) for number in range(23)]
TEAMS = [group(4100 + number, 100 + number, **{"$name": f"Team {number}"}) for number in range(3)] + [{"$distinct_id": "t-no-seen", "$properties": {}}]


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)


def groups_fake() -> FakeMixpanel:
    fake = FakeMixpanel(page_size=10)
    fake.people.groups = {1: list(COMPANIES), 2: list(TEAMS)}
    return fake


def expected(key, results):
    return [to_group_profile(key, to_profile(result)) for result in results]


def engage_forms(fake):
    return [request.form for request in fake.requests if request.path == "/api/query/engage"]


def test_given_two_group_keys_when_read_then_each_group_profile_once_exactly_as_mapped_paged_like_profiles_and_a_state_per_key():
    with groups_fake() as fake:
        output = run_read(config(fake.url, group_keys=GROUP_KEYS), streams=["group_profiles"])
        forms = engage_forms(fake)
    assert not output.errors
    records = stream_records(output, "group_profiles")
    assert records == expected("company_id", COMPANIES) + expected("team_id", TEAMS)
    assert records[0] == {"group_key": "company_id", "group_id": "co-00", "last_seen": "2024-01-01T00:00:00Z", "name": "Company 0", "properties": {"seats": 0}}
    assert records[23]["group_id"] == "4100"  # a number id becomes its text
    assert [(form["data_group_id"], form.get("page")) for form in forms] == [("1", None), ("1", "1"), ("1", "2"), ("2", None)]  # 10+10+3, then 4
    assert stream_states(output, "group_profiles")[:2] == [{"group_keys": {"company_id": "2024-01-01T00:22:00Z"}},
                                                           {"group_keys": {"company_id": "2024-01-01T00:22:00Z", "team_id": "2024-01-01T01:42:00Z"}}]


def test_given_saved_cursors_when_read_again_then_each_group_key_asks_only_for_groups_seen_after_its_own_cursor():
    with groups_fake() as fake:
        first = run_read(config(fake.url, group_keys=GROUP_KEYS), streams=["group_profiles"])
        fake.people.groups[1].append(group("co-new", 60 * 24, **{"$name": "New Co"}))
        fake.people.groups[2][0] = group(4100, 60 * 24 * 2, **{"$name": "Team 0 renamed"})
        second = run_read(config(fake.url, group_keys=GROUP_KEYS), streams=["group_profiles"], raw_state=states(group_profiles=stream_states(first, "group_profiles")[-1]))
        wheres = [(form["data_group_id"], form.get("where")) for form in engage_forms(fake) if not form.get("session_id")]
    assert [(r["group_key"], r["group_id"]) for r in stream_records(second, "group_profiles")] == [("company_id", "co-new"), ("team_id", "4100")]
    assert stream_records(second, "group_profiles")[1]["name"] == "Team 0 renamed"
    assert wheres[2:] == [("1", 'properties["$last_seen"] > "2024-01-01T00:22:00"'), ("2", 'properties["$last_seen"] > "2024-01-01T01:42:00"')]
    assert stream_states(second, "group_profiles")[-1] == {"group_keys": {"company_id": "2024-01-02T00:00:00Z", "team_id": "2024-01-03T00:00:00Z"}}


@pytest.mark.parametrize(
    "kind, options",
    [("status", {"status": 500}), ("status", {"status": 429}), ("reset", {}), ("malformed", {}), ("expire_session", {})],
    ids=["500", "429", "reset", "not-json", "session-expired"],
)
def test_given_a_page_fails_when_group_profiles_read_then_the_read_recovers_and_every_group_profile_comes(sleeps, kind, options):
    with groups_fake() as fake:
        fake.add_fault("none", times=1)
        fake.add_fault(kind, times=2 if kind != "expire_session" else 1, **options)
        output = run_read(config(fake.url, group_keys=GROUP_KEYS), streams=["group_profiles"])
    assert not output.errors
    ids = [(r["group_key"], r["group_id"]) for r in stream_records(output, "group_profiles")]
    assert sorted(set(ids)) == sorted((r["group_key"], r["group_id"]) for r in expected("company_id", COMPANIES) + expected("team_id", TEAMS))
    if kind == "expire_session":
        assert any("is read again in" in line and "smaller parts, by $last_seen" in line for line in warnings(output))
    else:
        assert len(ids) == 27  # the same page again: nothing repeats


@pytest.mark.parametrize("scrambled", [False, True], ids=["sorted", "scrambled"])
def test_given_sessions_that_expire_after_one_page_when_read_then_each_key_is_read_in_parts_exactly_with_a_state_per_part(scrambled):
    with groups_fake() as fake:
        fake.people.session_ttl_pages, fake.people.scrambled = 1, scrambled
        output = run_read(config(fake.url, group_keys=GROUP_KEYS), streams=["group_profiles"])
    assert not output.errors
    records = stream_records(output, "group_profiles")
    want = expected("company_id", COMPANIES) + expected("team_id", TEAMS)
    key = lambda record: (record["group_key"], record["group_id"])  # noqa: E731
    assert sorted(set(map(key, records))) == sorted(map(key, want))
    assert all(record == next(w for w in want if key(w) == key(record)) for record in records)
    cursors = [state["group_keys"].get("company_id") for state in stream_states(output, "group_profiles")]
    assert len(cursors) > 2 and cursors == sorted(cursors, key=lambda c: c or "")  # a STATE per part, never backwards
    assert stream_states(output, "group_profiles")[-1] == {"group_keys": {"company_id": "2024-01-01T00:22:00Z", "team_id": "2024-01-01T01:42:00Z"}}


def test_given_group_profiles_selected_without_group_keys_when_read_then_a_config_error_names_the_field_before_any_request():
    with groups_fake() as fake:
        output = run_read(config(fake.url), streams=["group_profiles"])
        asked = len(fake.requests)
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.config_error}
    assert "Config field 'group_keys'" in error_messages(output)[0] and asked == 0


@pytest.mark.parametrize(
    "group_keys, field",
    [([{"group_key": "company_id"}], "group_keys.0"), ([{"group_key": "", "data_group_id": 1}], "group_keys.0"),
     ("company_id", "group_keys"), ([{"group_key": "a", "data_group_id": 1}, {"group_key": "a", "data_group_id": 2}], "group_keys")],
    ids=["no-id", "empty-key", "not-a-list", "twice"],
)
def test_given_a_wrong_group_keys_config_when_read_then_a_config_error_names_it(group_keys, field):
    with groups_fake() as fake:
        output = run_read(config(fake.url, group_keys=group_keys), streams=["group_profiles"])
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.config_error}
    assert f"Config field '{field}'" in error_messages(output)[0]


def test_given_a_data_group_id_the_project_does_not_have_when_read_then_a_config_error_with_mixpanels_words(sleeps):
    with groups_fake() as fake:
        output = run_read(config(fake.url, group_keys=[{"group_key": "company_id", "data_group_id": 9}]), streams=["group_profiles"])
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.config_error}
    assert any("Invalid data_group_id 9" in message for message in error_messages(output))


# --- xdm mode --------------------------------------------------------------------------------------


def test_given_xdm_output_when_the_three_new_streams_are_read_then_they_are_the_same_flat_records_as_in_flat_mode():
    xdm = {"output_format": "xdm", "xdm_tenant_id": "_extconndev"}
    with groups_fake() as fake:
        fake.reports.annotations = [{"id": 1, "date": "2024-01-02 00:00:00", "description": "release"}]
        fake.reports.funnels = [{"funnel_id": 7, "name": "Signup", "steps": ["a", "b"]}]
        settings = {"group_keys": GROUP_KEYS, "start_date": "2024-01-01", "end_date": "2024-01-03"}
        streams = ["annotations", "funnels", "group_profiles"]
        flat = run_read(config(fake.url, **settings), streams=streams)
        in_xdm = run_read(config(fake.url, **settings, **xdm), streams=streams)
        discovered = {s.name: s for s in run_discover(config(fake.url, **settings, **xdm)).catalog.catalog.streams}
    assert not in_xdm.errors
    for name in streams:
        assert stream_records(in_xdm, name) == stream_records(flat, name) and stream_records(flat, name), name
    assert discovered["group_profiles"].source_defined_primary_key == [["group_key"], ["group_id"]]
    assert discovered["funnels"].source_defined_primary_key == [["funnel_id"], ["date"]]


@pytest.mark.parametrize("region, base", [("EU", "https://eu.mixpanel.com"), ("IN", "https://in.mixpanel.com")], ids=["eu", "in"])
def test_given_a_region_when_group_profiles_read_then_every_query_goes_to_that_query_host(region, base):
    page = {"page": 0, "page_size": 1000, "session_id": "s-1", "status": "ok", "total": 1, "results": [COMPANIES[0]]}
    cfg = {"credentials": CREDENTIALS["service_account"], "project_id": 4242, "region": region, "group_keys": GROUP_KEYS[:1]}
    with requests_mock.Mocker() as mock:
        mock.post(re.compile(r".*/api/query/engage.*"), json=page)
        output = run_read(cfg, streams=["group_profiles"])
        sent = list(mock.request_history)
    assert [r["group_id"] for r in stream_records(output, "group_profiles")] == ["co-00"]
    assert [request.url.split("?")[0] for request in sent] == [f"{base}/api/query/engage"] and "data_group_id=1" in sent[0].text
