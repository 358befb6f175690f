"""`annotations` over real HTTP against the fake Mixpanel: exact records, incremental runs, faults, hosts.

Expected records come from the fake's own entries through the pure mapping (reports.to_annotation).
"""

from __future__ import annotations

import re

import pytest
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode

from integration_tests.builders import (
    CREDENTIALS,
    FakeSleeps,
    config,
    error_messages,
    run_read,
    states,
    stream_records,
    stream_states,
    warnings,
)
from integration_tests.fake_mixpanel import FakeMixpanel
from source_mixpanel_aep.records.reports import to_annotation

ANNOTATIONS = [
    {"id": 51, "project_id": 4242, "date": "2024-03-01 10:00:00", "description": "v2.3 released",
     "user": {"id": 7, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}, "tags": [{"id": 3, "name": "release"}]},
    {"id": 52, "project_id": 4242, "date": "2024-03-04 00:00:00", "description": "Campaign start", "tags": []},
    {"id": 50, "project_id": 4242, "date": "2023-12-31 23:00:00", "description": "before start_date"},
]


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)


def annotations_fake(entries=ANNOTATIONS) -> FakeMixpanel:
    fake = FakeMixpanel()
    fake.reports.annotations = [dict(entry) for entry in entries]
    return fake


def annotation_requests(fake):
    return [request for request in fake.requests if "annotations" in request.path]


def test_given_three_annotations_when_read_from_start_date_then_the_two_dated_since_come_exactly_as_mapped_with_one_request():
    with annotations_fake() as fake:
        output = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"], sync_mode=SyncMode.full_refresh)
        sent = annotation_requests(fake)
    assert not output.errors
    assert stream_records(output, "annotations") == [to_annotation(entry) for entry in ANNOTATIONS[:2]]
    first = stream_records(output, "annotations")[0]
    assert first == {"id": 51, "date": "2024-03-01T10:00:00Z", "description": "v2.3 released",
                     "user": {"id": 7, "name": "Ann Lee", "email": "ann@example.com"}, "tags": ["release"], "project_id": 4242}
    assert [(r.path, r.params.get("fromDate")) for r in sent] == [("/api/app/projects/4242/annotations", "2024-01-01")]


def test_given_a_saved_cursor_when_annotations_read_again_then_only_the_cursor_day_and_later_are_asked_and_the_cursor_moves():
    with annotations_fake() as fake:
        first = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"])
        [first_state] = stream_states(first, "annotations")
        fake.reports.annotations.append({"id": 53, "project_id": 4242, "date": "2024-03-04 08:30:00", "description": "hotfix"})
        fake.reports.annotations.append({"id": 54, "project_id": 4242, "date": "2024-03-09 00:00:00", "description": "next"})
        second = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"], raw_state=states(annotations=first_state))
        third = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"], raw_state=states(annotations=stream_states(second, "annotations")[-1]))
        froms = [request.params.get("fromDate") for request in annotation_requests(fake)]
    assert first_state == {"date": "2024-03-04T00:00:00Z"}
    assert [r["id"] for r in stream_records(second, "annotations")] == [52, 53, 54]  # the cursor's day again: a same-day annotation is not missed
    assert stream_states(second, "annotations") == [{"date": "2024-03-09T00:00:00Z"}]
    assert [r["id"] for r in stream_records(third, "annotations")] == [54]
    assert froms == ["2024-01-01", "2024-03-04", "2024-03-09"]


@pytest.mark.parametrize("extra", [{}, {"project_id": 4242}], ids=["no-project-id", "with-project-id"])
def test_given_a_project_secret_when_annotations_read_then_the_older_endpoint_is_asked_with_its_date_names(extra):
    with annotations_fake() as fake:
        output = run_read(config(fake.url, auth="project_secret", start_date="2024-01-01", end_date="2024-03-02", **extra), streams=["annotations"])
        [sent] = annotation_requests(fake)
    assert not output.errors
    assert [r["id"] for r in stream_records(output, "annotations")] == [51]
    assert stream_records(output, "annotations")[0] == {"id": 51, "date": "2024-03-01T10:00:00Z", "description": "v2.3 released", "tags": [], "project_id": 4242}
    assert (sent.path, sent.params["from_date"], sent.params["to_date"]) == ("/api/2.0/annotations", "2024-01-01", "2024-03-02")


@pytest.mark.parametrize(
    "kind, options",
    [("status", {"status": 500}), ("status", {"status": 503}), ("status", {"status": 429, "headers": {"Retry-After": "7"}}), ("reset", {}), ("malformed", {})],
    ids=["500", "503", "429", "reset", "not-json"],
)
def test_given_the_annotations_request_fails_twice_when_read_then_it_is_asked_again_and_each_annotation_comes_once(sleeps, kind, options):
    with annotations_fake() as fake:
        fake.add_fault(kind, times=2, **options)
        output = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"])
        asked = len(annotation_requests(fake))
    assert not output.errors
    assert [r["id"] for r in stream_records(output, "annotations")] == [51, 52]
    assert asked == 3
    if kind == "status" and options["status"] == 429:
        assert [round(wait) for wait in sleeps.http][:2] == [8, 8]  # Retry-After, plus the CDK's second


def test_given_the_annotations_request_fails_every_time_when_read_then_a_transient_error_and_the_old_cursor_stays(sleeps):
    with annotations_fake() as fake:
        fake.add_fault("status", times=50, status=502)
        output = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"], raw_state=states(annotations={"date": "2024-02-01T00:00:00Z"}))
    assert output.errors and {e.trace.error.failure_type for e in output.errors} == {FailureType.transient_error}
    assert any("annotations" in message and "502" in message for message in error_messages(output))
    assert stream_records(output, "annotations") == []
    assert stream_states(output, "annotations") in ([], [{"date": "2024-02-01T00:00:00Z"}])


def test_given_an_unreadable_annotation_when_read_then_a_warn_names_it_and_the_others_are_emitted():
    with annotations_fake([*ANNOTATIONS[:2], {"id": "x", "date": "2024-03-02 00:00:00"}, {"id": 60, "date": "2024-13-45 00:00:00"}]) as fake:
        output = run_read(config(fake.url, start_date="2024-01-01"), streams=["annotations"])
    assert [r["id"] for r in stream_records(output, "annotations")] == [51, 52]
    said = " ".join(warnings(output))
    assert "integer id ('x')" in said and "annotation 60 has no readable date" in said


def test_given_a_state_that_is_not_a_date_when_annotations_read_then_a_config_error_shows_the_expected_shape():
    with annotations_fake() as fake:
        output = run_read(config(fake.url), streams=["annotations"], raw_state=states(annotations={"date": "last tuesday"}))
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.config_error}
    assert '{"date": "2024-05-01T00:00:00Z"}' in error_messages(output)[0]


@pytest.mark.parametrize(
    "overrides, base",
    [({}, "https://mixpanel.com"), ({"region": "EU"}, "https://eu.mixpanel.com"), ({"region": "IN"}, "https://in.mixpanel.com")],
    ids=["us", "eu", "in"],
)
def test_given_a_region_when_annotations_read_then_the_request_goes_to_that_query_host_over_verified_tls(monkeypatch, overrides, base):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    cfg = {"credentials": CREDENTIALS["service_account"], "project_id": 4242, "start_date": "2024-01-01", **overrides}
    with requests_mock.Mocker() as mock:
        mock.get(re.compile(r".*/api/app/projects/4242/annotations.*"), json={"status": "ok", "results": ANNOTATIONS[:1]})
        output = run_read(cfg, streams=["annotations"])
        [sent] = mock.request_history
    assert [r["id"] for r in stream_records(output, "annotations")] == [51]
    assert sent.url.startswith(f"{base}/api/app/projects/4242/annotations?") and sent.verify is True
