"""Query API reads whose sessions keep expiring always finish: read in `$last_seen` parts, checkpointed, bounded.

Over real HTTP against the fake, whose sessions expire after K pages (`session_ttl_pages`) or a
time (`session_ttl_seconds`, on the fake's clock). Query pacing is recorded, not slept (`FakeSleeps`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from airbyte_cdk.models import FailureType

from integration_tests.builders import FakeSleeps, config, run_read, states, stream_records, stream_states, warnings
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.fake_mixpanel.people import distinct_id_of, last_seen_of
from source_mixpanel_aep.streams.engage import SESSION_RESTARTS
from source_mixpanel_aep.streams.settings import MAX_RETRIES

ENGAGE = "/api/query/engage"


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)


def ids_of(output, stream="profiles"):
    return [record["distinct_id"] for record in stream_records(output, stream)]


def queries(fake):
    """The Engage queries asked (page 0 of a session), each with its where."""
    return [request.form for request in fake.requests if request.path == ENGAGE and not request.form.get("session_id")]


def all_ids(count):
    return {str(distinct_id_of(index)) for index in range(count)}


@pytest.mark.parametrize("scrambled", [False, True], ids=["sorted-by-last-seen", "scrambled-order"])
def test_given_2500_profiles_and_sessions_that_expire_every_2_pages_when_read_then_every_profile_is_delivered_and_the_read_ends(sleeps, scrambled):
    with FakeMixpanel(profiles=2500, page_size=500) as fake:
        fake.people.session_ttl_pages, fake.people.scrambled = 2, scrambled
        output = run_read(config(fake.url), streams=["profiles"])
        asked = queries(fake)
    delivered = ids_of(output)
    assert not output.errors
    assert set(delivered) == all_ids(2500)
    assert len(asked) <= (6 if not scrambled else 12)  # on main: the same 1,000 profiles again and again, then a failure
    cursors = [state["last_seen"] for state in stream_states(output, "profiles")]
    assert len(cursors) >= 2 and cursors == sorted(cursors) and cursors[-1] == "2024-01-02T17:39:00Z"  # one STATE per complete part, ascending
    assert any("session_id" in warning for warning in warnings(output))


def test_given_sessions_that_expire_after_150_seconds_when_read_then_every_profile_is_delivered(sleeps):
    start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
    ticks = iter(range(10**6))

    def clock():  # a minute passes per request
        return start + dt.timedelta(minutes=next(ticks))

    with FakeMixpanel(profiles=2500, page_size=500, now=clock) as fake:
        fake.people.session_ttl_seconds, fake.people.scrambled = 150, True
        output = run_read(config(fake.url), streams=["profiles"])
        asked = queries(fake)
    assert not output.errors
    assert set(ids_of(output)) == all_ids(2500)
    assert 1 < len(asked) <= 12


def test_given_profiles_without_last_seen_and_expiring_sessions_when_full_refresh_then_they_are_delivered_too(sleeps):
    from airbyte_cdk.models import SyncMode

    unseen = [{"$distinct_id": f"never-seen-{i}", "$properties": {"$email": f"n{i}@example.com"}} for i in range(7)]
    with FakeMixpanel(profiles=300, page_size=50) as fake:
        fake.set_profiles(unseen)
        fake.people.session_ttl_pages, fake.people.scrambled = 2, True
        output = run_read(config(fake.url), streams=["profiles"], sync_mode=SyncMode.full_refresh)
        wheres = [form.get("where") for form in queries(fake)]
    assert not output.errors
    assert set(ids_of(output)) == all_ids(300) | {f"never-seen-{i}" for i in range(7)}
    assert 'not defined(properties["$last_seen"])' in wheres  # their own part


def test_given_an_incremental_sync_that_fails_mid_way_when_run_again_then_it_resumes_after_the_last_complete_part(sleeps):
    with FakeMixpanel(profiles=2500, page_size=500) as fake:
        fake.people.session_ttl_pages = 2
        fake.add_fault("none", times=7)  # the first parts
        fake.add_fault("status", status=503, times=1 + MAX_RETRIES)  # then Mixpanel is down for the rest of this run
        first = run_read(config(fake.url), streams=["profiles"])
        saved = stream_states(first, "profiles")
        before = len(fake.requests)
        again = run_read(config(fake.url), streams=["profiles"], raw_state=states(profiles=saved[-1]))
        resumed = [r.form for r in fake.requests[before:] if r.path == ENGAGE and not r.form.get("session_id")]
    assert first.errors and first.errors[0].trace.error.failure_type == FailureType.transient_error
    assert saved, "a STATE after each complete part, before the failure"
    cursor = saved[-1]["last_seen"]
    assert resumed[0]["where"] == f'properties["$last_seen"] > "{cursor.rstrip("Z")}"'
    seen_after = {str(distinct_id_of(i)) for i in range(2500) if last_seen_of(i).isoformat() > cursor.rstrip("Z")}
    assert not again.errors
    assert set(ids_of(again)) == seen_after and len(seen_after) < 2500  # only what the first run did not complete
    assert set(ids_of(first)) | set(ids_of(again)) == all_ids(2500)


def test_given_a_part_that_can_never_finish_when_read_then_a_transient_error_after_a_bounded_number_of_queries(sleeps):
    with FakeMixpanel(profiles=0, page_size=10) as fake:
        fake.set_profiles({"$distinct_id": f"same-{i:02d}", "$properties": {"$last_seen": "2024-03-01T10:00:00"}} for i in range(35))
        fake.people.session_ttl_pages = 1  # and 35 profiles in one second: no part of it fits
        output = run_read(config(fake.url), streams=["profiles"])
        asked = queries(fake)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.transient_error
    assert "(2024-03-01T09:59:59, 2024-03-01T10:00:00]" in error.message and f"expired {SESSION_RESTARTS + 1} times" in error.message
    assert f"in {len(asked)} queries" in error.message and "profiles were emitted in this sync" in error.message
    assert len(asked) <= 80  # ~31 levels of halving from 1970 to one second, a part and its empty neighbour each, then the restarts
    assert "Traceback" not in error.message


def test_given_a_big_cohort_and_sessions_that_expire_every_2_pages_when_members_read_then_every_member_is_delivered(sleeps):
    members = [str(distinct_id_of(i)) for i in range(0, 5000, 2)] + [f"no-profile-{i}" for i in range(30)]
    with FakeMixpanel(profiles=5000, page_size=250, cohorts=[{"id": 9, "name": "Big", "members": members}]) as fake:
        fake.people.session_ttl_pages, fake.people.scrambled = 2, True
        output = run_read(config(fake.url), streams=["cohort_members"])
        asked = [form for form in queries(fake) if form.get("filter_by_cohort")]
    assert not output.errors
    records = stream_records(output, "cohort_members")
    assert {r["distinct_id"] for r in records} == set(members) and {r["cohort_id"] for r in records} == {9}
    assert all(form["filter_by_cohort"] == '{"id": 9}' for form in asked) and 1 < len(asked) <= 20
    assert max(Counter(r["distinct_id"] for r in records).values()) <= 3


def test_given_a_cohort_whose_members_have_no_profiles_and_sessions_expire_every_page_when_read_then_a_transient_error_naming_the_cohort(sleeps):
    members = [f"ghost-{i}" for i in range(30)]
    with FakeMixpanel(profiles=0, page_size=10, cohorts=[{"id": 3, "name": "Ghosts", "members": members}]) as fake:
        fake.people.session_ttl_pages = 1
        output = run_read(config(fake.url), streams=["cohort_members"])
        asked = queries(fake)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.transient_error
    assert "cohort 3 ('Ghosts')" in error.message and "the part without $last_seen" in error.message
    assert "members were emitted" in error.message
    assert len(asked) <= 2 + SESSION_RESTARTS + 1


def test_given_pages_that_only_look_sorted_because_they_share_one_last_seen_when_the_session_expires_then_no_profile_is_lost(sleeps):
    bulk = [{"$distinct_id": f"bulk-{i:02d}", "$properties": {"$last_seen": "2024-06-01T12:00:00"}} for i in range(30)]
    earlier = [{"$distinct_id": f"early-{i:02d}", "$properties": {"$last_seen": f"2024-05-{i + 1:02d}T08:00:00"}} for i in range(20)]
    with FakeMixpanel(profiles=0, page_size=10) as fake:
        fake.set_profiles(bulk + earlier)  # answered in this order: the first pages are all one instant
        fake.add_fault("none", times=2)
        fake.add_fault("expire_session")  # at page 2, after 20 profiles of one instant
        output = run_read(config(fake.url), streams=["profiles"])
    assert not output.errors
    assert set(ids_of(output)) == {p["$distinct_id"] for p in bulk + earlier}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_given_random_session_expiries_and_5xx_when_profiles_read_then_every_profile_is_delivered_within_a_bounded_number_of_queries(sleeps, seed):
    import random

    chance = random.Random(seed)
    with FakeMixpanel(profiles=400, page_size=20) as fake:
        fake.people.scrambled = seed % 2 == 0
        for _ in range(400):  # one fault (or none) per request, in order
            roll = chance.random()
            if roll < 0.2:
                fake.add_fault("expire_session")
            elif roll < 0.3:
                fake.add_fault("status", status=503)
            else:
                fake.add_fault("none")
        output = run_read(config(fake.url), streams=["profiles"])
        asked = queries(fake)
    assert not output.errors
    assert set(ids_of(output)) == all_ids(400)
    assert len(asked) <= 60  # measured 7 to 24 over these seeds
    cursors = [state["last_seen"] for state in stream_states(output, "profiles")]
    assert cursors == sorted(cursors) and cursors[-1] == last_seen_of(399).isoformat() + "Z"
