"""The fake's Query API answers as the reference describes (integration_tests/fake_mixpanel/people.py)."""

from __future__ import annotations

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
