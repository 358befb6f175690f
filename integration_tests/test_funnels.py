"""`funnels` over real HTTP against the fake Mixpanel: exact records, incremental with the lookback, faults,
a funnel deleted mid-sync, the pacing plan of a year of funnels, regions.

Expected records come from the fake's own numbers (`fake.reports.expected_funnel_records`). Waits are recorded, not slept.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode

from integration_tests.builders import (
    CREDENTIALS,
    FakeSleeps,
    config,
    error_messages,
    infos,
    run_read,
    states,
    stream_records,
    stream_states,
    warnings,
)
from integration_tests.fake_mixpanel import FakeMixpanel

FUNNELS = [{"funnel_id": 7, "name": "Signup", "steps": ["App Open", "Sign up"]},
           {"funnel_id": 8, "name": "Checkout", "steps": ["View", "Cart", "Pay"]}]
START, END = dt.date(2024, 1, 1), dt.date(2024, 2, 14)  # 45 days: windows of 30 + 15


@pytest.fixture
def sleeps(monkeypatch):
    return FakeSleeps().install(monkeypatch)  # the Query API budget's waits go to `pacing`


def funnels_fake(funnels=FUNNELS) -> FakeMixpanel:
    fake = FakeMixpanel()
    fake.reports.funnels = [dict(funnel) for funnel in funnels]
    return fake


def funnels_config(fake, **overrides):
    return config(fake.url, **{"start_date": str(START), "end_date": str(END), "lookback_window_days": 3, **overrides})


def funnel_queries(fake):
    return [(int(r.params["funnel_id"]), r.params["from_date"], r.params["to_date"]) for r in fake.requests if r.path == "/api/2.0/funnels"]


def keys(records):
    return [(record["funnel_id"], record["date"]) for record in records]


@pytest.mark.parametrize("mode", [SyncMode.incremental, SyncMode.full_refresh], ids=["incremental", "full-refresh"])
def test_given_two_funnels_over_45_days_when_read_then_every_funnel_day_once_exactly_as_served_and_a_state_per_window(mode):
    with funnels_fake() as fake:
        output = run_read(funnels_config(fake), streams=["funnels"], sync_mode=mode)
        expected = fake.reports.expected_funnel_records(START, END)
        paths = [request.path for request in fake.requests]
        queries = funnel_queries(fake)
    assert not output.errors
    assert stream_records(output, "funnels") == expected and len(expected) == 90
    assert expected[0]["steps"][1] == {"count": expected[0]["steps"][1]["count"], "step_conv_ratio": expected[0]["steps"][1]["step_conv_ratio"],
                                       "overall_conv_ratio": expected[0]["steps"][1]["overall_conv_ratio"], "avg_time": 30,
                                       "avg_time_from_start": 45, "event": "Sign up", "goal": "Sign up", "step_label": "Sign up"}
    assert paths == ["/api/2.0/funnels/list"] + ["/api/2.0/funnels"] * 4
    assert queries == [(7, "2024-01-01", "2024-01-30"), (7, "2024-01-31", "2024-02-14"), (8, "2024-01-01", "2024-01-30"), (8, "2024-01-31", "2024-02-14")]
    assert stream_states(output, "funnels")[:4] == [{"funnels": {"7": "2024-01-30"}}, {"funnels": {"7": "2024-02-14"}},
                                                    {"funnels": {"7": "2024-02-14", "8": "2024-01-30"}}, {"funnels": {"7": "2024-02-14", "8": "2024-02-14"}}]
    assert any("2 funnel(s), 4 funnel queries" in line and "pacing adds about 0 s" in line for line in infos(output))


def test_given_a_saved_state_when_funnels_read_later_then_the_lookback_days_are_read_again_with_their_late_numbers_and_a_new_funnel_from_start():
    later = END + dt.timedelta(days=4)
    with funnels_fake() as fake:
        first = run_read(funnels_config(fake), streams=["funnels"])
        fake.reports.late[(7, "2024-02-13")] = 25  # late events: the day's numbers change after it was read
        fake.reports.funnels.append({"funnel_id": 9, "name": "New", "steps": ["x"]})
        second = run_read(funnels_config(fake, end_date=str(later)), streams=["funnels"], raw_state=states(funnels=stream_states(first, "funnels")[-1]))
        queries = funnel_queries(fake)[4:]
        expected = {(r["funnel_id"], r["date"]): r for r in fake.reports.expected_funnel_records(START, later)}
    records = stream_records(second, "funnels")
    lookback = [(7, f"2024-02-{day}") for day in range(11, 19)] + [(8, f"2024-02-{day}") for day in range(11, 19)]
    assert keys(records) == lookback + [(9, (START + dt.timedelta(days=offset)).isoformat()) for offset in range((later - START).days + 1)]
    assert records == [expected[key] for key in keys(records)]
    assert records[2]["steps"][0]["count"] == stream_records(first, "funnels")[43]["steps"][0]["count"] + 25  # 2024-02-13, read again
    assert queries == [(7, "2024-02-11", "2024-02-18"), (8, "2024-02-11", "2024-02-18"), (9, "2024-01-01", "2024-01-30"), (9, "2024-01-31", "2024-02-18")]
    assert stream_states(second, "funnels")[-1] == {"funnels": {"7": "2024-02-18", "8": "2024-02-18", "9": "2024-02-18"}}


@pytest.mark.parametrize(
    "kind, options",
    [("status", {"status": 500}), ("status", {"status": 503}), ("status", {"status": 429, "headers": {"Retry-After": "5"}}), ("reset", {}), ("malformed", {})],
    ids=["500", "503", "429", "reset", "not-json"],
)
def test_given_a_funnel_query_fails_twice_when_read_then_the_same_window_is_asked_again_and_every_day_comes_once(sleeps, kind, options):
    with funnels_fake() as fake:
        fake.add_fault("none", times=2)  # funnels/list, funnel 7's first window
        fake.add_fault(kind, times=2, **options)
        output = run_read(funnels_config(fake), streams=["funnels"])
        queries = funnel_queries(fake)
        expected = fake.reports.expected_funnel_records(START, END)
    assert not output.errors
    assert stream_records(output, "funnels") == expected
    assert queries[1:4] == [(7, "2024-01-31", "2024-02-14")] * 3 and len(queries) == 6


def test_given_random_faults_on_every_request_kind_when_funnels_read_then_exactly_the_served_days_come(sleeps):
    import random

    rng = random.Random(20)
    with funnels_fake() as fake:
        for _ in range(12):
            kind = rng.choice(["none", "none", "reset", "malformed", "status"])
            fake.add_fault(kind, **({"status": rng.choice([500, 502, 429])} if kind == "status" else {}))
        output = run_read(funnels_config(fake), streams=["funnels"])
        expected = fake.reports.expected_funnel_records(START, END)
    assert not output.errors
    assert stream_records(output, "funnels") == expected


def test_given_a_funnel_deleted_after_its_first_window_when_read_then_a_warn_names_it_its_other_days_are_skipped_and_the_sync_succeeds():
    with funnels_fake([*FUNNELS, {"funnel_id": 10, "name": "Gone before", "steps": ["x"]}]) as fake:
        fake.reports.delete_after = {8: 1, 10: 0}
        output = run_read(funnels_config(fake), streams=["funnels"])
        queries = funnel_queries(fake)
        expected = fake.reports.expected_funnel_records(START, END)
    assert not output.errors
    assert keys(stream_records(output, "funnels")) == keys(expected[:45] + expected[45:75])  # funnel 7 whole, funnel 8's first window
    said = warnings(output)
    assert len(said) == 2 and "funnel 8 ('Checkout') 2024-01-31..2024-02-14" in said[0] and "Funnel 8 not found" in said[0]
    assert "funnel 10 ('Gone before')" in said[1] and "Skipped" in said[1]
    assert "Stream 'funnels': 75 funnel days from 3 funnel(s); skipped, no longer known to Mixpanel: funnel(s) 8, 10." in infos(output)
    assert queries == [(7, "2024-01-01", "2024-01-30"), (7, "2024-01-31", "2024-02-14"), (8, "2024-01-01", "2024-01-30"),
                       (8, "2024-01-31", "2024-02-14"), (10, "2024-01-01", "2024-01-30")]  # funnel 10's second window is never asked
    assert stream_states(output, "funnels")[-1] == {"funnels": {"7": "2024-02-14", "8": "2024-01-30"}}


def test_given_the_funnel_queries_fail_every_time_when_read_then_a_transient_error_and_the_windows_read_before_keep_their_state(sleeps):
    with funnels_fake() as fake:
        fake.add_fault("none", times=2)
        fake.add_fault("status", times=50, status=502)
        output = run_read(funnels_config(fake), streams=["funnels"])
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.transient_error}
    assert any("funnel 7 ('Signup') 2024-01-31..2024-02-14" in message and "502" in message for message in error_messages(output))
    assert len(stream_records(output, "funnels")) == 30
    assert stream_states(output, "funnels")[0] == {"funnels": {"7": "2024-01-30"}}


def test_given_30_funnels_over_a_year_when_read_then_the_plan_says_its_pacing_up_front_and_the_budget_waits_exactly_that(sleeps):
    funnels = [{"funnel_id": 100 + number, "name": f"F{number}", "steps": ["a", "b"]} for number in range(30)]
    with funnels_fake(funnels) as fake:
        output = run_read(funnels_config(fake, start_date="2023-01-01", end_date="2023-12-31"), streams=["funnels"])
        asked = len(funnel_queries(fake))
    assert not output.errors
    assert len(stream_records(output, "funnels")) == 30 * 365 and asked == 30 * 13  # windows of 30 days: 12 x 30 + 5
    [plan] = [line for line in infos(output) if "funnel queries" in line]
    assert "30 funnel(s), 390 funnel queries" in plan and "pacing adds about 6 h 00 min" in plan  # 391 queries with the list: 60 an hour
    assert abs(sum(sleeps.pacing) - 6 * 3600) < 120  # the clock also moves by the real time the requests take


def test_given_a_state_that_is_not_per_funnel_dates_when_read_then_a_config_error_shows_the_expected_shape():
    with funnels_fake() as fake:
        output = run_read(funnels_config(fake), streams=["funnels"], raw_state=states(funnels={"funnels": {"seven": "yesterday"}}))
    assert {e.trace.error.failure_type for e in output.errors} == {FailureType.config_error}
    assert '{"funnels": {"7": "2024-05-01"}}' in error_messages(output)[0]


@pytest.mark.parametrize(
    "overrides, base",
    [({}, "https://mixpanel.com"), ({"region": "EU"}, "https://eu.mixpanel.com"), ({"region": "IN"}, "https://in.mixpanel.com")],
    ids=["us", "eu", "in"],
)
def test_given_a_region_when_funnels_read_then_every_request_goes_to_that_query_host_over_verified_tls(monkeypatch, overrides, base):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    cfg = {"credentials": CREDENTIALS["service_account"], "project_id": 4242, "start_date": "2024-01-01", "end_date": "2024-01-02", **overrides}
    day = {"steps": [{"count": 3, "step_conv_ratio": 1, "overall_conv_ratio": 1, "event": "a"}], "analysis": {"completion": 3}}
    with requests_mock.Mocker() as mock:
        mock.get(re.compile(r".*/api/2.0/funnels/list.*"), json=[{"funnel_id": 7, "name": "Signup"}])
        mock.get(re.compile(r".*/api/2.0/funnels\?.*"), json={"meta": {"dates": ["2024-01-01", "2024-01-02"]}, "data": {"2024-01-01": day, "2024-01-02": day}})
        output = run_read(cfg, streams=["funnels"])
        sent = [request.url for request in mock.request_history]
    assert keys(stream_records(output, "funnels")) == [(7, "2024-01-01"), (7, "2024-01-02")]
    assert len(sent) == 2 and all(url.startswith(f"{base}/api/2.0/funnels") for url in sent)


def test_given_other_query_streams_in_the_same_sync_when_funnels_plan_then_their_queries_count_in_the_one_budget(sleeps):
    funnels = [{"funnel_id": 500 + number, "name": f"F{number}", "steps": ["a"]} for number in range(59)]
    with funnels_fake(funnels) as fake:
        fake.reports.annotations = [{"id": 1, "date": "2024-01-02 00:00:00"}]
        alone = run_read(funnels_config(fake, end_date="2024-01-05"), streams=["funnels"])
        together = run_read(funnels_config(fake, end_date="2024-01-05"), streams=["annotations", "profiles", "funnels"])
    plan = [[line for line in infos(output) if "funnel queries" in line][0] for output in (alone, together)]
    assert "59 funnel queries" in plan[0] and "pacing adds about 0 s" in plan[0]  # the list and 59: 60 in the hour
    assert "pacing adds about 1 h 00 min" in plan[1]  # annotations and profiles took 2 of the hour's 60
    assert not together.errors and len(stream_records(together, "funnels")) == 59 * 5
