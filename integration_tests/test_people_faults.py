"""Faults of the Query API streams over real HTTP against the fake: retries of the same page, session restarts, loud failures.

Waits are recorded, not slept (`FakeSleeps`). Every test checks the exact profiles delivered.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
import time_machine
from airbyte_cdk.models import AirbyteStreamStatus, FailureType

from integration_tests.builders import (
    FakeSleeps,
    catalog_json,
    config,
    days_back,
    protocol_lines,
    run_process,
    run_read,
    stream_records,
    stream_states,
    warnings,
    write_files,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from integration_tests.fake_mixpanel.people import distinct_id_of
from source_mixpanel_aep.streams.engage import SESSION_RESTARTS
from source_mixpanel_aep.streams.settings import MAX_RETRIES

PROFILES, PAGE = 35, 10  # pages of 10, 10, 10, 5
ALL_IDS = [str(distinct_id_of(index)) for index in range(PROFILES)]


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)


def fake_with(**options) -> FakeMixpanel:
    return FakeMixpanel(**{"profiles": PROFILES, "page_size": PAGE, **options})


def profile_ids(output):
    return [record["distinct_id"] for record in stream_records(output, "profiles")]


def pages_asked(fake):
    return [request.form.get("page", "0") for request in fake.requests if request.path == "/api/query/engage"]



def statuses(output, stream="profiles"):
    return [m.trace.stream_status.status for m in output.trace_messages
            if m.trace.stream_status and m.trace.stream_status.stream_descriptor.name == stream]


# --- the same page again -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, options",
    [
        ("status", {"status": 500}),
        ("status", {"status": 503}),
        ("status", {"status": 429}),
        ("reset", {}),
        ("malformed", {}),  # a complete response that is not JSON
    ],
    ids=["500", "503", "429", "reset", "not-json"],
)
def test_given_page_2_fails_twice_when_profiles_read_then_the_same_page_is_asked_again_and_each_profile_comes_once(sleeps, kind, options):
    with fake_with() as fake:
        fake.add_fault("none", times=2)  # pages 0 and 1
        fake.add_fault(kind, times=2, **options)
        output = run_read(config(fake.url), streams=["profiles"])
        pages = pages_asked(fake)
    assert not output.errors
    assert profile_ids(output) == ALL_IDS
    assert pages == ["0", "1", "2", "2", "2", "3"]
    assert len(sleeps.http) == 2 and sleeps.pacing == []
    assert stream_states(output, "profiles") == [{"last_seen": "2024-01-01T00:34:00Z"}]


def test_given_429_with_retry_after_when_profiles_read_then_it_waits_that_long(sleeps):
    with fake_with() as fake:
        fake.add_fault("status", status=429, headers={"Retry-After": "17"})
        output = run_read(config(fake.url), streams=["profiles"])
    assert profile_ids(output) == ALL_IDS
    assert sleeps.http == [18.0]  # Retry-After, plus the CDK's 1 s


def test_given_a_stalled_page_when_profiles_read_then_the_read_timeout_asks_for_the_page_again(sleeps):
    with fake_with() as fake:
        fake.add_fault("none")
        fake.add_fault("stall", seconds=10)
        output = run_read(config(fake.url, request_timeout_seconds=1), streams=["profiles"])
        pages = pages_asked(fake)
    assert profile_ids(output) == ALL_IDS
    assert pages == ["0", "1", "1", "2", "3"]


def test_given_cohorts_list_fails_once_when_cohorts_read_then_it_is_asked_again(sleeps):
    with fake_with(cohorts=[{"id": 1, "members": ["a"]}]) as fake:
        fake.add_fault("status", status=502)
        output = run_read(config(fake.url), streams=["cohorts"])
    assert [record["id"] for record in stream_records(output, "cohorts")] == [1]
    assert len(sleeps.http) == 1


# --- sessions ----------------------------------------------------------------------------------


def test_given_the_session_expires_at_page_2_when_profiles_read_then_a_warn_and_the_rest_is_read_as_a_new_part(sleeps):
    with fake_with() as fake:
        fake.add_fault("none", times=2)
        fake.add_fault("expire_session")
        output = run_read(config(fake.url), streams=["profiles"])
        pages = pages_asked(fake)
        wheres = [r.form.get("where") for r in fake.requests if r.path == "/api/query/engage" and not r.form.get("session_id")]
    delivered = profile_ids(output)
    assert not output.errors
    # the pages came sorted by $last_seen: profiles up to 00:18:59 are done, the last second read (00:19) comes again
    assert delivered == ALL_IDS[:20] + ALL_IDS[19:]
    assert pages == ["0", "1", "2", "0", "0", "1"]
    assert wheres == [None, 'not defined(properties["$last_seen"])', 'properties["$last_seen"] > "2024-01-01T00:18:59"']
    [warning] = [w for w in warnings(output) if "session_id" in w]
    assert "page 2" in warning and "sorted by $last_seen" in warning and "new query" in warning
    assert stream_states(output, "profiles") == [{"last_seen": "2024-01-01T00:18:59Z"}, {"last_seen": "2024-01-01T00:34:00Z"}]
    assert sleeps.http == []  # no backoff: a new query at once


def test_given_the_session_keeps_expiring_on_one_second_of_profiles_when_read_then_transient_error_naming_the_part(sleeps):
    with fake_with() as fake:
        fake.set_profiles({"$distinct_id": f"same-{i:02d}", "$properties": {"$last_seen": "2024-03-01T10:00:00"}} for i in range(35))
        fake.people.profile_count = 0
        fake.people.session_ttl_pages = 1
        output = run_read(config(fake.url), streams=["profiles"])
        queries = [r for r in fake.requests if r.path == "/api/query/engage" and not r.form.get("session_id")]
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.transient_error
    assert "(2024-03-01T09:59:59, 2024-03-01T10:00:00]" in error.message and "cannot be split" in error.message
    assert f"expired {SESSION_RESTARTS + 1} times" in error.message and "emitted in this sync" in error.message
    assert len(queries) <= 80  # bounded: halving 1970..now to one second (~31 levels: a part and its neighbour each), then the restarts
    cursors = [state["last_seen"] for state in stream_states(output, "profiles")]
    assert cursors == sorted(cursors) and cursors[-1] == "2024-03-01T09:59:59Z"  # every part below it was complete
    assert AirbyteStreamStatus.INCOMPLETE in statuses(output)


def test_given_a_session_expires_in_a_cohort_query_when_members_read_then_that_cohort_is_read_again(sleeps):
    members = [f"m{i}" for i in range(25)]
    with fake_with(cohorts=[{"id": 5, "members": members}]) as fake:
        fake.add_fault("none", times=3)  # cohorts/list, cohort 5 pages 0 and 1
        fake.add_fault("expire_session")
        output = run_read(config(fake.url), streams=["cohort_members"])
    delivered = [record["distinct_id"] for record in stream_records(output, "cohort_members")]
    assert delivered == members[:20] + members
    assert not output.errors


# --- giving up ---------------------------------------------------------------------------------


def test_given_a_page_that_never_recovers_when_events_and_profiles_read_then_loud_transient_error_naming_the_page_and_events_state_kept(sleeps):
    days = days_back(1)
    with fake_with(events_per_day=3, days=days) as fake:
        fake.add_fault("none", times=3)  # the export window, profiles pages 0 and 1
        fake.add_fault("status", status=503, times=1 + MAX_RETRIES)
        output = run_read(config(fake.url, start_date=str(days[0])), streams=["events", "profiles"])
        again = run_read(config(fake.url, start_date=str(days[0])), streams=["profiles"])
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.transient_error
    assert "page 2" in error.message and "503" in error.message and "20 profiles" in error.message and "Traceback" not in error.message
    assert f"after {MAX_RETRIES} retries" in error.message, error.message
    assert len(stream_states(output, "events")) == 1  # what completed keeps its state
    assert stream_states(output, "profiles") == []  # a partial query never moves the cursor
    assert profile_ids(output) == ALL_IDS[:20]
    assert AirbyteStreamStatus.INCOMPLETE in statuses(output)
    assert len(sleeps.http) == MAX_RETRIES
    assert profile_ids(again) == ALL_IDS  # Mixpanel is back: the next run reads everything


def test_given_a_query_api_that_never_recovers_when_run_as_a_command_then_exit_code_is_not_zero_after_a_clear_trace(tmp_path):
    with fake_with() as fake:
        fake.add_fault("status", status=500, times=1000)
        files = write_files(tmp_path, config=config(fake.url), catalog=catalog_json(streams=["profiles"]))
        done = run_process(["read", "--config", files["config"], "--catalog", files["catalog"]], fast_sleep=True)
    messages = protocol_lines(done.stdout)
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert done.returncode != 0
    assert errors and errors[0]["failure_type"] == "transient_error" and "page 0" in errors[0]["message"]


def test_given_a_retry_after_the_retry_budget_cannot_wait_out_when_profiles_read_then_the_error_counts_the_retries_made(monkeypatch):
    noon = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time(12), tzinfo=dt.timezone.utc)
    with fake_with() as fake, time_machine.travel(noon, tick=True) as clock:
        monkeypatch.setattr(time, "sleep", lambda seconds: clock.shift(seconds))  # the backoff's 30-minute budget sees the waits
        fake.add_fault("status", status=503, headers={"Retry-After": "1000"}, times=10)
        output = run_read(config(fake.url), streams=["profiles"])
        answered = [request.status for request in fake.requests]
    message = output.errors[-1].trace.error.message
    assert answered == [503, 503, 503]  # waits of 1001 s: the third answer comes after 2002 s, past the 1800 s budget
    assert "page 0" in message and "after 2 retries" in message and f"{MAX_RETRIES} retries" not in message, message


# --- cohorts -----------------------------------------------------------------------------------


def test_given_a_cohort_deleted_between_the_list_and_its_members_query_when_read_then_skipped_with_a_warn(sleeps):
    cohorts = [{"id": 1, "name": "Kept", "members": ["a", "b"]}, {"id": 2, "name": "Gone", "members": ["c"]}, {"id": 3, "members": ["d"]}]
    with fake_with(cohorts=cohorts) as fake:
        fake.people.deleted_after_list.add(2)
        output = run_read(config(fake.url), streams=["cohorts", "cohort_members"])
    assert not output.errors
    assert [record["id"] for record in stream_records(output, "cohorts")] == [1, 2, 3]
    assert [(r["cohort_id"], r["distinct_id"]) for r in stream_records(output, "cohort_members")] == [(1, "a"), (1, "b"), (3, "d")]
    [warning] = [w for w in warnings(output) if "cohort 2" in w]
    assert "'Gone'" in warning and "Skipped" in warning and sleeps.http == []


def test_given_repeated_distinct_ids_across_cohorts_when_members_read_then_each_pair_once():
    cohorts = [{"id": 1, "members": ["a", "b"]}, {"id": 2, "members": ["b", "c"]}]
    with fake_with(cohorts=cohorts) as fake:
        output = run_read(config(fake.url), streams=["cohort_members"])
    pairs = [(r["cohort_id"], r["distinct_id"]) for r in stream_records(output, "cohort_members")]
    assert pairs == [(1, "a"), (1, "b"), (2, "b"), (2, "c")] and max(Counter(pairs).values()) == 1
