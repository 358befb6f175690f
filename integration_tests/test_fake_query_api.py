"""The fake's Query API answers as the reference describes (integration_tests/fake_mixpanel/people.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from integration_tests.fake_mixpanel import FAKE_PROJECT_ID, FAKE_PROJECT_SECRET, FAKE_SA_SECRET, FAKE_SA_USERNAME, FakeMixpanel

SA = (FAKE_SA_USERNAME, FAKE_SA_SECRET)
ENGAGE = "/api/query/engage"


@pytest.fixture
def fake():
    with FakeMixpanel(profiles=25, page_size=10, cohorts=[{"id": 4, "name": "Four", "members": ["user-000001", "ghost"]}]) as server:
        yield server


def post(fake, path=ENGAGE, auth=SA, project_id=FAKE_PROJECT_ID, **form):
    params = {"project_id": project_id} if project_id is not None else {}
    return requests.post(fake.url + path, params=params, data=form, auth=auth, timeout=10)


def test_pages_follow_the_session_until_a_short_page(fake):
    first = post(fake).json()
    pages = [first] + [post(fake, session_id=first["session_id"], page=n).json() for n in (1, 2)]
    assert [len(page["results"]) for page in pages] == [10, 10, 5]
    assert {page["total"] for page in pages} == {25} and {page["session_id"] for page in pages} == {first["session_id"]}
    ids = [result["$distinct_id"] for page in pages for result in page["results"]]
    assert len(set(map(str, ids))) == 25 and 900003 in ids  # every 7th id is a number


@pytest.mark.parametrize(
    "form, status, words",
    [
        ({"page": "1"}, 400, "session_id is required"),
        ({"session_id": "nope", "page": "1"}, 400, "Invalid session_id"),
        ({"where": 'properties["plan"] == "pro"'}, 400, "Invalid where"),
        ({"filter_by_cohort": json.dumps({"id": 99})}, 400, "Cohort 99 not found"),
    ],
)
def test_refusals(fake, form, status, words):
    answer = post(fake, **form)
    assert answer.status_code == status and words in answer.json()["error"]


def test_where_on_last_seen_narrows_the_query_both_ways(fake):
    at_least = post(fake, where='properties["$last_seen"] >= "2024-01-01T00:20:00"').json()
    after = post(fake, where='properties["$last_seen"] > "2024-01-01T00:20:00"').json()
    assert at_least["total"] == 5 and after["total"] == 4


def test_a_cohort_query_answers_members_with_or_without_a_profile_and_only_the_asked_properties(fake):
    answer = post(fake, filter_by_cohort=json.dumps({"id": 4}), output_properties=json.dumps(["$last_seen"])).json()
    assert answer["results"] == [{"$distinct_id": "user-000001", "$properties": {"$last_seen": "2024-01-01T00:01:00"}},
                                 {"$distinct_id": "ghost", "$properties": {}}]
    fake.people.deleted_after_list.add(4)
    assert post(fake, path="/api/query/cohorts/list").json()[0]["id"] == 4  # still listed
    assert post(fake, filter_by_cohort=json.dumps({"id": 4})).status_code == 400


def test_auth_rules_are_the_exports(fake):
    assert post(fake, auth=("someone", "wrong")).status_code == 401
    assert post(fake, project_id=None).status_code == 400  # a service account needs project_id
    assert post(fake, project_id=1).status_code == 403
    assert post(fake, auth=(FAKE_PROJECT_SECRET, ""), project_id=None).status_code == 200
    assert requests.get(fake.url + ENGAGE, params={"project_id": FAKE_PROJECT_ID}, auth=SA, timeout=10).status_code == 405


def test_expire_session_forgets_open_sessions(fake):
    first = post(fake).json()
    fake.add_fault("expire_session")
    assert post(fake, session_id=first["session_id"], page=1).status_code == 400
    assert [request.fault for request in fake.requests] == [None, "expire_session"]


@pytest.mark.parametrize(
    "where, total",
    [
        ('properties["$last_seen"] > "2024-01-01T00:05:00" and properties["$last_seen"] <= "2024-01-01T00:09:00"', 4),
        ('properties["$last_seen"] < "2024-01-01T00:03:00"', 3),
        ('properties["$last_seen"] <= "2024-01-01T00:03:30"', 4),
        ('not defined(properties["$last_seen"])', 1),
    ],
    ids=["closed-range", "below", "at-most-between-minutes", "undefined"],
)
def test_where_ranges_and_not_defined_on_last_seen(fake, where, total):
    fake.set_profiles([{"$distinct_id": "unseen", "$properties": {"$email": "u@example.com"}}])
    assert post(fake, where=where).json()["total"] == total


def test_where_with_a_cohort_filters_its_members_and_undefined_takes_those_without_a_profile(fake):
    below = post(fake, filter_by_cohort=json.dumps({"id": 4}), where='properties["$last_seen"] <= "2024-01-01T00:01:00"').json()
    undefined = post(fake, filter_by_cohort=json.dumps({"id": 4}), where='not defined(properties["$last_seen"])').json()
    assert [r["$distinct_id"] for r in below["results"]] == ["user-000001"]
    assert [r["$distinct_id"] for r in undefined["results"]] == ["ghost"]


def test_session_ttl_pages_serves_k_pages_then_forgets_the_session(fake):
    fake.people.session_ttl_pages = 2
    first = post(fake).json()
    assert post(fake, session_id=first["session_id"], page=1).status_code == 200
    refused = post(fake, session_id=first["session_id"], page=2)
    assert refused.status_code == 400 and "Invalid session_id" in refused.json()["error"]


def test_session_ttl_seconds_forgets_the_session_by_the_fakes_clock():
    now = [dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)]
    with FakeMixpanel(profiles=25, page_size=10, now=lambda: now[0]) as server:
        server.people.session_ttl_seconds = 60
        first = post(server).json()
        now[0] += dt.timedelta(seconds=60)
        assert post(server, session_id=first["session_id"], page=1).status_code == 200
        now[0] += dt.timedelta(seconds=1)
        assert post(server, session_id=first["session_id"], page=2).status_code == 400


def test_scrambled_answers_every_profile_once_not_by_last_seen(fake):
    fake.people.scrambled = True
    first = post(fake).json()
    pages = [first] + [post(fake, session_id=first["session_id"], page=n).json() for n in (1, 2)]
    seen = [r["$properties"]["$last_seen"] for page in pages for r in page["results"]]
    assert len(seen) == len(set(seen)) == 25 and seen != sorted(seen)
